"""Grid edits in PostGIS: the SQL an edit needs — the grid codes a community ever used,
an earlier version's shape, and the writes (an edit's boundary set, closing the
replaced versions, the new units and versions).

The edit itself (lock, If-Match, invariant, impact, audit) is the use case
:mod:`geo.services.edits`; every function here runs in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
from geoalchemy2 import functions as gf
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, insert, select, update

from geo.store.db import ewkt
from geo.store.models import AdminUnit, AdminUnitVersion, BoundarySet

_V = AdminUnitVersion


@dataclass(frozen=True)
class NewVersion:
    """One unit version an edit writes (``old_code``: its code before the edit)."""

    unit_id: int
    level: str
    code: str
    name: str
    parent_unit_id: int | None
    geom: BaseGeometry
    old_code: str


def used_grid_codes(conn: Connection, community_code: str) -> set[str]:
    """Every grid code this community ever used: a retired number is never reissued."""
    rows = conn.execute(
        select(_V.code).where(_V.level == "grid", _V.code.startswith(community_code)).distinct()
    )
    return {r[0] for r in rows}


def version_shape(conn: Connection, version_id: int) -> tuple[int, BaseGeometry] | None:
    """(unit id, geometry) of one unit version, any state; None if there is none."""
    row = conn.execute(
        select(_V.unit_id, gf.ST_AsBinary(_V.geom)).where(_V.id == version_id)
    ).first()
    if row is None:
        return None
    return int(row[0]), shapely.from_wkb(bytes(row[1]))


def create_edit_set(conn: Connection, *, name: str, author: str, note: str, at: datetime) -> int:
    """The active boundary set an edit's new versions belong to."""
    return conn.execute(
        insert(BoundarySet)
        .values(
            name=name[:200],
            status="active",
            source="edit",
            author=author,
            note=note,
            activated_at=at,
        )
        .returning(BoundarySet.id)
    ).scalar_one()


def close_versions(conn: Connection, version_ids: Sequence[int], at: datetime) -> None:
    """End these versions at ``at`` (they are history from then on)."""
    conn.execute(update(_V).where(_V.id.in_(list(version_ids))).values(valid_to=at))


def new_grid_unit(conn: Connection) -> int:
    """A new stable unit id for a grid an edit creates."""
    return conn.execute(insert(AdminUnit).values(level="grid").returning(AdminUnit.id)).scalar_one()


def insert_versions(
    conn: Connection,
    set_id: int,
    rows: Sequence[NewVersion],
    *,
    at: datetime,
    action: str,
    author: str,
    reason: str,
) -> dict[str, int]:
    """Insert the new live versions; code → new version id (the ETags)."""
    versions = {}
    for r in rows:
        attrs = {"edit": action}
        if r.old_code != r.code:
            attrs["previous_code"] = r.old_code
        versions[r.code] = conn.execute(
            insert(_V)
            .values(
                unit_id=r.unit_id,
                boundary_set_id=set_id,
                level=r.level,
                code=r.code,
                name=r.name,
                parent_unit_id=r.parent_unit_id,
                geom=ewkt(r.geom),
                valid_from=at,
                author=author,
                reason=reason,
                attrs=attrs,
            )
            .returning(_V.id)
        ).scalar_one()
    return versions
