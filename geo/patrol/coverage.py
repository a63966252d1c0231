"""Patrol coverage of grids and their parents from per-cell visits (pure).

Inputs are plain frames: the units (``code``, ``level``, ``geometry`` in WGS-84,
optionally ``parent_code`` and ``name``) and the visits of
:func:`geo.patrol.visits_by_worker` (``cell``, ``day``, ``worker_code``,
``first_seen``, ``last_seen``, ``pass_count``). Days are local calendar days; a
window is ``start``–``end``, both included.

Cell membership: a res-10 cell belongs to a grid when the cell's centre lies inside
the grid — h3's own polygon fill with ``contain="center"`` — so the grids of a tiling
share out the cells with none counted twice, and a cell cut by a grid border counts
where its centre is. A grid too small to hold any cell centre gets the one cell
containing its representative point (``fallback`` is True). Parents (community,
street, district) do not fill their own polygons: their cells are their grids'
cells, so a parent's counts are the sums of its grids'. The parent of a unit is
``parent_code`` or, without that column, the unit whose code is the longest prefix
of its code (the Chinese codes nest: 410799 → 410799001 → …).

``days_since_last_visit`` counts from the window's end to the last visit on or
before it, looking at every visit given (also before the window); empty (``<NA>``)
when never visited. Pass, worker and visited-cell counts look only inside the window.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import hexgrid
from geo.errors import InvalidInput

# A day as the callers give it: a date (or datetime), an ISO string or a numpy/pandas time.
DayLike: TypeAlias = "dt.date | str | np.datetime64 | pd.Timestamp"

CELL_COLUMNS = [
    "grid_code",
    "cell",
    "visited",
    "pass_count",
    "worker_count",
    "last_visit_day",
    "days_since_last_visit",
]


def _day(value: DayLike) -> np.datetime64:
    return np.datetime64(pd.Timestamp(value).date(), "D")


def _days(values: pd.Series) -> np.ndarray:
    """Any day column (dates, strings, timestamps) as datetime64[D]."""
    if len(values) == 0:
        return np.empty(0, dtype="datetime64[D]")
    s = pd.to_datetime(pd.Series(values).astype(object).map(str))
    return s.to_numpy().astype("datetime64[D]")


def _in_wgs84(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    for col in ("code", "level", "geometry"):
        if col not in units:
            raise InvalidInput(
                f"units need a {col!r} column", f"单元数据缺少 {col!r} 列", column=col
            )
    if units.crs is not None and units.crs.to_epsg() != 4326:
        units = units.to_crs(4326)
    return units


def unit_cells(units: gpd.GeoDataFrame, res: int = 10) -> pd.DataFrame:
    """The res-``res`` cells of every grid (rows of ``level == "grid"``).

    Returns columns grid_code, cell (int64), fallback (bool; see module doc),
    sorted by grid_code and cell.
    """
    units = _in_wgs84(units)
    grids = units[units["level"] == "grid"]
    codes: list[str] = []
    cells: list[np.ndarray] = []
    fallback: list[bool] = []
    for code, geom in zip(grids["code"].astype(str), grids.geometry, strict=True):
        got = hexgrid.polygon_cells(geom, res)
        small = got.size == 0 and geom is not None and not geom.is_empty
        if small:
            pt = geom.representative_point()
            got = np.array([hexgrid.cell_of(pt.x, pt.y, res)], dtype=np.int64)
        codes.extend([code] * got.size)
        cells.append(got)
        fallback.extend([small] * got.size)
    out = pd.DataFrame(
        {
            "grid_code": pd.Series(codes, dtype=object),
            "cell": np.concatenate(cells) if cells else np.empty(0, dtype=np.int64),
            "fallback": np.array(fallback, dtype=bool),
        }
    )
    return out.sort_values(["grid_code", "cell"], ignore_index=True)


def _visits_until(visits: pd.DataFrame, end: np.datetime64) -> pd.DataFrame:
    v = pd.DataFrame(
        {
            "cell": visits["cell"].to_numpy(dtype=np.int64),
            "day": _days(visits["day"]),
            "worker_code": visits["worker_code"].astype(str).to_numpy(dtype=object),
            "pass_count": visits["pass_count"].to_numpy(dtype=np.int64),
        }
    )
    return v[v["day"] <= end]


def cell_coverage(
    cells: pd.DataFrame, visits: pd.DataFrame, start: DayLike, end: DayLike
) -> pd.DataFrame:
    """Per grid cell in the window ``start``–``end``: visited, passes, workers, last visit.

    Returns columns grid_code, cell, visited (bool), pass_count, worker_count,
    last_visit_day (datetime64[D]; NaT: never), days_since_last_visit (Int64).
    """
    start, end = _day(start), _day(end)
    v = _visits_until(visits, end)
    inside = v[v["day"] >= start]
    per = inside.groupby("cell").agg(
        pass_count=("pass_count", "sum"), worker_count=("worker_code", "nunique")
    )
    last = v.groupby("cell")["day"].max()
    out = cells[["grid_code", "cell"]].copy()
    out["pass_count"] = out["cell"].map(per["pass_count"]).fillna(0).astype(np.int64)
    out["worker_count"] = out["cell"].map(per["worker_count"]).fillna(0).astype(np.int64)
    out["visited"] = out["pass_count"] > 0
    # reindex, not map: Series.map of an empty datetime Series fails in pandas (a window
    # with no visits at all answered 500).
    out["last_visit_day"] = last.reindex(out["cell"].to_numpy()).to_numpy().astype("datetime64[s]")
    out["days_since_last_visit"] = _days_since(out["last_visit_day"], end)
    return out[CELL_COLUMNS]


def _days_since(last: pd.Series, end: np.datetime64) -> pd.Series:
    days = (pd.Timestamp(end) - last).dt.days
    return days.astype("Int64")


def _parents(units: pd.DataFrame) -> dict[str, str | None]:
    codes = units["code"].astype(str).tolist()
    if "parent_code" in units:
        return {
            c: (None if pd.isna(p) else str(p))
            for c, p in zip(codes, units["parent_code"], strict=True)
        }
    known = set(codes)
    parents: dict[str, str | None] = {}
    for c in codes:
        parents[c] = next((c[:k] for k in range(len(c) - 1, 0, -1) if c[:k] in known), None)
    return parents


def _grid_ancestors(units: pd.DataFrame) -> pd.DataFrame:
    """(grid_code, code) for every grid and each unit above it, the grid itself too."""
    parent = _parents(units)
    rows = []
    for g in units.loc[units["level"] == "grid", "code"].astype(str):
        cur: str | None = g
        seen = set()
        while cur is not None and cur not in seen:
            rows.append((g, cur))
            seen.add(cur)
            cur = parent.get(cur)
    return pd.DataFrame(rows, columns=["grid_code", "code"])


def unit_coverage(
    units: gpd.GeoDataFrame,
    cells: pd.DataFrame,
    visits: pd.DataFrame,
    start: DayLike,
    end: DayLike,
) -> pd.DataFrame:
    """Coverage per unit of every level in the window ``start``–``end``.

    Returns columns code, name (if given), level, parent_code, cell_count,
    visited_cells, share_visited (NaN for a unit with no cells), pass_count,
    worker_count (distinct workers over the unit's cells), last_visit_day,
    days_since_last_visit; one row per unit, in the order of ``units``.
    """
    start, end = _day(start), _day(end)
    cov = cell_coverage(cells, visits, start, end)
    anc = _grid_ancestors(units)
    per_cell = anc.merge(cov, on="grid_code")
    agg = per_cell.groupby("code").agg(
        cell_count=("cell", "size"),
        visited_cells=("visited", "sum"),
        pass_count=("pass_count", "sum"),
        last_visit_day=("last_visit_day", "max"),
    )
    v = _visits_until(visits, end)
    v = v[v["day"] >= start]
    workers = (
        anc.merge(cells[["grid_code", "cell"]], on="grid_code")
        .merge(v[["cell", "worker_code"]], on="cell")
        .groupby("code")["worker_code"]
        .nunique()
    )
    parent = _parents(units)
    codes = units["code"].astype(str)
    out = pd.DataFrame({"code": codes.to_numpy(dtype=object)})
    if "name" in units:
        out["name"] = units["name"].to_numpy(dtype=object)
    out["level"] = units["level"].to_numpy(dtype=object)
    out["parent_code"] = pd.Series([parent[c] for c in codes], dtype=object)
    for col in ("cell_count", "visited_cells", "pass_count"):
        out[col] = out["code"].map(agg[col]).fillna(0).astype(np.int64)
    out["share_visited"] = np.where(
        out["cell_count"] > 0, out["visited_cells"] / out["cell_count"].clip(lower=1), np.nan
    )
    out["worker_count"] = out["code"].map(workers).fillna(0).astype(np.int64)
    out["last_visit_day"] = out["code"].map(agg["last_visit_day"]).astype("datetime64[s]")
    out["days_since_last_visit"] = _days_since(out["last_visit_day"], end)
    return out


def gap_cells(cell_cov: pd.DataFrame) -> gpd.GeoDataFrame:
    """Cells not visited in the window, as hexagons (EPSG:4326), one row per cell.

    Columns grid_code, cell, last_visit_day, days_since_last_visit, geometry.
    """
    gaps = cell_cov.loc[
        ~cell_cov["visited"], ["grid_code", "cell", "last_visit_day", "days_since_last_visit"]
    ]
    return gpd.GeoDataFrame(
        gaps.reset_index(drop=True),
        geometry=hexgrid.cell_polygons(gaps["cell"].to_numpy()),
        crs="EPSG:4326",
    )


def dissolve_gaps(gaps: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Gap hexagons merged per grid into (Multi)Polygons: grid_code, cells, geometry."""
    if gaps.empty:
        return gpd.GeoDataFrame({"grid_code": [], "cells": []}, geometry=[], crs="EPSG:4326")
    groups = gaps.groupby("grid_code", sort=True)
    return gpd.GeoDataFrame(
        {"grid_code": list(groups.groups), "cells": groups.size().to_numpy()},
        geometry=[shapely.union_all(g.geometry.to_numpy()) for _, g in groups],
        crs="EPSG:4326",
    )


def worker_coverage(
    cells: pd.DataFrame, visits: pd.DataFrame, start: DayLike, end: DayLike
) -> pd.DataFrame:
    """Per (grid_code, worker_code) in the window: passes, cells visited, days, times.

    Returns columns grid_code, worker_code, pass_count, cells_visited, days_active,
    first_seen, last_seen; sorted by grid_code, worker_code.
    """
    start, end = _day(start), _day(end)
    days = _days(visits["day"])
    keep = (days >= start) & (days <= end)
    v = visits.loc[keep, ["cell", "worker_code", "pass_count", "first_seen", "last_seen"]]
    v = v.assign(day=days[keep], worker_code=v["worker_code"].astype(str).to_numpy(object))
    m = cells[["grid_code", "cell"]].merge(v, on="cell")
    if m.empty:
        return pd.DataFrame(
            columns=[
                "grid_code",
                "worker_code",
                "pass_count",
                "cells_visited",
                "days_active",
                "first_seen",
                "last_seen",
            ]
        )
    return m.groupby(["grid_code", "worker_code"], as_index=False, sort=True).agg(
        pass_count=("pass_count", "sum"),
        cells_visited=("cell", "nunique"),
        days_active=("day", "nunique"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
    )


def stale_grids(unit_cov: pd.DataFrame, n_days: int) -> pd.DataFrame:
    """Grids with no patrol in the last ``n_days`` days of the window (or never).

    A grid is stale when its last visit is ``n_days`` or more days before the
    window's end, i.e. none of the days end-n+1 … end saw a patrol.
    """
    grids = unit_cov[unit_cov["level"] == "grid"]
    since = grids["days_since_last_visit"]
    return grids[since.isna() | (since >= n_days)].reset_index(drop=True)


@dataclass
class Coverage:
    """Everything the coverage dashboard shows for one window."""

    start: dt.date
    end: dt.date
    cells: pd.DataFrame  # cell_coverage
    units: pd.DataFrame  # unit_coverage
    gaps: gpd.GeoDataFrame  # gap_cells
    workers: pd.DataFrame  # worker_coverage
    stale: pd.DataFrame  # stale_grids


def coverage(
    units: gpd.GeoDataFrame,
    visits: pd.DataFrame,
    start: DayLike,
    end: DayLike,
    *,
    res: int = 10,
    stale_after_days: int = 7,
    cells: pd.DataFrame | None = None,
) -> Coverage:
    """Coverage of every unit in the window ``start``–``end`` (see the module doc).

    ``cells`` (from :func:`unit_cells`) may be passed to reuse a membership.
    """
    if _day(end) < _day(start):
        raise InvalidInput(
            f"the window ends ({end}) before it starts ({start})",
            f"时间窗口的结束日期（{end}）早于开始日期（{start}）",
        )
    cells = unit_cells(units, res) if cells is None else cells
    cov = cell_coverage(cells, visits, start, end)
    per_unit = unit_coverage(units, cells, visits, start, end)
    return Coverage(
        pd.Timestamp(start).date(),
        pd.Timestamp(end).date(),
        cov,
        per_unit,
        gap_cells(cov),
        worker_coverage(cells, visits, start, end),
        stale_grids(per_unit, stale_after_days),
    )


def descendant_codes(units: pd.DataFrame, code: str) -> set[str]:
    """``code`` and the codes of every unit below it, by ``parent_code``."""
    children: dict[str, list[str]] = {}
    for c, p in zip(units["code"], units["parent_code"], strict=True):
        children.setdefault(p, []).append(c)
    out, todo = {code}, [code]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out
