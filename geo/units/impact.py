"""What an edit changes for people on the ground: pure functions over before/after grids.

A thing (compound, incident, special grid, patrol cell) "changes grid" when the unit
holding its point before the edit is not the unit holding it after. Units are keyed by
their stable id, so a grid that only changes code (moved to another community) keeps
its compounds; a new grid from a split is keyed by its new code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

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
            w["households"] += int(rec.get("households") or 0)
            w["unowned_compounds"] += rec.get("management_type") == "unowned"
    for k in incidents_30d:
        if k in keys:
            out[label[k]]["incidents_30d"] += 1
    return out
