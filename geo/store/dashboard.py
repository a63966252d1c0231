"""The supervisor dashboard's figures, read from PostGIS and returned as plain data.

One call, :func:`dashboard_figures`, gives for a window and filter (street,
community, incident categories):

- per grid in scope: incidents in the window and the one before (as placed at
  intake), the rate per 1,000 households, patrol coverage (share of the grid's
  res-10 cells visited, :mod:`geo.patrol.coverage`, the same figures as
  ``GET /v1/coverage``), days since the last visit, unowned compounds (count, per
  km², per 1,000 households), the grid worker(s);
- the incident heat per H3 cell (:mod:`geo.incidents.heat`, the figures of
  ``GET /v1/incidents/heat``) and per cell and Beijing day, for the date slider;
- the unvisited res-10 cells (gaps) with days since their last visit — only when a
  street or community is chosen: the whole district's gaps are thousands of
  hexagons, too heavy for an office PC's browser, so the page asks for a filter;
- unowned compounds per H3 cell, and the compounds as points.

Membership: a compound belongs to the grid (and the H3 cell) containing a point on
its surface (``ST_PointOnSurface``, the same point as shapely's
``point_on_surface``), so a compound drawn across a border counts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, select

from geo import hexgrid
from geo.incidents import heat
from geo.patrol import coverage
from geo.settings import STORAGE_SRID
from geo.store import boundaries as bstore
from geo.store import heat as hstore
from geo.store import patrol as patrol_store
from geo.store import registers
from geo.store.models import (
    AdminUnitVersion,
    Compound,
    CompoundGovernance,
    Incident,
    PatrolVisit,
)

WGS84 = f"EPSG:{STORAGE_SRID}"

GRID_COLUMNS = [
    "unit_id",
    "code",
    "name",
    "community_code",
    "street_code",
    "worker",
    "has_worker",
    "incidents",
    "previous",
    "change",
    "households",
    "per_1000_households",
    "cells",
    "covered_cells",
    "coverage",
    "days_since_visit",
    "unowned",
    "area_km2",
    "unowned_per_km2",
    "unowned_per_1000",
]


@dataclass
class DashboardFilters:
    """What the supervisor asked for (query parameters of ``/dashboard``)."""

    start: str | None = None
    end: str | None = None
    days: int = 30
    res: int | None = None
    categories: Sequence[str] = ()
    street: str | None = None
    community: str | None = None


@dataclass
class DashboardFigures:
    """Everything the dashboard draws, in EPSG:4326.

    Attributes
    ----------
    window
        The window of incident report times; patrol days are its Beijing dates.
    res
        H3 resolution of the heat and unowned-compound cells.
    grids
        One row per grid in scope: :data:`GRID_COLUMNS` and ``geometry``.
        ``coverage`` and ``days_since_visit`` are NaN when unknown (no cell /
        never visited); ``worker`` is the worker names joined by "、" ("" if none).
    cells
        Heat cells with an incident in the window or the one before: ``cell`` (hex),
        ``incidents``, ``previous``, ``change``, ``rising`` (:func:`geo.incidents.heat.rising`),
        hexagon ``geometry``.
    daily
        ``cell`` (hex), ``day`` (0 = the window's first Beijing day), ``count``.
    gaps
        Unvisited patrol cells of the grids in scope (``grid_code``, ``cell``,
        ``days_since_visit`` NaN = never) — None when no street/community is chosen.
    unowned_cells
        Cells holding an unowned compound: ``cell``, ``unowned``, ``households``
        (of all compounds there), ``area_km2``, ``per_km2``, ``per_1000``, geometry.
    compounds
        Compounds in the grids in scope: ``name``, ``management_type``,
        ``households``, point ``geometry``.
    places
        Live streets and communities (level, code, name, parent_code) for the form.
    street, community
        The chosen units (unit_id, code, name) or None.
    categories
        The chosen incident categories (empty: all).
    """

    window: heat.Window
    res: int
    grids: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    daily: pd.DataFrame
    gaps: gpd.GeoDataFrame | None
    unowned_cells: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    places: pd.DataFrame = field(default_factory=pd.DataFrame)
    street: dict | None = None
    community: dict | None = None
    categories: tuple[str, ...] = ()


# The campaign's management modes as the register's management types: professional
# (专业型) is a property company; community-run (社区型) is managed by an organisation,
# like a unit; self-governed (自治型) is self-governed.
MODE_TO_MANAGEMENT = {
    "professional": "property_company",
    "community": "unit",
    "self_governed": "self_governed",
}


def struck_off_modes(conn: Connection) -> dict[int, str]:
    """Compounds the unowned-compound campaign has struck off (销号) → the management
    type their chosen mode amounts to: they are managed now."""
    g = CompoundGovernance
    rows = conn.execute(select(g.compound_id, g.mode).where(g.struck_off_on.is_not(None)))
    return {int(c): MODE_TO_MANAGEMENT.get(m or "", "self_governed") for c, m in rows}


def unowned_by_grid(conn: Connection) -> dict[int, int]:
    """Unowned compounds per live grid unit id (point on surface inside the grid); a
    compound the campaign has struck off no longer counts."""
    v = AdminUnitVersion
    g = CompoundGovernance
    live = bstore.live_units_subquery()
    rows = conn.execute(
        select(v.unit_id, func.count(Compound.id))
        .join(live, live.c.id == v.id)
        .join(Compound, gf.ST_Contains(v.geom, gf.ST_PointOnSurface(Compound.geom)))
        .outerjoin(g, g.compound_id == Compound.id)
        .where(v.level == "grid", Compound.management_type == "unowned")
        .where(g.struck_off_on.is_(None))
        .group_by(v.unit_id)
    ).all()
    return {int(u): int(n) for u, n in rows}


def _workers(conn: Connection) -> dict[int, str]:
    people = registers.live_people(conn)
    people = people[people["role"] == "worker"]
    return {int(u): "、".join(g["name"].astype(str)) for u, g in people.groupby("unit_id")}


def _coverage(
    grids: gpd.GeoDataFrame, conn: Connection, window: heat.Window, res: int, *, gaps: bool
) -> tuple[pd.DataFrame, gpd.GeoDataFrame | None]:
    """Per-grid coverage (:func:`geo.patrol.coverage.unit_coverage`) and, if asked, the gaps."""
    units = gpd.GeoDataFrame(
        {"code": grids["code"].to_numpy(), "level": "grid"},
        geometry=grids.geometry.to_numpy(),
        crs=WGS84,
    )
    visits = patrol_store.visits_frame(conn, end=window.last_day())
    first, last = window.first_day(), window.last_day()
    cells = coverage.unit_cells(units, res)
    per_grid = coverage.unit_coverage(units, cells, visits, first, last)
    if not gaps:
        return per_grid, None
    return per_grid, coverage.gap_cells(coverage.cell_coverage(cells, visits, first, last))


def _unowned_cells(compounds: gpd.GeoDataFrame, res: int) -> gpd.GeoDataFrame:
    pts = compounds.geometry
    cells = hexgrid.cells_of(pts.x.to_numpy(), pts.y.to_numpy(), res)
    frame = pd.DataFrame(
        {
            "cell": cells,
            "unowned": (compounds["management_type"] == "unowned").to_numpy(dtype=np.int64),
            "households": compounds["households"].fillna(0).to_numpy(dtype=np.int64),
        }
    )
    agg = frame.groupby("cell", as_index=False).sum()
    agg = agg[agg["unowned"] > 0].reset_index(drop=True)
    polys = hexgrid.cell_polygons(agg["cell"].to_numpy())
    area = heat.geodesic_area_km2(polys)
    return gpd.GeoDataFrame(
        {
            "cell": [hexgrid.cell_to_str(c) for c in agg["cell"]],
            "unowned": agg["unowned"].to_numpy(),
            "households": agg["households"].to_numpy(),
            "area_km2": area,
            "per_km2": agg["unowned"].to_numpy() / np.where(area > 0, area, np.nan),
            "per_1000": heat.rate_per_1000(agg["unowned"], agg["households"]),
        },
        geometry=polys,
        crs=WGS84,
    )


def _grid_frame(conn: Connection, totals: pd.DataFrame) -> gpd.GeoDataFrame:
    """The heat's per-grid totals with each grid's shape and worker(s)."""
    shapes = bstore.units_frame(conn, levels=("grid",))
    shapes = shapes.set_index(shapes["unit_id"].astype("int64"))
    grids = gpd.GeoDataFrame(
        totals.rename(columns={"count": "incidents"}),
        geometry=shapes.geometry.reindex(totals["unit_id"].astype("int64")).to_numpy(),
        crs=WGS84,
    )
    workers = _workers(conn)
    grids["worker"] = [workers.get(int(u), "") for u in grids["unit_id"]]
    grids["has_worker"] = grids["worker"] != ""
    return grids


def _add_coverage(grids: gpd.GeoDataFrame, per_grid: pd.DataFrame) -> None:
    per = per_grid.set_index("code")
    grids["cells"] = grids["code"].map(per["cell_count"]).fillna(0).astype("int64")
    grids["covered_cells"] = grids["code"].map(per["visited_cells"]).fillna(0).astype("int64")
    grids["coverage"] = grids["code"].map(per["share_visited"]).astype(float)
    grids["days_since_visit"] = grids["code"].map(per["days_since_last_visit"]).astype(float)


def _compound_points(conn: Connection, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The compounds inside the grids in scope, as points on their surface."""
    comp = registers.compounds_frame(conn)
    # Struck off in the campaign (销号): shown by the mode they got, not as unowned.
    modes = struck_off_modes(conn)
    done = comp["id"].isin(modes) & (comp["management_type"] == "unowned")
    comp.loc[done, "management_type"] = comp.loc[done, "id"].map(modes)
    points = gpd.GeoDataFrame(
        comp[["name", "management_type", "households"]].reset_index(drop=True),
        geometry=shapely.point_on_surface(comp.geometry.to_numpy()),
        crs=WGS84,
    )
    in_scope = shapely.STRtree(grids.geometry.to_numpy()).query(
        points.geometry.to_numpy(), predicate="within"
    )
    return points.iloc[np.unique(in_scope[0])].reset_index(drop=True)


def _add_unowned(conn: Connection, grids: gpd.GeoDataFrame) -> None:
    unowned = unowned_by_grid(conn)
    grids["unowned"] = [unowned.get(int(u), 0) for u in grids["unit_id"]]
    grids["area_km2"] = heat.geodesic_area_km2(grids.geometry.to_numpy())
    grids["unowned_per_km2"] = grids["unowned"] / grids["area_km2"].where(grids["area_km2"] > 0)
    grids["unowned_per_1000"] = heat.rate_per_1000(grids["unowned"], grids["households"])


def _cell_frame(cells: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "cell": [hexgrid.cell_to_str(c) for c in cells["cell"]],
            "incidents": cells["count"].to_numpy(),
            "previous": cells["previous"].to_numpy(),
            "change": cells["change"].to_numpy(),
            "rising": cells["rising"].to_numpy(dtype=bool),
        },
        geometry=hexgrid.cell_polygons(cells["cell"].to_numpy()),
        crs=WGS84,
    )


