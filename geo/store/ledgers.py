"""Ledger imports and exports against the registers: diff, write all or nothing, audit.

An import compares every parsed row with what the register holds under the row's
stable key and says per row ``new``, ``changed`` or ``unchanged``; it writes only
with ``commit=True`` and only when no row is fatal, so a ledger lands whole or not
at all, and importing the same ledger again changes nothing. Rows without
coordinates keep a location the register already has (placed by address earlier, or
by hand), so re-importing never undoes a manual placement. Functions run in the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.crs import from_wgs84
from geo.errors import InvalidInput, NotFound
from geo.registers import ledger as L
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
    LedgerUnplaced,
    SpecialGrid,
)
from geo.store.registers import (
    compound_ids_in_units,
    set_compound_grids,
    set_worker,
    special_grids_frame,
    units_within,
)

# Two points closer than this (degrees, ~1 mm) are the same location.
SAME_POINT_DEG = 1e-8
_FIELDS = ("name", "address", "households", "buildings", "year_built", "management_type")
_GOV = ("issues", "mode", "committee_formed", "works", "struck_off_on", "verified_by")
_EMPTY_GOV = {
    "issues": [],
    "mode": None,
    "committee_formed": False,
    "works": [],
    "struck_off_on": None,
    "verified_by": None,
}


@dataclass
class ImportOutcome:
    """Per-row report and totals of one ledger import (dry run or commit)."""

    kind: str
    rows: list[L.RowReport]
    committed: bool
    columns: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
            if r.action:
                out[r.action] = out.get(r.action, 0) + 1
        return out

    @property
    def changed(self) -> bool:
        return any(r.action in ("new", "changed") for r in self.rows)


def _refuse_if_fatal(reports: list[L.RowReport], commit: bool) -> None:
    fatal = [r for r in reports if r.status == "fatal"]
    if commit and fatal:
        raise InvalidInput(
            f"{len(fatal)} row(s) cannot be imported; nothing was written. Fix them and "
            "import again (rows: " + ", ".join(str(r.row) for r in fatal[:20]) + ")",
            f"{len(fatal)} 行无法导入，未写入任何数据。请修改后重新导入（行："
            + "、".join(str(r.row) for r in fatal[:20])
            + "）",
            rows=[r.as_dict() for r in reports],
        )


# --- compounds ---------------------------------------------------------------------


def _existing_compounds(conn: Connection, keys: list[str]) -> dict[str, dict]:
    c, loc, gov = Compound, CompoundLocation, CompoundGovernance
    rows = conn.execute(
        select(
            c.id,
            c.source_key,
            *(getattr(c, f) for f in _FIELDS),
            c.governance_status,
            gf.ST_AsBinary(c.geom).label("wkb"),
            loc.located_by,
            loc.crs_in,
            loc.match_score,
            loc.matched,
            gov.compound_id.label("gov_id"),
            *(getattr(gov, f) for f in _GOV),
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


def _location(d: dict) -> tuple:
    return (d.get("located_by"), d.get("crs_in"), d.get("match_score"), d.get("matched"))


def import_compounds(
    conn: Connection,
    table: L.LedgerTable,
    *,
    search: Callable[[str], list] | None,
    actor: str,
    ledger_name: str,
    commit: bool = False,
    default_crs: str | None = None,
    default_management: str | None = None,
    min_score: float = L.MIN_SCORE,
) -> ImportOutcome:
    """Import a compounds ledger (dry run unless ``commit``).

    Parameters
    ----------
    search
        The forward geocoder (text → candidates, best first) for rows with only an
        address; None leaves such rows unlocatable.
    commit
        Write the changes; refused (``InvalidInput`` carrying the report) when any row
        is fatal, and then nothing is written.
    """
    district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
    records, reports = L.parse_compounds(
        table,
        default_crs=default_crs,
        default_management=default_management,
        district=None if district.is_empty else district,
    )
    by_row = {r.row: r for r in reports}
    existing = _existing_compounds(conn, [r.key for r in records])
    to_locate = []
    for rec in records:
        old = existing.get(rec.key)
        if old is None:
            if rec.lon is None:
                to_locate.append(rec)
            continue
        stored = shapely.point_on_surface(old["geom"])
        same = rec.lon is not None and (
            abs(stored.x - rec.lon) < SAME_POINT_DEG and abs(stored.y - rec.lat) < SAME_POINT_DEG
        )
        if rec.lon is None or same:
            # Keep the stored shape and how it was located (address, by hand, map).
            if rec.lon is None:
                by_row[rec.row].reason = "no coordinates: the stored location is kept"
                by_row[rec.row].reason_zh = "未填坐标：保留已有位置"
            rec.lon, rec.lat = None, None
            rec.located_by, rec.crs_in = old["located_by"], old["crs_in"]
            rec.match_score, rec.matched = old["match_score"], old["matched"]
    if to_locate:
        if search is None:
            for rec in to_locate:
                by_row[rec.row].status = "unlocatable"
                by_row[rec.row].reason = "no coordinates and no geocoder to place the address"
                by_row[rec.row].reason_zh = "无坐标，且无法按地址定位"
        else:
            L.locate(to_locate, search, by_row, min_score=min_score)
    unplaced_keys = {rec.key for rec in to_locate if rec.lon is None}
    stored_unplaced = dict(
        conn.execute(
            select(LedgerUnplaced.source_key, LedgerUnplaced.record).where(
                LedgerUnplaced.source_key.in_([r.key for r in records])
            )
        ).all()
    )
    plan = []
    for rec in records:
        report = by_row[rec.row]
        old = existing.get(rec.key)
        if rec.key in unplaced_keys:
            before = stored_unplaced.get(rec.key)
            report.action = "new" if before is None else _same(before, rec.as_json())
            plan.append(("unplaced", rec, old))
            continue
        if old is None:
            report.action = "new"
        else:
            report.action = "unchanged" if _unchanged(rec, old) else "changed"
        plan.append(("compound", rec, old))
    outcome = ImportOutcome("compounds", reports, False, table.columns, table.ignored)
    _refuse_if_fatal(reports, commit)
    if not commit:
        return outcome
    written = []
    for what, rec, old in plan:
        if by_row[rec.row].action == "unchanged":
            continue
        if what == "unplaced":
            _put_unplaced(conn, rec, ledger_name)
        else:
            written.append(_write_compound(conn, rec, old, actor))
    placed = [rec.key for what, rec, _ in plan if what == "compound"]
    if placed:
        conn.execute(delete(LedgerUnplaced).where(LedgerUnplaced.source_key.in_(placed)))
    set_compound_grids(conn, written)
    outcome.committed = True
    _audit_import(conn, outcome, reports, actor=actor, entity="compound", ledger=ledger_name)
    return outcome


def _audit_import(conn, outcome, reports, *, actor: str, entity: str, ledger: str) -> None:
    """One audit entry for an import that changed something: counts and changed keys."""
    if outcome.changed:
        outcome.audit_id = audit.record(
            conn,
            actor=actor,
            action="ledger.import",
            entity=entity,
            ref=ledger,
            detail={
                "counts": outcome.counts,
                "changed": [r.key for r in reports if r.action in ("new", "changed")][:500],
            },
        )


def _same(before: dict, after: dict) -> str:
    return "unchanged" if before == after else "changed"


def _governance(rec: L.CompoundRecord, old: dict | None) -> dict | None:
    """The campaign record to store, or None to leave it as it is."""
    if rec.campaign is None:
        return None
    if (old is None or old.get("gov_id") is None) and rec.campaign == _EMPTY_GOV:
        return None
    return rec.campaign


def _status(rec: L.CompoundRecord, old: dict | None) -> str:
    if (
        old is not None
        and rec.management_type == old["management_type"] == "unowned"
        and _governance(rec, old) is None
    ):
        return old["governance_status"]  # the ledger says nothing new about the campaign
    return rec.governance_status


def _unchanged(rec: L.CompoundRecord, old: dict) -> bool:
    if any(getattr(rec, f) != old[f] for f in _FIELDS):
        return False
    if _status(rec, old) != old["governance_status"]:
        return False
    if rec.lon is not None:
        return False  # a new point (same points were turned into None above)
    if _location(rec.__dict__) != _location(old):
        return False
    gov = _governance(rec, old)
    return gov is None or gov == {f: old[f] for f in _GOV}


def _write_compound(conn: Connection, rec: L.CompoundRecord, old: dict | None, actor: str) -> int:
    values = {f: getattr(rec, f) for f in _FIELDS}
    values["governance_status"] = _status(rec, old)
    if rec.lon is not None:
        values["geom"] = ewkt(shapely.Point(rec.lon, rec.lat))
    if old is None:
        cid = conn.execute(
            insert(Compound).values(source_key=rec.key, **values).returning(Compound.id)
        ).scalar_one()
    else:
        cid = old["id"]
        conn.execute(update(Compound).where(Compound.id == cid).values(**values))
    if rec.located_by is not None:
        loc = {
            "located_by": rec.located_by,
            "crs_in": rec.crs_in,
            "match_score": rec.match_score,
            "matched": rec.matched,
        }
        stmt = pg_insert(CompoundLocation).values(compound_id=cid, **loc)
        conn.execute(stmt.on_conflict_do_update(index_elements=["compound_id"], set_=loc))
    gov = _governance(rec, old)
    if gov is not None:
        put_governance_row(conn, cid, gov, actor)
    return cid


def put_governance_row(conn: Connection, compound_id: int, gov: dict, actor: str) -> None:
    """Insert or replace the campaign record of one compound."""
    values = {f: gov.get(f, _EMPTY_GOV[f]) for f in _GOV}
    if isinstance(values["struck_off_on"], str):
        values["struck_off_on"] = date.fromisoformat(values["struck_off_on"])
    values["updated_by"] = actor
    stmt = pg_insert(CompoundGovernance).values(compound_id=compound_id, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["compound_id"], set_={**values, "updated_at": func.now()}
        )
    )


def _put_unplaced(conn: Connection, rec: L.CompoundRecord, ledger_name: str) -> None:
    values = {
        "name": rec.name,
        "address": rec.address,
        "record": rec.as_json(),
        "ledger": ledger_name,
        "reason": "unlocatable",
    }
    stmt = pg_insert(LedgerUnplaced).values(source_key=rec.key, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source_key"], set_=values))


def unplaced(conn: Connection) -> list[dict]:
    """Ledger rows waiting to be placed by hand."""
    u = LedgerUnplaced
    rows = conn.execute(
        select(u.id, u.source_key, u.name, u.address, u.ledger, u.reason, u.created_at).order_by(
            u.id
        )
    ).mappings()
    return [dict(r) for r in rows]


def place_unplaced(conn: Connection, unplaced_id: int, lon: float, lat: float, actor: str) -> int:
    """Create the compound of an unplaced row at WGS-84 ``lon, lat``; returns its id."""
    row = conn.execute(
        select(LedgerUnplaced.source_key, LedgerUnplaced.record).where(
            LedgerUnplaced.id == unplaced_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no unplaced ledger row {unplaced_id}", f"待落点记录 {unplaced_id} 不存在")
    rec = L.CompoundRecord(**row.record)
    rec.lon, rec.lat, rec.located_by, rec.crs_in = lon, lat, "manual", None
    rec.match_score = rec.matched = None
    cid = _write_compound(conn, rec, None, actor)
    conn.execute(delete(LedgerUnplaced).where(LedgerUnplaced.id == unplaced_id))
    set_compound_grids(conn, [cid])
    audit.record(
        conn,
        actor=actor,
        action="compound.place",
        entity="compound",
        ref=rec.key,
        detail={"lon": lon, "lat": lat, "crs": "wgs84", "compound_id": cid},
    )
    return cid


# --- workers -----------------------------------------------------------------------


def import_workers(
    conn: Connection,
    table: L.LedgerTable,
    *,
    actor: str,
    ledger_name: str,
    commit: bool = False,
) -> ImportOutcome:
    """Import a workers ledger: people by their code, and their open assignments.

    A person's open assignments of their role become exactly the units the ledger
    lists: missing ones are opened, others closed (history is kept).
    """
    units = bstore.units_frame(conn)
    records, reports = L.parse_workers(table, units)
    by_row = {r.row: r for r in reports}
    w, a = GridWorker, GridAssignment
    old = {
        r.worker_code: dict(r)
        for r in conn.execute(
            select(w.id, w.worker_code, w.name, w.role, w.phone).where(
                w.worker_code.in_([r.key for r in records])
            )
        ).mappings()
    }
    open_units: dict[tuple[int, str], set[int]] = {}
    if old:
        for wid, uid, role in conn.execute(
            select(a.worker_id, a.unit_id, a.role).where(
                a.worker_id.in_([o["id"] for o in old.values()]), a.valid_to.is_(None)
            )
        ).all():
            open_units.setdefault((wid, role), set()).add(uid)
    for rec in records:
        o = old.get(rec.key)
        if o is None:
            by_row[rec.row].action = "new"
            continue
        same = (o["name"], o["role"], o["phone"]) == (rec.name, rec.role, rec.phone)
        same = same and open_units.get((o["id"], rec.role), set()) == set(rec.unit_ids)
        by_row[rec.row].action = "unchanged" if same else "changed"
    outcome = ImportOutcome("workers", reports, False, table.columns, table.ignored)
    _refuse_if_fatal(reports, commit)
    if not commit:
        return outcome
    for rec in records:
        if by_row[rec.row].action == "unchanged":
            continue
        set_worker(conn, rec.key, rec.name, rec.role, rec.phone, rec.unit_ids)
    outcome.committed = True
    _audit_import(conn, outcome, reports, actor=actor, entity="worker", ledger=ledger_name)
    return outcome


# --- special grids -----------------------------------------------------------------

_SPECIAL = ("responsible_unit", "contact_name", "contact_phone")


def import_special_grids(
    conn: Connection,
    table: L.LedgerTable,
    *,
    actor: str,
    ledger_name: str,
    commit: bool = False,
) -> ImportOutcome:
    """Responsible units and contacts of the live special grids, from a ledger."""
    sg = SpecialGrid
    live = {
        r["code"]: dict(r)
        for r in conn.execute(
            select(sg.id, sg.code, sg.name, *(getattr(sg, f) for f in _SPECIAL)).where(
                sg.valid_to.is_(None)
            )
        ).mappings()
    }
    frame = {"code": list(live), "name": [v["name"] for v in live.values()]}
    records, reports = L.parse_special_grids(table, frame)
    by_row = {r.row: r for r in reports}
    for rec in records:
        old = live[rec.key]
        same = all(getattr(rec, f) == old[f] for f in _SPECIAL)
        by_row[rec.row].action = "unchanged" if same else "changed"
    outcome = ImportOutcome("special_grids", reports, False, table.columns, table.ignored)
    _refuse_if_fatal(reports, commit)
    if not commit:
        return outcome
    for rec in records:
        if by_row[rec.row].action == "unchanged":
            continue
        values = {f: getattr(rec, f) for f in _SPECIAL}
        conn.execute(update(sg).where(sg.id == live[rec.key]["id"]).values(**values))
    outcome.committed = True
    if outcome.changed:
        outcome.audit_id = audit.record(
            conn,
            actor=actor,
            action="ledger.import",
            entity="special_grid",
            ref=ledger_name,
            detail={
                "counts": outcome.counts,
                "changed": {
                    r.key: {f: {"from": live[r.key][f], "to": getattr(r, f)} for f in _SPECIAL}
                    for r in records
                    if by_row[r.row].action == "changed"
                },
            },
        )
    return outcome


# --- exports -----------------------------------------------------------------------


def _chains(conn: Connection, points) -> list[dict]:
    """Per WGS-84 point: street/community/grid names and the grid code it falls in."""
    units = bstore.units_frame(conn, levels=("street", "community", "grid"))
    out = [dict.fromkeys(("street", "community", "grid", "grid_code")) for _ in points]
    if len(units) == 0 or not points:
        return out
    tree = shapely.STRtree(units.geometry.values)
    pi, ui = tree.query(points, predicate="within")
    levels, names, codes = (units[c].to_numpy() for c in ("level", "name", "code"))
    for p, u in zip(pi.tolist(), ui.tolist(), strict=True):
        if out[p][levels[u]] is None:
            out[p][levels[u]] = names[u]
            if levels[u] == "grid":
                out[p]["grid_code"] = codes[u]
    return out


def export_compounds(
    conn: Connection, *, unit_ids: list[int] | None = None, crs: str = "wgs84"
) -> tuple[list[str], list[list]]:
    """Header and rows of the compounds register in the import layout.

    The point of each compound is GEOS's point on its surface (the compound itself
    for a point), in ``crs``; the grid columns say where that point falls now.
    ``unit_ids`` limits the export to compounds inside those live units.
    """
    c, loc, gov = Compound, CompoundLocation, CompoundGovernance
    stmt = (
        select(
            c.id,
            c.source_key.label("key"),
            *(getattr(c, f) for f in _FIELDS),
            gf.ST_AsBinary(c.geom).label("wkb"),
            loc.located_by,
            loc.match_score,
            gov.compound_id.label("gov_id"),
            *(getattr(gov, f) for f in _GOV),
        )
        .outerjoin(loc, loc.compound_id == c.id)
        .outerjoin(gov, gov.compound_id == c.id)
        .order_by(c.id)
    )
    if unit_ids is not None:
        stmt = stmt.where(c.id.in_(compound_ids_in_units(unit_ids)))
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    points = list(shapely.point_on_surface(shapely.from_wkb([bytes(r["wkb"]) for r in rows])))
    chains = _chains(conn, points)
    xs, ys = from_wgs84([p.x for p in points], [p.y for p in points], crs) if points else ([], [])
    out = []
    for r, chain, x, y in zip(rows, chains, xs, ys, strict=True):
        r.update(chain, lon=float(x), lat=float(y), crs=crs)
        r["governance"] = {f: r[f] for f in _GOV} if r["gov_id"] is not None else None
        out.append(L.compound_cells(r))
    return L.export_headers("compounds"), out


def export_workers(
    conn: Connection, *, unit_ids: list[int] | None = None, mask: Callable | None = None
) -> tuple[list[str], list[list]]:
    """Header and rows of the people register with their open assignments.

    ``mask`` (e.g. :func:`geo.lookup.geocode.mask_phone`) is applied to phone numbers.
    """
    w, a, v = GridWorker, GridAssignment, AdminUnitVersion
    live = bstore.live_units_subquery()
    rows = conn.execute(
        select(w.id, w.worker_code, w.name, w.phone, w.role, v.unit_id, v.code, v.name.label("un"))
        .outerjoin(a, (a.worker_id == w.id) & a.valid_to.is_(None) & (a.role == w.role))
        .outerjoin(v, (v.unit_id == a.unit_id) & v.id.in_(select(live.c.id)))
        .order_by(w.worker_code, v.code)
    ).all()
    people: dict[int, dict] = {}
    for wid, code, name, phone, role, uid, ucode, uname in rows:
        p = people.setdefault(
            wid,
            {
                "key": code,
                "name": name,
                "phone": mask(phone) if mask else phone,
                "role": role,
                "units": [],
                "unit_ids": set(),
            },
        )
        if ucode is not None:
            p["units"].append((ucode, uname))
            p["unit_ids"].add(uid)
    chosen = people.values()
    if unit_ids is not None:
        inside = units_within(conn, unit_ids)
        chosen = [p for p in chosen if p["unit_ids"] & inside]
    return L.export_headers("workers"), [L.worker_cells(p) for p in chosen]


def export_special_grids(
    conn: Connection, *, unit_ids: list[int] | None = None
) -> tuple[list[str], list[list]]:
    """Header and rows of the live special grids with the grid holding each one's
    point on surface."""
    frame = special_grids_frame(conn)
    points = list(shapely.point_on_surface(frame.geometry.to_numpy()))
    chains = _chains(conn, points)
    keep = None
    if unit_ids is not None:
        units = bstore.units_frame(conn)
        inside = units[units["unit_id"].isin(units_within(conn, unit_ids))].geometry.union_all()
        keep = [bool(inside.covers(p)) for p in points]
    rows = []
    for i, (r, chain) in enumerate(zip(frame.itertuples(), chains, strict=True)):
        if keep is not None and not keep[i]:
            continue
        rows.append(
            [
                r.code,
                r.name,
                r.kind,
                r.responsible_unit,
                r.contact_name,
                r.contact_phone,
                chain["grid"],
                chain["grid_code"],
            ]
        )
    return L.export_headers("special_grids"), rows
