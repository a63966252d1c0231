"""Reads for the incident heat: incidents of a window and filter, grids, households.

SQLAlchemy Core only; the aggregation itself is pure and lives in :mod:`geo.incidents.heat`.
Street and community filters follow the responsibility chain stored with each
incident at intake (``street_unit_id`` / ``community_unit_id``), so a filtered
count equals the unit's own caseload.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, and_, func, select
from sqlalchemy.orm import aliased

from geo.errors import NotFound
from geo.incidents import heat
from geo.store import boundaries as bstore
from geo.store.models import AdminUnitVersion, Compound, Incident

INCIDENT_COLUMNS = ["lon", "lat", "reported_at", "category", "grid_unit_id"]


def newest_incident_time(conn: Connection) -> datetime | None:
    """Report time of the newest incident (None when there is none)."""
    return conn.execute(select(func.max(Incident.reported_at))).scalar()


def live_unit(conn: Connection, code: str, level: str) -> dict:
    """The live unit of ``level`` with ``code``: unit_id, code, name.

    Raises
    ------
    NotFound
        If no live unit of that level has the code.
    """
    v = AdminUnitVersion
    live = bstore.live_units_subquery()
    row = (
        conn.execute(
            select(v.unit_id, v.code, v.name)
            .join(live, live.c.id == v.id)
            .where(v.code == code, v.level == level)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(
            f"no live {level} has code {code}", f"没有编码为 {code} 的现行{_LEVEL_ZH[level]}"
        )
    return dict(row)


def _live(v):
    return and_(v.valid_from.is_not(None), v.valid_to.is_(None))


_LEVEL_ZH = {"district": "区县", "street": "街道", "community": "社区", "grid": "网格"}


def heat_incidents(
    conn: Connection,
    start: datetime,
    end: datetime,
    *,
    categories: Sequence[str] = (),
    street_unit_id: int | None = None,
    community_unit_id: int | None = None,
) -> pd.DataFrame:
    """Incidents reported in ``[start, end)`` matching the filters.

    Returns columns :data:`INCIDENT_COLUMNS` (lon/lat in WGS-84, aware times).
    """
    i = Incident
    conds = [i.reported_at >= start, i.reported_at < end]
    if categories:
        conds.append(i.category.in_(list(categories)))
    if street_unit_id is not None:
        conds.append(i.street_unit_id == street_unit_id)
    if community_unit_id is not None:
        conds.append(i.community_unit_id == community_unit_id)
    rows = conn.execute(
        select(
            gf.ST_X(i.geom).label("lon"),
            gf.ST_Y(i.geom).label("lat"),
            i.reported_at,
            i.category,
            i.grid_unit_id,
        )
        .where(and_(*conds))
        .order_by(i.id)
    ).all()
    frame = pd.DataFrame(rows, columns=INCIDENT_COLUMNS)
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    frame["grid_unit_id"] = frame["grid_unit_id"].astype("Int64")
    return frame


def scope_grids(
    conn: Connection, *, street_unit_id: int | None = None, community_unit_id: int | None = None
) -> pd.DataFrame:
    """Live grids, optionally those of one street and/or community.

    Returns unit_id, code, name, community_code, street_code, ordered by code.
    """
    g = aliased(AdminUnitVersion)
    c = aliased(AdminUnitVersion)
    s = aliased(AdminUnitVersion)
    live = bstore.live_units_subquery()
    stmt = (
        select(
            g.unit_id,
            g.code,
            g.name,
            c.code.label("community_code"),
            s.code.label("street_code"),
            c.unit_id.label("community_unit_id"),
            s.unit_id.label("street_unit_id"),
        )
        .join(live, live.c.id == g.id)
        .outerjoin(c, and_(c.unit_id == g.parent_unit_id, _live(c)))
        .outerjoin(s, and_(s.unit_id == c.parent_unit_id, _live(s)))
        .where(g.level == "grid")
        .order_by(g.code)
    )
    rows = conn.execute(stmt).mappings().all()
    frame = pd.DataFrame(
        [dict(r) for r in rows],
        columns=[
            "unit_id",
            "code",
            "name",
            "community_code",
            "street_code",
            "community_unit_id",
            "street_unit_id",
        ],
    )
    if street_unit_id is not None:
        frame = frame[frame["street_unit_id"] == street_unit_id]
    if community_unit_id is not None:
        frame = frame[frame["community_unit_id"] == community_unit_id]
    return frame[["unit_id", "code", "name", "community_code", "street_code"]].reset_index(
        drop=True
    )


def households_by_grid(conn: Connection) -> dict[int, int]:
    """Households of the compounds in each live grid (unit id → sum).

    A compound belongs to the grid containing a point on its surface (as for the
    unowned-compound counts), so one drawn across a border counts once.
    """
    v = AdminUnitVersion
    live = bstore.live_units_subquery()
    rows = conn.execute(
        select(v.unit_id, func.coalesce(func.sum(Compound.households), 0))
        .join(live, live.c.id == v.id)
        .join(Compound, gf.ST_Contains(v.geom, gf.ST_PointOnSurface(Compound.geom)))
        .where(v.level == "grid")
        .group_by(v.unit_id)
    ).all()
    return {int(u): int(n or 0) for u, n in rows}  # coalesce: never NULL


def street_and_community_names(conn: Connection) -> pd.DataFrame:
    """Live streets and communities (level, code, name, parent_code) for the filter form."""
    v = AdminUnitVersion
    p = aliased(AdminUnitVersion)
    live = bstore.live_units_subquery()
    rows = conn.execute(
        select(v.level, v.code, v.name, p.code.label("parent_code"))
        .join(live, live.c.id == v.id)
        .outerjoin(p, and_(p.unit_id == v.parent_unit_id, _live(p)))
        .where(v.level.in_(("street", "community")))
        .order_by(v.code)
    ).all()
    frame = pd.DataFrame(rows, columns=["level", "code", "name", "parent_code"])
    return frame


def heat_figures(
    conn: Connection,
    *,
    res: int,
    start: str | None,
    end: str | None,
    days: int,
    categories: list[str],
    street: str | None,
    community: str | None,
) -> dict:
    """Everything the heat endpoint answers (also drawn by the dashboard).

    Returns a dict: ``window`` (:class:`geo.incidents.heat.Window`), ``rows`` (the incidents of
    both windows), ``cells`` (:func:`geo.incidents.heat.cell_counts`), ``grids``
    (:func:`geo.incidents.heat.grid_totals` plus community_code, street_code), ``street`` and
    ``community`` (the filter units or None).
    """
    window = heat.resolve_window(
        heat.parse_bound(start, is_end=False),
        heat.parse_bound(end, is_end=True),
        days,
        newest_incident_time(conn),
    )
    street_unit = live_unit(conn, street, "street") if street else None
    community_unit = live_unit(conn, community, "community") if community else None
    sid = street_unit["unit_id"] if street_unit else None
    cid = community_unit["unit_id"] if community_unit else None
    rows = heat_incidents(
        conn,
        window.previous.start,
        window.end,
        categories=categories,
        street_unit_id=sid,
        community_unit_id=cid,
    )
    grids = scope_grids(conn, street_unit_id=sid, community_unit_id=cid)
    households = households_by_grid(conn)
    cells = heat.cell_counts(rows["lon"], rows["lat"], rows["reported_at"], window, res)
    totals = heat.grid_totals(rows["grid_unit_id"], rows["reported_at"], window, grids, households)
    return {
        "window": window,
        "rows": rows,
        "cells": cells,
        "grids": totals.merge(
            grids[["unit_id", "community_code", "street_code"]], on="unit_id", how="left"
        ),
        "street": street_unit,
        "community": community_unit,
    }
