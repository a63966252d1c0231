"""What an edit changes for people on the ground: pure functions over before/after grids.

A thing (compound, incident, special grid, patrol cell) "changes grid" when the unit
holding its point before the edit is not the unit holding it after. Units are keyed by
their stable id, so a grid that only changes code (moved to another community) keeps
its compounds; a new grid from a split is keyed by its new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.hexgrid import cell_centers, cell_to_str

WORKLOAD_COLUMNS = ("households", "compounds", "unowned_compounds", "incidents_30d")


def locate(x: np.ndarray, y: np.ndarray, keys: list, geoms: list) -> list:
    """For each point, the key of the geometry covering it (None if none does).

    A point on a shared border goes to the smallest key, as the locator rules.
    """
    out: list = [None] * len(x)
    if not len(x) or not geoms:
        return out
    points = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    tree = shapely.STRtree(np.asarray(geoms, dtype=object))
    pi, gi = tree.query(points, predicate="covered_by")
    for p, g in sorted(
        zip(pi.tolist(), gi.tolist(), strict=True), key=lambda t: (t[0], str(keys[t[1]]))
    ):
        if out[p] is None:
            out[p] = keys[g]
    return out


def moves(frame: pd.DataFrame, before: list, after: list, label: dict) -> list[dict]:
    """Rows of ``frame`` whose unit differs before/after, with both grid codes."""
    rows = []
    for rec, b, a in zip(frame.to_dict("records"), before, after, strict=True):
        if b != a:
            rows.append({**rec, "grid_before": label.get(b), "grid_after": label.get(a)})
    return rows


def workload(
    keys: list, label: dict, compounds: pd.DataFrame, where: list, incidents_30d: list
) -> dict[str, dict]:
    """Per grid (by code): households, compounds, unowned compounds, incidents (30 days)."""
    out = {label[k]: dict.fromkeys(WORKLOAD_COLUMNS, 0) for k in keys}
    for rec, k in zip(compounds.to_dict("records"), where, strict=True):
        if k in keys:
            w = out[label[k]]
            w["compounds"] += 1
            households = rec.get("households")  # NaN in a frame when the ledger has none
            w["households"] += int(households) if pd.notna(households) else 0
            w["unowned_compounds"] += rec.get("management_type") == "unowned"
    for k in incidents_30d:
        if k in keys:
            out[label[k]]["incidents_30d"] += 1
    return out


@dataclass(frozen=True)
class Keyed:
    """The touched grids of one side (before or after): key, geometry, code."""

    keys: list
    geoms: list
    label: dict

    @property
    def unit_ids(self) -> list[int]:
        return [k for k in self.keys if isinstance(k, int)]


@dataclass(frozen=True)
class Nearby:
    """What lies near the touched grids (read by :func:`geo.store.edit_impact.nearby`)."""

    now: datetime
    compounds: pd.DataFrame  # id, name, households, management_type, x, y
    incidents: pd.DataFrame  # id, source, external_id, category, status, reported_at, x, y
    special: pd.DataFrame  # code, name, kind, x, y
    cells: list  # H3 cells patrolled in the grids before the edit
    people: list[dict]  # unit_id, role, worker_code, name


def keyed(frame: gpd.GeoDataFrame, touched: set[str]) -> Keyed:
    """The touched grids of ``frame``, keyed by stable unit id (``new:<code>`` for a
    grid the edit creates)."""
    rows = frame[(frame["level"] == "grid") & frame["code"].isin(touched)]
    keys = [
        int(u) if u is not None and not pd.isna(u) else f"new:{c}"
        for u, c in zip(rows["unit_id"], rows["code"], strict=True)
    ]
    return Keyed(keys, list(rows.geometry), dict(zip(keys, rows["code"], strict=True)))


def sides(
    live: gpd.GeoDataFrame, after: gpd.GeoDataFrame, touched: set[str]
) -> tuple[Keyed, Keyed]:
    """The touched grids before and after (after: also under the codes they moved to)."""
    after_touched = touched | set(
        after.loc[after["unit_id"].isin(live.loc[live["code"].isin(touched), "unit_id"]), "code"]
    )
    return keyed(live, touched), keyed(after, after_touched)


def bbox(before: Keyed, after: Keyed) -> list[float]:
    """The box around both sides' grids."""
    return shapely.total_bounds(np.asarray(before.geoms + after.geoms, dtype=object)).tolist()


def summarise(near: Nearby, before: Keyed, after: Keyed) -> dict:
    """Compounds, households, special grids, workers, open incidents and patrol cells
    that change grid, and the before/after workload of every touched grid."""
    label = {**before.label, **after.label}
    compounds, incidents, special = near.compounds, near.incidents, near.special
    cell_lon, cell_lat = cell_centers(near.cells)

    def both(x, y) -> tuple[list, list]:
        x, y = np.asarray(x), np.asarray(y)
        return locate(x, y, before.keys, before.geoms), locate(x, y, after.keys, after.geoms)

    cb, ca = both(compounds.x, compounds.y)
    ib, ia = both(incidents.x, incidents.y)
    sb, sa = both(special.x, special.y)
    hb, ha = both(cell_lon, cell_lat)
    month_ago = near.now - timedelta(days=30)
    recent = incidents["reported_at"] >= month_ago if len(incidents) else []
    open_ = incidents["status"] != "closed" if len(incidents) else []
    compound_moves = moves(compounds.drop(columns=["x", "y"]), cb, ca, label)
    open_incidents = incidents[open_] if len(incidents) else incidents
    open_moves = moves(
        open_incidents.drop(columns=["x", "y", "reported_at"]),
        [k for k, o in zip(ib, open_, strict=True) if o],
        [k for k, o in zip(ia, open_, strict=True) if o],
        label,
    )
    cell_frame = pd.DataFrame({"h3_cell": [cell_to_str(c) for c in near.cells]})
    retired_units = set(before.keys) - set(after.keys)
    people = near.people
    return {
        "compounds": compound_moves,
        "households": int(sum(int(m.get("households") or 0) for m in compound_moves)),
        "special_grids": moves(special.drop(columns=["x", "y"]), sb, sa, label),
        "workers_losing_grid": [
            {**p, "grid": before.label[p["unit_id"]], "grid_after": None}
            for p in people
            if p["unit_id"] in retired_units
        ],
        "workers": [{**p, "grid": before.label[p["unit_id"]]} for p in people],
        "open_incidents": open_moves,
        "patrol_cells": moves(cell_frame, hb, ha, label),
        "workload_before": _workload_of(before, compounds, cb, ib, recent),
        "workload_after": _workload_of(after, compounds, ca, ia, recent),
    }


def _workload_of(side: Keyed, compounds: pd.DataFrame, where: list, inc: list, recent) -> dict:
    recent_keys = [k for k, r in zip(inc, recent, strict=True) if r]
    return workload(side.keys, side.label, compounds, where, recent_keys)