def _daily(rows: pd.DataFrame, res: int, window: heat.Window) -> pd.DataFrame:
    row_cells = hexgrid.cells_of(rows["lon"].to_numpy(), rows["lat"].to_numpy(), res)
    daily = heat.daily_cell_counts(row_cells, rows["reported_at"], window)
    daily["cell"] = [hexgrid.cell_to_str(c) for c in daily["cell"]]
    return daily


def _gap_frame(gap_cells: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gap_cells is None:
        return None
    return gpd.GeoDataFrame(
        {
            "grid_code": gap_cells["grid_code"].to_numpy(),
            "cell": [hexgrid.cell_to_str(c) for c in gap_cells["cell"]],
            "days_since_visit": gap_cells["days_since_last_visit"].astype(float).to_numpy(),
        },
        geometry=gap_cells.geometry.to_numpy(),
        crs=WGS84,
    )


def dashboard_figures(
    conn: Connection, filters: DashboardFilters, *, heatmap_res: int = 9, patrol_res: int = 10
) -> DashboardFigures:
    """All dashboard figures for ``filters`` (see the module doc)."""
    res = heat.check_res(filters.res or heatmap_res)
    f = hstore.heat_figures(
        conn,
        res=res,
        start=filters.start,
        end=filters.end,
        days=filters.days,
        categories=list(filters.categories),
        street=filters.street,
        community=filters.community,
    )
    window: heat.Window = f["window"]
    grids = _grid_frame(conn, f["grids"])
    scoped = bool(filters.street or filters.community)
    per_grid, gap_cells = _coverage(grids, conn, window, patrol_res, gaps=scoped)
    _add_coverage(grids, per_grid)
    points = _compound_points(conn, grids)
    _add_unowned(conn, grids)
    return DashboardFigures(
        window=window,
        res=res,
        grids=grids[[*GRID_COLUMNS, "geometry"]],
        cells=_cell_frame(f["cells"]),
        daily=_daily(f["rows"], res, window),
        gaps=_gap_frame(gap_cells),
        unowned_cells=_unowned_cells(points, res),
        compounds=points,
        places=hstore.street_and_community_names(conn),
        street=f["street"],
        community=f["community"],
        categories=tuple(filters.categories),
    )


def dashboard_data_token(conn: Connection) -> str:
    """Changes whenever incidents or patrol visits change (cheap: two index lookups)."""
    inc = conn.execute(select(func.max(Incident.id), func.max(Incident.updated_at))).one()
    vis = conn.execute(select(func.max(PatrolVisit.last_seen), func.count())).one()
    return f"{inc[0]}-{inc[1]}-{vis[0]}-{vis[1]}"
