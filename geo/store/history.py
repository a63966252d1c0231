"""A unit's versions: list, one version, a grid as of a date — read from the history."""

from __future__ import annotations

from datetime import datetime

import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from geo.errors import NotFound
from geo.store.models import AdminUnitVersion

_V = AdminUnitVersion


def unit_id_for_code(conn: Connection, code: str) -> int:
    """The unit a code names: the live holder, else the last unit that held it."""
    row = conn.execute(
        select(_V.unit_id)
        .where(_V.code == code, _V.valid_from.is_not(None))
        .order_by(_V.valid_to.is_(None).desc(), _V.valid_from.desc())
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no unit has ever had code {code}", f"从未有单元使用编码 {code}")
    return int(row[0])


def _columns():
    parent = aliased(AdminUnitVersion)
    parent_code = (
        select(parent.code)
        .where(
            parent.unit_id == _V.parent_unit_id,
            parent.valid_from <= _V.valid_from,
            (parent.valid_to.is_(None)) | (parent.valid_to > _V.valid_from),
        )
        .limit(1)
        .scalar_subquery()
    )
    return (
        _V.id.label("version_id"),
        _V.unit_id,
        _V.level,
        _V.code,
        _V.name,
        parent_code.label("parent_code"),
        _V.valid_from,
        _V.valid_to,
        _V.author,
        _V.reason,
        _V.attrs,
        _V.boundary_set_id,
        func.ST_Area(func.Geography(_V.geom)).label("area_m2"),
    )


def unit_versions(conn: Connection, code: str) -> list[dict]:
    """Every published version of the unit, oldest first (drafts are not history)."""
    uid = unit_id_for_code(conn, code)
    rows = conn.execute(
        select(*_columns())
        .where(_V.unit_id == uid, _V.valid_from.is_not(None))
        .order_by(_V.valid_from, _V.id)
    ).mappings()
    return [dict(r) for r in rows]


def version(conn: Connection, code: str, version_id: int) -> tuple[dict, shapely.Geometry]:
    """One version of the unit named by ``code``, with its geometry."""
    uid = unit_id_for_code(conn, code)
    row = (
        conn.execute(
            select(*_columns(), gf.ST_AsBinary(_V.geom).label("wkb")).where(
                _V.id == version_id, _V.unit_id == uid
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(
            f"version {version_id} is not a version of {code}",
            f"版本 {version_id} 不是 {code} 的版本",
        )
    data = {k: v for k, v in row.items() if k != "wkb"}
    return data, shapely.from_wkb(bytes(row["wkb"]))


def version_at(
    conn: Connection, code: str, at: datetime | None = None
) -> tuple[dict, shapely.Geometry]:
    """The version of the unit in force at ``at`` (None: now)."""
    uid = unit_id_for_code(conn, code)
    when = func.now() if at is None else at
    vid = conn.execute(
        select(_V.id).where(
            _V.unit_id == uid,
            _V.valid_from <= when,
            (_V.valid_to.is_(None)) | (_V.valid_to > when),
        )
    ).scalar()
    if vid is None:
        moment = "now" if at is None else at.isoformat()
        raise NotFound(
            f"{code} is not in force {moment} (retired or not yet published); see "
            f"/v1/units/{code}/versions",
            f"{code} 在 {moment} 不存在（已撤销或尚未发布）；请查看 /v1/units/{code}/versions",
        )
    return version(conn, code, vid)
