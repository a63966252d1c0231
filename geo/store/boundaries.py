"""Boundary sets in PostGIS: write a draft, activate it, read the live (or dated) map.

Each function takes a SQLAlchemy ``Connection`` and runs inside the caller's
transaction, so an import or an activation lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import (
    Connection,
    Subquery,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased

from geo.errors import Conflict, InvalidInput, NotFound
from geo.settings import STORAGE_SRID
from geo.store.db import ewkt
from geo.store.models import LEVELS, AdminUnit, AdminUnitVersion, BoundarySet, SpecialGrid
from geo.units.diff import diff_units, summary

_LEVEL_RANK = {lvl: i for i, lvl in enumerate(LEVELS)}

# Serialises activations: two planners publishing at once must not interleave.
_ACTIVATION_LOCK = 4107990001
# Workers LISTEN here (or poll the version) to rebuild their lookup index.
NOTIFY_CHANNEL = "gridmap_boundaries"


def lock_map(conn: Connection) -> datetime:
    """Take the lock edits and publications share (until the transaction ends); the
    time returned is after every earlier edit's."""
    conn.execute(select(func.pg_advisory_xact_lock(_ACTIVATION_LOCK)))
    return conn.execute(select(func.clock_timestamp())).scalar_one()


def announce(conn: Connection, payload: str) -> None:
    """Tell the workers listening on :data:`NOTIFY_CHANNEL` that the map changed (sent
    when the transaction commits)."""
    conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, payload)))


def find_set_by_checksum(conn: Connection, checksum: str) -> int | None:
    """The newest non-retired boundary set imported from exactly this content."""
    return conn.execute(
        select(BoundarySet.id)
        .where(BoundarySet.checksum == checksum, BoundarySet.status != "retired")
        .order_by(BoundarySet.id.desc())
        .limit(1)
    ).scalar()


def create_draft_set(
    conn: Connection,
    units: gpd.GeoDataFrame,
    *,
    name: str,
    author: str,
    source: str | None = None,
    checksum: str | None = None,
    note: str | None = None,
) -> int:
    """Store ``units`` (columns level, code, name, parent_code, geometry) as a draft set.

    A unit whose code is live at the same level keeps its stable id; a parent code is
    resolved first within the set, then against the live map. Returns the set id.
    """
    missing = {"level", "code", "name", "parent_code", "geometry"} - set(units.columns)
    if missing:
        raise InvalidInput(f"boundary units lack columns: {sorted(missing)}")
    if units.crs is None or units.crs.to_epsg() != STORAGE_SRID:
        raise InvalidInput(f"boundary units must be in EPSG:{STORAGE_SRID} before storing")
    set_id = conn.execute(
        insert(BoundarySet)
        .values(name=name, author=author, source=source, checksum=checksum, note=note)
        .returning(BoundarySet.id)
    ).scalar_one()

    live = {
        (lvl, code): uid
        for lvl, code, uid in conn.execute(
            select(AdminUnitVersion.level, AdminUnitVersion.code, AdminUnitVersion.unit_id).where(
                AdminUnitVersion.valid_from.is_not(None), AdminUnitVersion.valid_to.is_(None)
            )
        )
    }
    live_by_code = {code: uid for (_lvl, code), uid in live.items()}
    ordered = units.assign(_rank=units["level"].map(_LEVEL_RANK)).sort_values(["_rank", "code"])
    unit_ids: dict[str, int] = {}
    rows = []
    for rec in ordered.itertuples(index=False):
        uid = live.get((rec.level, rec.code))
        if uid is None:
            uid = conn.execute(
                insert(AdminUnit).values(level=rec.level).returning(AdminUnit.id)
            ).scalar_one()
        unit_ids[rec.code] = uid
        parent_id = None
        if rec.parent_code:
            parent_id = unit_ids.get(rec.parent_code) or live_by_code.get(rec.parent_code)
            if parent_id is None:
                raise InvalidInput(
                    f"unit {rec.code} names parent {rec.parent_code}, which is neither in "
                    "this set nor on the live map",
                    f"单元 {rec.code} 的上级编码 {rec.parent_code} "
                    "既不在本次导入中，也不在现行边界中",
                )
        rows.append(
            {
                "unit_id": uid,
                "boundary_set_id": set_id,
                "level": rec.level,
                "code": rec.code,
                "name": rec.name,
                "parent_unit_id": parent_id,
                "geom": ewkt(rec.geometry),
                "author": author,
                "reason": note or f"imported in boundary set {set_id}",
            }
        )
    if rows:
        conn.execute(insert(AdminUnitVersion), rows)
    return set_id


