"""The supervisor dashboard's figures, read from PostGIS and returned as plain data.

One call, :func:`dashboard_figures`, gives per grid: incidents in the time window,
patrol coverage (share of the grid's H3 patrol cells with a visit in the window),
unowned compounds, whether a grid worker is assigned; per H3 heatmap cell the
incident count; and the compounds as points. The window ends at the newest
incident's report time, so a store with old data (the sample) still shows some.

Which cells belong to a grid is decided by h3's polygon fill with centre
containment (:func:`geo.h3cells.polygon_cells`), so a cell on a shared border counts
for exactly one grid. All h3 calls go through :mod:`geo.h3cells`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, and_, func, select

from geo import h3cells
from geo.settings import STORAGE_SRID
from geo.store import boundaries as bstore
from geo.store import registers
from geo.store.models import AdminUnitVersion, Compound, GridAssignment, Incident, PatrolVisit

# Mainland China has one time zone and no daylight saving: patrol "days" and the
# dates shown to supervisors are Beijing dates.
BEIJING = timezone(timedelta(hours=8))

GRID_COLUMNS = [
    "unit_id",
    "code",
    "name",
    "incidents",
    "cells",
    "covered_cells",
    "coverage",
    "unowned",
    "has_worker",
]


@dataclass
class DashboardFigures:
    """Everything the dashboard draws, in EPSG:4326.

    Attributes
    ----------
    start, end
        The window ``(start, end]`` of incident report times (aware datetimes).
    days
        Window length in days.
    grids
        One row per live grid: :data:`GRID_COLUMNS` and ``geometry``. ``coverage``
        is ``covered_cells / cells`` (NaN for a grid too small to hold a cell centre).
    cells
        Heatmap cells with at least one incident: ``cell`` (hex id), ``incidents``,
        ``geometry`` (the cell's hexagon).
    compounds
        ``name``, ``management_type``, ``households``, ``geometry`` (a point on the
        compound's surface).
    """

    start: datetime
    end: datetime
    days: int
    grids: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame


def incident_window(conn: Connection, days: int) -> tuple[datetime, datetime]:
    """``(start, end)`` with ``end`` the newest incident's report time (now if none)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    end = conn.execute(select(func.max(Incident.reported_at))).scalar()
    if end is None:
        end = datetime.now(tz=BEIJING)
    return end - timedelta(days=days), end


def _in_window(start: datetime, end: datetime):
    return and_(Incident.reported_at > start, Incident.reported_at <= end)


def incidents_by_grid(conn: Connection, start: datetime, end: datetime) -> dict[int, int]:
    """Incidents reported in ``(start, end]`` per grid unit id (as placed at intake)."""
    rows = conn.execute(
        select(Incident.grid_unit_id, func.count())
        .where(_in_window(start, end), Incident.grid_unit_id.is_not(None))
        .group_by(Incident.grid_unit_id)
    ).all()
    return {int(u): int(n) for u, n in rows}


def incidents_by_cell(conn: Connection, start: datetime, end: datetime, res: int) -> pd.Series:
    """Incidents reported in ``(start, end]`` per H3 cell (int) of resolution ``res``.

    Binned from the points rather than from the stored cell, which has the finer
    point resolution; the points of one window are few enough to bin in Python.
    """
    rows = conn.execute(
        select(gf.ST_X(Incident.geom), gf.ST_Y(Incident.geom)).where(_in_window(start, end))
    ).all()
    if not rows:
        return pd.Series(dtype="int64", name="incidents")
    xy = np.asarray(rows, dtype=float)
    cells = h3cells.cells_of(xy[:, 0], xy[:, 1], res)
    return pd.Series(cells).value_counts().rename("incidents").sort_index()


def visited_cells(conn: Connection, first_day: date, last_day: date) -> set[int]:
    """Patrol cells with at least one visit on a day in ``[first_day, last_day]``."""
    rows = conn.execute(
        select(PatrolVisit.h3_cell)
        .where(PatrolVisit.day >= first_day, PatrolVisit.day <= last_day)
        .distinct()
    ).scalars()
    return {int(c) for c in rows}


def unowned_by_grid(conn: Connection) -> dict[int, int]:
    """Unowned compounds per live grid unit id.

    A compound belongs to the grid that contains a point on its surface (PostGIS
    ``ST_PointOnSurface``, GEOS's, the same point shapely's
    ``representative_point`` gives), so a compound drawn across a border counts once.
    """
    v = AdminUnitVersion
    live = bstore.live_units_subquery()
    rows = conn.execute(
        select(v.unit_id, func.count(Compound.id))
        .join(live, live.c.id == v.id)
        .join(Compound, gf.ST_Contains(v.geom, gf.ST_PointOnSurface(Compound.geom)))
        .where(v.level == "grid", Compound.management_type == "unowned")
        .group_by(v.unit_id)
    ).all()
    return {int(u): int(n) for u, n in rows}


def grids_with_worker(conn: Connection) -> set[int]:
    """Unit ids with an open ``worker`` assignment."""
    rows = conn.execute(
        select(GridAssignment.unit_id)
        .where(GridAssignment.valid_to.is_(None), GridAssignment.role == "worker")
        .distinct()
    ).scalars()
    return {int(u) for u in rows}


def coverage_counts(grids: gpd.GeoSeries, visited: set[int], res: int) -> np.ndarray:
    """``(n, 2)`` int array: cells of each grid and how many of them were visited."""
    out = np.zeros((len(grids), 2), dtype=np.int64)
    for i, geom in enumerate(grids):
        cells = h3cells.polygon_cells(geom, res)
        out[i, 0] = len(cells)
        out[i, 1] = sum(1 for c in cells.tolist() if c in visited)
    return out


def dashboard_figures(
    conn: Connection, days: int = 30, *, heatmap_res: int = 9, patrol_res: int = 10
) -> DashboardFigures:
    """All dashboard figures for the window of ``days`` ending at the newest incident.

    Patrol visits count when their (Beijing) day falls within the window's dates.
    """
    start, end = incident_window(conn, days)
    grids = bstore.units_frame(conn, levels=("grid",))
    if not grids.crs.equals(f"EPSG:{STORAGE_SRID}"):
        grids = grids.to_crs(f"EPSG:{STORAGE_SRID}")
    uid = grids["unit_id"].astype("int64")
    by_grid = incidents_by_grid(conn, start, end)
    unowned = unowned_by_grid(conn)
    staffed = grids_with_worker(conn)
    visited = visited_cells(conn, start.astimezone(BEIJING).date(), end.astimezone(BEIJING).date())
    cover = coverage_counts(grids.geometry, visited, patrol_res)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(cover[:, 0] > 0, cover[:, 1] / np.maximum(cover[:, 0], 1), np.nan)
    grid_frame = gpd.GeoDataFrame(
        {
            "unit_id": uid.to_numpy(),
            "code": grids["code"].to_numpy(),
            "name": grids["name"].to_numpy(),
            "incidents": [by_grid.get(u, 0) for u in uid],
            "cells": cover[:, 0],
            "covered_cells": cover[:, 1],
            "coverage": share,
            "unowned": [unowned.get(u, 0) for u in uid],
            "has_worker": [u in staffed for u in uid],
        },
        geometry=grids.geometry.to_numpy(),
        crs=f"EPSG:{STORAGE_SRID}",
    )

    counts = incidents_by_cell(conn, start, end, heatmap_res)
    cells = gpd.GeoDataFrame(
        {
            "cell": [h3cells.cell_to_str(c) for c in counts.index],
            "incidents": counts.to_numpy(dtype="int64"),
        },
        geometry=h3cells.cell_polygons(counts.index.to_numpy()),
        crs=f"EPSG:{STORAGE_SRID}",
    )

    comp = registers.compounds_frame(conn)
    compounds = gpd.GeoDataFrame(
        comp[["name", "management_type", "households"]].reset_index(drop=True),
        geometry=shapely.point_on_surface(comp.geometry.to_numpy()),
        crs=f"EPSG:{STORAGE_SRID}",
    )
    return DashboardFigures(start, end, days, grid_frame, cells, compounds)


def dashboard_data_token(conn) -> str:
    """Changes whenever incidents or patrol visits change (cheap: two index lookups)."""
    inc = conn.execute(select(func.max(Incident.id), func.max(Incident.updated_at))).one()
    vis = conn.execute(select(func.max(PatrolVisit.last_seen), func.count())).one()
    return f"{inc[0]}-{inc[1]}-{vis[0]}-{vis[1]}"
