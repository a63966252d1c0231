"""Special grids (schools, hospitals, parks …) in PostGIS: the live version of a code,
the district they must lie in, and the writes (close a version, insert a new one).

Versioned by code like the comprehensive grids; the checks, the lock, If-Match and the
audit are the use case's (:mod:`geo.services.special_edits`), in whose transaction
every function here runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import shapely
from geoalchemy2 import functions as gf
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, func, insert, select, update

from geo.errors import InvalidInput, NotFound
from geo.store.db import ewkt
from geo.store.models import AdminUnitVersion, SpecialGrid

FIELDS = ("name", "kind", "responsible_unit", "contact_name", "contact_phone")
_S = SpecialGrid


def find_live(conn: Connection, code: str) -> dict[str, Any] | None:
    """The live version of ``code`` (id, code, the FIELDS, geometry), or None."""
    row = (
        conn.execute(
            select(
                _S.id,
                _S.code,
                *[getattr(_S, f) for f in FIELDS],
                gf.ST_AsBinary(_S.geom).label("wkb"),
            ).where(_S.code == code, _S.valid_to.is_(None))
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    out = {k: v for k, v in row.items() if k != "wkb"}
    out["geometry"] = shapely.from_wkb(bytes(row["wkb"]))
    return out


def live_special(conn: Connection, code: str) -> dict[str, Any]:
    """The live version of ``code``; NotFound if there is none."""
    row = find_live(conn, code)
    if row is None:
        raise NotFound(f"no live special grid has code {code}", f"没有编码为 {code} 的现行专属网格")
    return row


def live_ids(conn: Connection, codes: Sequence[str]) -> dict[str, int]:
    """code → live version id, for those of ``codes`` that are live."""
    rows = conn.execute(
        select(_S.code, _S.id).where(_S.code.in_(list(codes)), _S.valid_to.is_(None))
    )
    return {str(code): int(vid) for code, vid in rows}


def district(conn: Connection) -> BaseGeometry:
    """The live district's shape (special grids must lie inside it)."""
    v = AdminUnitVersion
    wkb = conn.execute(
        select(gf.ST_AsBinary(func.ST_Union(v.geom))).where(
            v.level == "district", v.valid_from.is_not(None), v.valid_to.is_(None)
        )
    ).scalar()
    if wkb is None:
        raise InvalidInput("no district is live yet", "尚无现行的区县边界")
    return shapely.from_wkb(bytes(wkb))


def close(conn: Connection, version_ids: Sequence[int], at: datetime) -> None:
    """End these versions at ``at``."""
    conn.execute(update(_S).where(_S.id.in_(list(version_ids))).values(valid_to=at))


def insert_version(
    conn: Connection,
    code: str,
    fields: Mapping[str, Any],
    geom: BaseGeometry,
    *,
    at: datetime,
    author: str,
    reason: str,
) -> int:
    """A new live version of ``code`` (geometry as given: the caller repairs it)."""
    return conn.execute(
        insert(_S)
        .values(
            code=code,
            geom=ewkt(geom),
            valid_from=at,
            author=author,
            reason=reason,
            **{f: fields.get(f) for f in FIELDS},
        )
        .returning(_S.id)
    ).scalar_one()