@dataclass(frozen=True)
class PublishResult:
    boundary_set_id: int
    published_at: datetime
    counts: dict[str, int]  # unchanged / changed / new / removed
    diff: pd.DataFrame


def publish_set(
    conn: Connection, set_id: int, *, author: str, reason: str | None = None
) -> PublishResult:
    """Put a draft set in force, versioning only what changed.

    Units that are the same as live (code, name, parent, geometry within 1e-9°) keep
    their live version and the draft's copy is dropped; changed and new units start a
    version now and close the one they replace; live units of the levels the set
    covers that it does not contain are retired (a set is the whole new map of its
    levels). Running workers are told through NOTIFY. The caller's transaction makes
    it all-or-nothing.
    """
    conn.execute(select(func.pg_advisory_xact_lock(_ACTIVATION_LOCK)))
    status = conn.execute(
        select(BoundarySet.status).where(BoundarySet.id == set_id).with_for_update()
    ).scalar()
    if status is None:
        raise NotFound(f"boundary set {set_id} does not exist", f"边界集 {set_id} 不存在")
    if status != "draft":
        raise Conflict(
            f"boundary set {set_id} is {status}; only a draft can be published",
            f"边界集 {set_id} 状态为 {status}，只有草稿可以发布",
        )
    now = conn.execute(select(func.now())).scalar_one()
    draft = units_frame(conn, boundary_set_id=set_id)
    levels = tuple(sorted(set(draft["level"])))
    live = units_frame(conn, levels=levels)
    diff = diff_units(live, draft)
    v = AdminUnitVersion
    by_status = {st: set(diff.loc[diff["status"] == st, "code"]) for st in diff["status"].unique()}
    unchanged = by_status.get("unchanged", set())
    replaced = by_status.get("changed", set()) | by_status.get("removed", set())
    if unchanged:
        conn.execute(delete(v).where(v.boundary_set_id == set_id, v.code.in_(unchanged)))
    if replaced:
        conn.execute(
            update(v)
            .where(_in_force(v, None), v.level.in_(levels), v.code.in_(replaced))
            .values(valid_to=now)
        )
    conn.execute(
        update(v)
        .where(v.boundary_set_id == set_id)
        .values(valid_from=now, author=author, reason=reason or v.reason)
    )
    counts = summary(diff)
    conn.execute(
        update(BoundarySet)
        .where(BoundarySet.id == set_id)
        .values(status="active", activated_at=now, note=func.coalesce(BoundarySet.note, reason))
    )
    _retire_sets_without_live_versions(conn)
    conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(set_id))))
    return PublishResult(set_id, now, counts, diff)


def _retire_sets_without_live_versions(conn: Connection) -> None:
    still_live = (
        select(AdminUnitVersion.id)
        .where(
            AdminUnitVersion.boundary_set_id == BoundarySet.id,
            AdminUnitVersion.valid_to.is_(None),
        )
        .exists()
    )
    conn.execute(
        update(BoundarySet)
        .where(BoundarySet.status == "active", ~still_live)
        .values(status="retired")
    )


def _units_count():
    return (
        select(func.count())
        .where(AdminUnitVersion.boundary_set_id == BoundarySet.id)
        .scalar_subquery()
        .label("units")
    )


_SET_COLUMNS = (
    BoundarySet.id,
    BoundarySet.name,
    BoundarySet.status,
    BoundarySet.source,
    BoundarySet.checksum,
    BoundarySet.author,
    BoundarySet.note,
    BoundarySet.created_at,
    BoundarySet.activated_at,
)


def list_sets(conn: Connection) -> list[dict]:
    """Every boundary set, newest first, with its number of unit versions."""
    rows = conn.execute(
        select(*_SET_COLUMNS, _units_count()).order_by(BoundarySet.id.desc())
    ).mappings()
    return [dict(r) for r in rows]


def get_set(conn: Connection, set_id: int) -> dict:
    row = (
        conn.execute(select(*_SET_COLUMNS, _units_count()).where(BoundarySet.id == set_id))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"boundary set {set_id} does not exist", f"边界集 {set_id} 不存在")
    return dict(row)


def _in_force(v, at: datetime | None):
    """Condition on version alias ``v``: in force now (``at`` None) or at ``at``."""
    if at is None:
        return and_(v.valid_from.is_not(None), v.valid_to.is_(None))
    return and_(v.valid_from <= at, or_(v.valid_to.is_(None), v.valid_to > at))


