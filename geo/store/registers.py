"""Registers in PostGIS: grid workers and their assignments, compounds, special grids.

Loads are upserts keyed on the register's own identifier, so loading the same ledger
twice changes nothing. The register edits (create, update, delete of compounds and
people) write an audit entry in the same transaction. A compound's grid is the live
grid holding its point on surface, stored in ``compound_location`` and recomputed by
:func:`set_compound_grids`. Functions run in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert

from geo.errors import Conflict, InvalidInput, NotFound
from geo.settings import STORAGE_SRID
from geo.store import audit
from geo.store import boundaries as bstore
from geo.store.db import ewkt
from geo.store.models import (
    AdminUnitVersion,
    Compound,
    CompoundGovernance,
    CompoundLocation,
    GridAssignment,
    GridWorker,
    PatrolTrack,
    PatrolVisit,
    SpecialGrid,
)


def _none(v):
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def upsert_workers(conn: Connection, workers: pd.DataFrame) -> dict[str, int]:
    """Insert/update workers (worker_code, name, role, phone); returns code → id."""
    rows = [
        {"worker_code": r.worker_code, "name": r.name, "role": r.role, "phone": _none(r.phone)}
        for r in workers.itertuples()
    ]
    if rows:
        stmt = insert(GridWorker)
        stmt = stmt.on_conflict_do_update(
            index_elements=[GridWorker.worker_code],
            set_={
                "name": stmt.excluded.name,
                "role": stmt.excluded.role,
                "phone": stmt.excluded.phone,
            },
        )
        conn.execute(stmt, rows)
    return dict(conn.execute(select(GridWorker.worker_code, GridWorker.id)).all())


def assign_workers(conn: Connection, assignments: list[dict]) -> int:
    """Open assignments (worker_id, unit_id, role) that are not open yet."""
    if not assignments:
        return 0
    stmt = (
        insert(GridAssignment)
        .on_conflict_do_nothing(
            index_elements=["worker_id", "unit_id", "role"], index_where=text("valid_to IS NULL")
        )
        .returning(GridAssignment.id)  # rowcount is not reliable for batched inserts
    )
    return len(conn.execute(stmt, assignments).all())


def upsert_compounds(conn: Connection, compounds: gpd.GeoDataFrame) -> int:
    """Insert/update compounds keyed on ``source_key``."""
    cols = [
        "name",
        "address",
        "households",
        "buildings",
        "year_built",
        "management_type",
        "governance_status",
    ]
    rows = []
    for r in compounds.itertuples():
        row = {c: _none(getattr(r, c, None)) for c in cols}
        for c in ("households", "buildings", "year_built"):
            row[c] = None if row[c] is None else int(row[c])
        row["source_key"] = r.source_key
        row["geom"] = ewkt(r.geometry)
        rows.append(row)
    if not rows:
        return 0
    stmt = insert(Compound)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Compound.source_key],
        set_={c: getattr(stmt.excluded, c) for c in [*cols, "geom"]},
    ).returning(Compound.id)
    return len(conn.execute(stmt, rows).all())


def upsert_special_grids(conn: Connection, grids: gpd.GeoDataFrame, author: str) -> int:
    """Insert special grids whose code is not live yet; live ones are left as they are."""
    rows = [
        {
            "code": r.code,
            "name": r.name,
            "kind": r.kind,
            "responsible_unit": r.responsible_unit,
            "contact_name": _none(getattr(r, "contact_name", None)),
            "contact_phone": _none(getattr(r, "contact_phone", None)),
            "geom": ewkt(r.geometry),
            "author": author,
        }
        for r in grids.itertuples()
    ]
    if not rows:
        return 0
    stmt = (
        insert(SpecialGrid)
        .on_conflict_do_nothing(index_elements=["code"], index_where=text("valid_to IS NULL"))
        .returning(SpecialGrid.id)
    )
    return len(conn.execute(stmt, rows).all())


def live_people(conn: Connection) -> pd.DataFrame:
    """Open assignments with the person: unit_id, role, worker_code, name, phone."""
    rows = conn.execute(
        select(
            GridAssignment.unit_id,
            GridAssignment.role,
            GridWorker.worker_code,
            GridWorker.name,
            GridWorker.phone,
        )
        .join(GridWorker, GridWorker.id == GridAssignment.worker_id)
        .where(GridAssignment.valid_to.is_(None))
        .order_by(GridAssignment.unit_id, GridWorker.worker_code)
    ).all()
    return pd.DataFrame(rows, columns=["unit_id", "role", "worker_code", "name", "phone"])


def special_grids_frame(conn: Connection, at=None) -> gpd.GeoDataFrame:
    """Special grids in force now (or at ``at``) as a GeoDataFrame in EPSG:4326."""
    sg = SpecialGrid
    cond = (
        sg.valid_to.is_(None)
        if at is None
        else (sg.valid_from <= at) & or_(sg.valid_to.is_(None), sg.valid_to > at)
    )
    rows = (
        conn.execute(
            select(
                sg.id,
                sg.code,
                sg.name,
                sg.kind,
                sg.responsible_unit,
                sg.contact_name,
                sg.contact_phone,
                gf.ST_AsBinary(sg.geom).label("wkb"),
            )
            .where(cond)
            .order_by(sg.code)
        )
        .mappings()
        .all()
    )
    cols = ["id", "code", "name", "kind", "responsible_unit", "contact_name", "contact_phone"]
    return gpd.GeoDataFrame(
        [{c: r[c] for c in cols} for r in rows] or None,
        columns=cols,
        geometry=list(shapely.from_wkb([bytes(r["wkb"]) for r in rows])) if rows else [],
        crs=f"EPSG:{STORAGE_SRID}",
    )


def compounds_frame(conn: Connection) -> gpd.GeoDataFrame:
    """All compounds as a GeoDataFrame in EPSG:4326 (polygons or points)."""
    c = Compound
    rows = (
        conn.execute(
            select(
                c.id,
                c.source_key,
                c.name,
                c.address,
                c.households,
                c.buildings,
                c.year_built,
                c.management_type,
                c.governance_status,
                gf.ST_AsBinary(c.geom).label("wkb"),
            ).order_by(c.id)
        )
        .mappings()
        .all()
    )
    cols = [
        "id",
        "source_key",
        "name",
        "address",
        "households",
        "buildings",
        "year_built",
        "management_type",
        "governance_status",
    ]
    return gpd.GeoDataFrame(
        [{k: r[k] for k in cols} for r in rows] or None,
        columns=cols,
        geometry=list(shapely.from_wkb([bytes(r["wkb"]) for r in rows])) if rows else [],
        crs=f"EPSG:{STORAGE_SRID}",
    )


def worker_ids(conn: Connection) -> dict[str, int]:
    """Worker code → id for everyone in the register."""
    return dict(conn.execute(select(GridWorker.worker_code, GridWorker.id)).all())


# --- register edits: compounds and people, every change audited ----------------------
COMPOUND_FIELDS = ("name", "address", "households", "buildings", "year_built", "management_type")


def _live(v=AdminUnitVersion):
    return and_(v.valid_from.is_not(None), v.valid_to.is_(None))


def unit_ids_for_codes(conn: Connection, codes: list[str]) -> dict[str, int]:
    """Live unit code → unit id; unknown codes raise NotFound."""
    v = AdminUnitVersion
    found = dict(conn.execute(select(v.code, v.unit_id).where(_live(), v.code.in_(codes))).all())
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(
            f"no live unit with code {', '.join(missing)}",
            f"不存在编码为 {'、'.join(missing)} 的单元",
        )
    return found


def compound_ids_in_units(unit_ids: list[int]):
    """Select of compound ids whose point on surface lies in one of the live units."""
    v = AdminUnitVersion
    return (
        select(Compound.id)
        .join(v, gf.ST_Covers(v.geom, gf.ST_PointOnSurface(Compound.geom)))
        .where(_live(v), v.unit_id.in_(unit_ids))
    )


def units_within(conn: Connection, unit_ids: list[int]) -> set[int]:
    """The live units and every live unit below them (a street → its communities, grids)."""
    v = AdminUnitVersion
    rows = conn.execute(select(v.unit_id, v.parent_unit_id).where(_live(v))).all()
    children: dict[int, list[int]] = {}
    for uid, parent in rows:
        children.setdefault(parent, []).append(uid)
    out, todo = set(), list(unit_ids)
    while todo:
        u = todo.pop()
        if u not in out:
            out.add(u)
            todo.extend(children.get(u, []))
    return out


def set_compound_grids(conn: Connection, compound_ids: list[int] | None = None) -> int:
    """Recompute the grid each compound falls in (its point on surface, live grids).

    ``None``: every compound, e.g. after new boundaries were published. Compounds
    loaded from map data get a location row saying so. Returns the rows touched.
    """
    if compound_ids is not None and not compound_ids:
        return 0
    v = AdminUnitVersion
    grid = (
        select(v.unit_id)
        .where(
            _live(v),
            v.level == "grid",
            gf.ST_Covers(v.geom, gf.ST_PointOnSurface(Compound.geom)),
        )
        .order_by(v.code)
        .limit(1)
        .scalar_subquery()
    )
    src = select(Compound.id, func.coalesce(CompoundLocation.located_by, "map"), grid).outerjoin(
        CompoundLocation, CompoundLocation.compound_id == Compound.id
    )
    if compound_ids is not None:
        src = src.where(Compound.id.in_(compound_ids))
    stmt = insert(CompoundLocation).from_select(["compound_id", "located_by", "grid_unit_id"], src)
    stmt = stmt.on_conflict_do_update(
        index_elements=["compound_id"],
        set_={"grid_unit_id": stmt.excluded.grid_unit_id},
        where=CompoundLocation.grid_unit_id.is_distinct_from(stmt.excluded.grid_unit_id),
    ).returning(CompoundLocation.compound_id)
    return len(conn.execute(stmt).all())


def _compound_select():
    c, loc, v = Compound, CompoundLocation, AdminUnitVersion
    return (
        select(
            c.id,
            c.source_key,
            *(getattr(c, f) for f in COMPOUND_FIELDS),
            c.governance_status,
            gf.ST_X(gf.ST_PointOnSurface(c.geom)).label("lon"),
            gf.ST_Y(gf.ST_PointOnSurface(c.geom)).label("lat"),
            gf.GeometryType(c.geom).label("geometry_type"),
            loc.located_by,
            loc.match_score,
            loc.matched,
            loc.grid_unit_id,
            v.code.label("grid_code"),
            v.name.label("grid_name"),
        )
        .outerjoin(loc, loc.compound_id == c.id)
        .outerjoin(v, (v.unit_id == loc.grid_unit_id) & _live(v))
    )


def get_compound(conn: Connection, compound_id: int) -> dict:
    row = conn.execute(_compound_select().where(Compound.id == compound_id)).mappings().first()
    if row is None:
        raise NotFound(f"no compound {compound_id}", f"小区（楼院）{compound_id} 不存在")
    return dict(row)


def list_compounds(
    conn: Connection,
    *,
    q: str | None = None,
    unit_ids: list[int] | None = None,
    management_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    """Compounds by name/address text, inside units, of one management type."""
    stmt = _compound_select()
    if q:
        like = f"%{q}%"
        stmt = stmt.where(Compound.name.ilike(like) | Compound.address.ilike(like))
    if unit_ids is not None:
        stmt = stmt.where(Compound.id.in_(compound_ids_in_units(unit_ids)))
    if management_type:
        stmt = stmt.where(Compound.management_type == management_type)
    rows = conn.execute(stmt.order_by(Compound.id).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows]


def check_inside(conn: Connection, lon: float, lat: float) -> None:
    district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
    if not district.is_empty and not shapely.covers(district, shapely.Point(lon, lat)):
        raise InvalidInput(
            f"({lon}, {lat}) lies outside the district; check lon/lat order and the CRS",
            f"坐标 ({lon}, {lat}) 不在本区内；请检查经纬度顺序和坐标系",
        )


def create_compound(
    conn: Connection, fields: dict, lon: float, lat: float, *, actor: str, key: str | None = None
) -> int:
    """A compound placed by hand at WGS-84 ``lon, lat``; audited."""
    check_inside(conn, lon, lat)
    key = key or f"api:{datetime.now():%Y%m%d%H%M%S%f}"
    if conn.execute(select(Compound.id).where(Compound.source_key == key)).first():
        raise Conflict(f"compound key {key!r} exists", f"编号 {key!r} 已存在")
    status = fields.pop("governance_status", None) or _default_status(fields["management_type"])
    cid = conn.execute(
        insert(Compound)
        .values(
            source_key=key, governance_status=status, geom=ewkt(shapely.Point(lon, lat)), **fields
        )
        .returning(Compound.id)
    ).scalar_one()
    conn.execute(insert(CompoundLocation).values(compound_id=cid, located_by="manual"))
    set_compound_grids(conn, [cid])
    audit.record(
        conn,
        actor=actor,
        action="compound.create",
        entity="compound",
        ref=str(cid),
        detail={**fields, "key": key, "lon": lon, "lat": lat, "crs": "wgs84"},
    )
    return cid


def _default_status(management_type: str) -> str:
    return {"property_company": "professional", "unit": "unit_managed"}.get(
        management_type, "self_governed" if management_type == "self_governed" else "none"
    )


def update_compound(
    conn: Connection,
    compound_id: int,
    changes: dict,
    *,
    actor: str,
    lon: float | None = None,
    lat: float | None = None,
    reason: str | None = None,
) -> None:
    """Change fields and/or move the compound to a point (placed by hand); audited."""
    before = get_compound(conn, compound_id)
    values = dict(changes)
    if lon is not None and lat is not None:
        check_inside(conn, lon, lat)
        values["geom"] = ewkt(shapely.Point(lon, lat))
    if values:
        conn.execute(update(Compound).where(Compound.id == compound_id).values(**values))
    if "geom" in values:
        stmt = insert(CompoundLocation).values(compound_id=compound_id, located_by="manual")
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["compound_id"],
                set_={"located_by": "manual", "crs_in": None, "match_score": None, "matched": None},
            )
        )
        set_compound_grids(conn, [compound_id])
    detail = {k: {"from": before.get(k), "to": v} for k, v in changes.items()}
    if "geom" in values:
        detail["location"] = {
            "from": [before["lon"], before["lat"]],
            "to": [lon, lat],
            "crs": "wgs84",
        }
    audit.record(
        conn,
        actor=actor,
        action="compound.update",
        entity="compound",
        ref=str(compound_id),
        reason=reason,
        detail=detail,
    )


def delete_compound(conn: Connection, compound_id: int, *, actor: str, reason: str | None) -> None:
    before = get_compound(conn, compound_id)
    conn.execute(delete(CompoundGovernance).where(CompoundGovernance.compound_id == compound_id))
    conn.execute(delete(CompoundLocation).where(CompoundLocation.compound_id == compound_id))
    conn.execute(delete(Compound).where(Compound.id == compound_id))
    keep = ("source_key", "name", "address", "management_type", "lon", "lat")
    audit.record(
        conn,
        actor=actor,
        action="compound.delete",
        entity="compound",
        ref=str(compound_id),
        reason=reason,
        detail={k: before[k] for k in keep},
    )


# --- people ------------------------------------------------------------------------


def list_workers(
    conn: Connection,
    *,
    q: str | None = None,
    unit_ids: list[int] | None = None,
    code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    """People with their open assignments (``units``: code, name, level, role)."""
    w, a, v = GridWorker, GridAssignment, AdminUnitVersion
    stmt = select(w.id, w.worker_code, w.name, w.role, w.phone)
    if q:
        stmt = stmt.where(w.name.ilike(f"%{q}%") | w.worker_code.ilike(f"%{q}%"))
    if code:
        stmt = stmt.where(w.worker_code == code)
    if unit_ids is not None:
        inside = units_within(conn, unit_ids)
        stmt = stmt.where(
            w.id.in_(select(a.worker_id).where(a.valid_to.is_(None), a.unit_id.in_(inside)))
        )
    people = [
        dict(r)
        for r in conn.execute(stmt.order_by(w.worker_code).limit(limit).offset(offset)).mappings()
    ]
    ids = [p["id"] for p in people]
    units: dict[int, list[dict]] = {}
    if ids:
        for r in conn.execute(
            select(a.worker_id, a.role, v.unit_id, v.code, v.name, v.level)
            .join(v, (v.unit_id == a.unit_id) & _live(v))
            .where(a.worker_id.in_(ids), a.valid_to.is_(None))
            .order_by(v.code)
        ).mappings():
            units.setdefault(r["worker_id"], []).append(
                {k: r[k] for k in ("unit_id", "code", "name", "level", "role")}
            )
    for p in people:
        p["units"] = units.get(p["id"], [])
    return people


def get_worker(conn: Connection, code: str) -> dict:
    found = list_workers(conn, code=code, limit=1)
    if not found:
        raise NotFound(f"no person with code {code!r}", f"人员编号 {code!r} 不存在")
    return found[0]


def delete_worker(conn: Connection, code: str, *, actor: str, reason: str | None) -> None:
    """Close the person's assignments and remove them; refused if they have patrol tracks
    or patrol visits (which stay after their raw tracks are purged)."""
    person = get_worker(conn, code)
    tracks = conn.execute(
        select(func.count()).where(PatrolTrack.worker_id == person["id"])
    ).scalar_one()
    visited = conn.execute(
        select(PatrolVisit.worker_id).where(PatrolVisit.worker_id == person["id"]).limit(1)
    ).first()
    if tracks or visited:
        raise Conflict(
            f"{code} has patrol records ({tracks} tracks kept); close their assignments "
            "instead of deleting",
            f"{code} 有巡查记录（保留轨迹 {tracks} 条），不能删除；请改为解除其网格分配",
        )
    conn.execute(delete(GridAssignment).where(GridAssignment.worker_id == person["id"]))
    conn.execute(delete(GridWorker).where(GridWorker.id == person["id"]))
    audit.record(
        conn,
        actor=actor,
        action="worker.delete",
        entity="worker",
        ref=code,
        reason=reason,
        detail={"name": person["name"], "units": [u["code"] for u in person["units"]]},
    )


def set_worker(
    conn: Connection, code: str, name: str, role: str, phone: str | None, unit_ids: list[int]
) -> int:
    """Upsert a person and make their open assignments of ``role`` exactly ``unit_ids``."""
    w, a = GridWorker, GridAssignment
    values = {"name": name, "role": role, "phone": phone}
    stmt = insert(w).values(worker_code=code, **values)
    wid = conn.execute(
        stmt.on_conflict_do_update(index_elements=["worker_code"], set_=values).returning(w.id)
    ).scalar_one()
    current = set(
        conn.execute(
            select(a.unit_id).where(a.worker_id == wid, a.role == role, a.valid_to.is_(None))
        ).scalars()
    )
    stale = current - set(unit_ids)
    if stale:
        # clock_timestamp: later than now(), the start of a same-transaction assignment.
        conn.execute(
            update(a)
            .where(a.worker_id == wid, a.role == role, a.valid_to.is_(None), a.unit_id.in_(stale))
            .values(valid_to=func.clock_timestamp())
        )
    fresh = [u for u in dict.fromkeys(unit_ids) if u not in current]
    if fresh:
        conn.execute(insert(a), [{"worker_id": wid, "unit_id": u, "role": role} for u in fresh])
    return wid


def put_worker(
    conn: Connection,
    code: str,
    *,
    name: str,
    role: str,
    phone: str | None,
    unit_codes: list[str],
    actor: str,
    reason: str | None = None,
) -> None:
    """Create or replace a person and the units they serve; audited with before/after."""
    ids = unit_ids_for_codes(conn, unit_codes) if unit_codes else {}
    try:
        before = get_worker(conn, code)
    except NotFound:
        before = None
    set_worker(conn, code, name, role, phone, [ids[c] for c in unit_codes])
    old = None
    if before is not None:
        units = [u["code"] for u in before["units"]]
        old = {"name": before["name"], "role": before["role"], "units": units}
    audit.record(
        conn,
        actor=actor,
        action="worker.create" if before is None else "worker.update",
        entity="worker",
        ref=code,
        reason=reason,
        detail={"from": old, "to": {"name": name, "role": role, "units": unit_codes}},
    )
