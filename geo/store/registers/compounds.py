"""Compounds (小区、楼院) in PostGIS: read, search, edits (every one audited), the grid
each compound falls in, and the rows a ledger import or export reads and writes.

A compound's grid is the live grid holding its point on surface, stored in
``compound_location`` and recomputed by :func:`set_compound_grids`. Functions run in
the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import geopandas as gpd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from geo.errors import Conflict, InvalidInput, NotFound
from geo.registers.compounds import GOVERNANCE_FIELDS, REGISTER_FIELDS
from geo.registers.records import CompoundRecord
from geo.settings import STORAGE_SRID
from geo.store import audit
from geo.store import boundaries as bstore
from geo.store.db import ewkt
from geo.store.models import (
    AdminUnitVersion,
    Compound,
    CompoundGovernance,
    CompoundLocation,
)
from geo.store.registers.units import live

#: The fields an edit or a ledger row may change.
COMPOUND_FIELDS = REGISTER_FIELDS


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


def compound_ids_in_units(unit_ids: list[int]) -> Select[int]:
    """Select of compound ids whose point on surface lies in one of the live units."""
    v = AdminUnitVersion
    return (
        select(Compound.id)
        .join(v, gf.ST_Covers(v.geom, gf.ST_PointOnSurface(Compound.geom)))
        .where(live(v), v.unit_id.in_(unit_ids))
    )


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
            live(v),
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
    upsert = stmt.on_conflict_do_update(
        index_elements=["compound_id"],
        set_={"grid_unit_id": stmt.excluded.grid_unit_id},
        where=CompoundLocation.grid_unit_id.is_distinct_from(stmt.excluded.grid_unit_id),
    ).returning(CompoundLocation.compound_id)
    return len(conn.execute(upsert).all())


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
        .outerjoin(v, (v.unit_id == loc.grid_unit_id) & live(v))
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
    conn: Connection,
    fields: dict,
    lon: float,
    lat: float,
    *,
    actor: audit.Who,
    key: str | None = None,
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
    actor: audit.Who,
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


def delete_compound(
    conn: Connection, compound_id: int, *, actor: audit.Who, reason: str | None
) -> None:
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


# --- what a ledger import or export reads and writes --------------------------------


def stored_by_key(conn: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
    """The compounds with these keys as an import compares them: register fields,
    shape, how they were located and their campaign record (``gov_id`` None if none)."""
    c, loc, gov = Compound, CompoundLocation, CompoundGovernance
    rows = conn.execute(
        select(
            c.id,
            c.source_key,
            *(getattr(c, f) for f in COMPOUND_FIELDS),
            c.governance_status,
            gf.ST_AsBinary(c.geom).label("wkb"),
            loc.located_by,
            loc.crs_in,
            loc.match_score,
            loc.matched,
            gov.compound_id.label("gov_id"),
            *(getattr(gov, f) for f in GOVERNANCE_FIELDS),
        )
        .outerjoin(loc, loc.compound_id == c.id)
        .outerjoin(gov, gov.compound_id == c.id)
        .where(c.source_key.in_(keys))
    ).mappings()
    out = {}
    for r in rows:
        d = dict(r)
        d["geom"] = shapely.from_wkb(bytes(d.pop("wkb")))
        if d["struck_off_on"] is not None:
            d["struck_off_on"] = d["struck_off_on"].isoformat()
        out[d["source_key"]] = d
    return out


def write_record(
    conn: Connection, rec: CompoundRecord, governance_status: str, compound_id: int | None
) -> int:
    """Insert (``compound_id`` None) or update a compound from a ledger record, with how
    it was located when the record says; returns its id. No audit: the import audits."""
    values: dict[str, Any] = {f: getattr(rec, f) for f in COMPOUND_FIELDS}
    values["governance_status"] = governance_status
    if rec.lon is not None:
        values["geom"] = ewkt(shapely.Point(rec.lon, rec.lat))
    if compound_id is None:
        cid = conn.execute(
            insert(Compound).values(source_key=rec.key, **values).returning(Compound.id)
        ).scalar_one()
    else:
        cid = compound_id
        conn.execute(update(Compound).where(Compound.id == cid).values(**values))
    if rec.located_by is not None:
        loc = {
            "located_by": rec.located_by,
            "crs_in": rec.crs_in,
            "match_score": rec.match_score,
            "matched": rec.matched,
        }
        stmt = insert(CompoundLocation).values(compound_id=cid, **loc)
        conn.execute(stmt.on_conflict_do_update(index_elements=["compound_id"], set_=loc))
    return cid


def export_rows(conn: Connection, unit_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Every compound (inside ``unit_ids`` if given) with its shape as WKB (``wkb``), how
    it was located and its campaign record's fields, in id order."""
    c, loc, gov = Compound, CompoundLocation, CompoundGovernance
    stmt = (
        select(
            c.id,
            c.source_key.label("key"),
            *(getattr(c, f) for f in COMPOUND_FIELDS),
            gf.ST_AsBinary(c.geom).label("wkb"),
            loc.located_by,
            loc.match_score,
            gov.compound_id.label("gov_id"),
            *(getattr(gov, f) for f in GOVERNANCE_FIELDS),
        )
        .outerjoin(loc, loc.compound_id == c.id)
        .outerjoin(gov, gov.compound_id == c.id)
        .order_by(c.id)
    )
    if unit_ids is not None:
        stmt = stmt.where(c.id.in_(compound_ids_in_units(unit_ids)))
    return [dict(r) for r in conn.execute(stmt).mappings()]