def units_frame(
    conn: Connection,
    *,
    levels: tuple[str, ...] = LEVELS,
    at: datetime | None = None,
    boundary_set_id: int | None = None,
) -> gpd.GeoDataFrame:
    """Units in force now (or at ``at``, or of one set) as a GeoDataFrame in EPSG:4326.

    Columns: unit_id, version_id, level, code, name, parent_unit_id, parent_code, geometry.
    A draft set's parents are looked up in the set first, then on the live map.
    """
    v = AdminUnitVersion
    parent = aliased(AdminUnitVersion)
    if boundary_set_id is None:
        where = _in_force(v, at)
        parent_in_scope = _in_force(parent, at)
    else:
        where = v.boundary_set_id == boundary_set_id
        parent_in_scope = or_(parent.boundary_set_id == boundary_set_id, _in_force(parent, None))
    stmt = (
        select(
            v.unit_id,
            v.id.label("version_id"),
            v.level,
            v.code,
            v.name,
            v.parent_unit_id,
            parent.code.label("parent_code"),
            gf.ST_AsBinary(v.geom).label("wkb"),
        )
        .outerjoin(parent, and_(parent.unit_id == v.parent_unit_id, parent_in_scope))
        .where(where, v.level.in_(levels))
        .order_by(v.code)
    )
    rows = conn.execute(stmt).mappings().all()
    columns = [
        "unit_id",
        "version_id",
        "level",
        "code",
        "name",
        "parent_unit_id",
        "parent_code",
    ]
    records = [{k: r[k] for k in columns} for r in rows]
    geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(
        records or None, columns=columns, geometry=list(geoms), crs=f"EPSG:{STORAGE_SRID}"
    )


def boundary_version_at(conn: Connection, at: datetime) -> str:
    """A token naming the map in force at ``at`` (same token, same map)."""
    row = conn.execute(
        select(func.count(), func.max(AdminUnitVersion.id), func.sum(AdminUnitVersion.id)).where(
            _in_force(AdminUnitVersion, at)
        )
    ).one()
    return f"at-{row[0]}-{row[1]}-{row[2]}"


def live_boundary_version(conn: Connection) -> str:
    """A token that changes whenever the live map changes (for caches and indexes):
    units and special grids, including a special grid closed without a successor."""
    row = conn.execute(
        select(
            func.count(), func.max(AdminUnitVersion.id), func.max(AdminUnitVersion.valid_from)
        ).where(_in_force(AdminUnitVersion, None))
    ).one()
    special = conn.execute(
        select(
            func.count(SpecialGrid.id),
            func.max(SpecialGrid.id),
            func.max(func.coalesce(SpecialGrid.valid_to, SpecialGrid.valid_from)),
        )
    ).one()
    stamp = row[2].timestamp() if row[2] else 0
    s_stamp = special[2].timestamp() if special[2] else 0
    return f"{row[0]}-{row[1]}-{stamp}-s{special[0]}-{special[1]}-{s_stamp}"


def live_units_subquery() -> Subquery:
    """The live versions, as a subquery (for counts and joins)."""
    return select(AdminUnitVersion.id).where(_in_force(AdminUnitVersion, None)).subquery()


def set_status(conn: Connection, set_id: int) -> str | None:
    """draft, active or retired; None when the set does not exist."""
    return conn.execute(select(BoundarySet.status).where(BoundarySet.id == set_id)).scalar()


def chain_unit_ids(conn: Connection, code: str) -> list[int]:
    """The live unit with ``code`` and every unit above it (for jurisdiction checks)."""
    rows = conn.execute(
        text(
            """
            WITH RECURSIVE up AS (
                SELECT unit_id, parent_unit_id FROM admin_unit_version
                WHERE code = :code AND valid_from IS NOT NULL AND valid_to IS NULL
                UNION
                SELECT v.unit_id, v.parent_unit_id FROM admin_unit_version v
                JOIN up ON v.unit_id = up.parent_unit_id
                WHERE v.valid_from IS NOT NULL AND v.valid_to IS NULL
            )
            SELECT unit_id FROM up
            """
        ),
        {"code": code},
    ).scalars()
    return [int(u) for u in rows]


def live_levels_codes(conn: Connection, unit_ids: Iterable[int]) -> list[tuple[str, str]]:
    """(level, code) of the live units with these stable ids."""
    v = AdminUnitVersion
    rows = conn.execute(
        select(v.level, v.code).where(v.unit_id.in_(list(unit_ids)), _in_force(v, None))
    )
    return [(lvl, code) for lvl, code in rows]
