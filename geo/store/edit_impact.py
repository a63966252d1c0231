"""The data an impact preview needs, read near the touched grids only: compounds, open
or recent incidents, live special grids, patrol cells and assigned workers.

What moves where is computed from these by :func:`geo.units.impact.summarise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pandas as pd
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, select

from geo.store.models import (
    Compound,
    GridAssignment,
    GridWorker,
    Incident,
    PatrolVisit,
    SpecialGrid,
)
from geo.units.impact import Nearby


def _points(conn: Connection, table, columns: list, where, bbox) -> pd.DataFrame:
    pt = gf.ST_PointOnSurface(table.geom)
    env = func.ST_MakeEnvelope(*bbox, 4326)
    stmt = select(*columns, gf.ST_X(pt).label("x"), gf.ST_Y(pt).label("y")).where(
        table.geom.intersects(env), *where
    )
    return pd.DataFrame(
        conn.execute(stmt).mappings().all(), columns=[*(c.key for c in columns), "x", "y"]
    )


def nearby(conn: Connection, bbox: Sequence[float], unit_ids: Sequence[int]) -> Nearby:
    """What lies in ``bbox`` (points on surface) or belongs to the units ``unit_ids``."""
    now = conn.execute(select(func.now())).scalar_one()
    c = Compound
    compounds = _points(conn, c, [c.id, c.name, c.households, c.management_type], [], bbox)
    i = Incident
    incidents = _points(
        conn,
        i,
        [i.id, i.source, i.external_id, i.category, i.status, i.reported_at],
        [(i.status != "closed") | (i.reported_at >= now - timedelta(days=30))],
        bbox,
    )
    s = SpecialGrid
    special = _points(conn, s, [s.code, s.name, s.kind], [s.valid_to.is_(None)], bbox)
    cells = [
        r[0]
        for r in conn.execute(
            select(PatrolVisit.h3_cell)
            .where(PatrolVisit.grid_unit_id.in_(list(unit_ids)))
            .distinct()
        )
    ]
    people = (
        conn.execute(
            select(
                GridAssignment.unit_id, GridAssignment.role, GridWorker.worker_code, GridWorker.name
            )
            .join(GridWorker, GridWorker.id == GridAssignment.worker_id)
            .where(GridAssignment.valid_to.is_(None), GridAssignment.unit_id.in_(list(unit_ids)))
        )
        .mappings()
        .all()
    )
    return Nearby(now, compounds, incidents, special, cells, [dict(p) for p in people])
