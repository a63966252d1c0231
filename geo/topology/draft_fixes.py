"""The fix helpers applied to named units of a draft set (pure): each takes the draft's
units and the map it would produce (frames with code, parent_code, geometry) and
returns the new geometry of every unit it changes.

The geometry itself is :mod:`geo.topology.fixes`; applying the result to a draft (and
refusing anything but a draft) is the use case :mod:`geo.services.fixes`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs.metric import polygon_pieces
from geo.errors import InvalidInput
from geo.topology.findings import Finding, ValidationOptions
from geo.topology.fixes import (
    MetreFrame,
    fix_assign_gap,
    fix_snap_to_parent,
    fix_split_overlap,
    tidy_metric,
)

FIXES = ("snap_to_parent", "assign_gap", "split_overlap")
# The CLI's short names.
SHORT_NAMES = {"snap": "snap_to_parent", "gap": "assign_gap", "overlap": "split_overlap"}


def finding_counts(findings: list[Finding]) -> dict[str, Any]:
    """Findings by severity and by type (what a planner compares before/after)."""
    by_severity = Counter(f.severity for f in findings)
    return {
        "error": by_severity.get("error", 0),
        "warning": by_severity.get("warning", 0),
        "by_type": dict(sorted(Counter(f.type for f in findings).items())),
    }


def _row(frame: gpd.GeoDataFrame, code: str, what: str, set_id: int) -> pd.Series:
    rows = frame[frame["code"] == code]
    if rows.empty:
        raise InvalidInput(
            f"{what} {code} is not in draft boundary set {set_id}",
            f"草稿边界集 {set_id} 中没有{'单元' if what == 'unit' else '上级单元'} {code}",
        )
    return rows.iloc[0]


def snap(
    draft: gpd.GeoDataFrame,
    world: gpd.GeoDataFrame,
    codes: list[str],
    tolerance_m: float,
    set_id: int,
) -> dict[str, BaseGeometry]:
    """Each unit's border snapped onto its parent's within ``tolerance_m``."""
    out = {}
    for code in codes:
        child = _row(draft, code, "unit", set_id)
        if not child["parent_code"]:
            raise InvalidInput(
                f"unit {code} has no parent to snap to", f"单元 {code} 没有上级，无法吸附"
            )
        parent = _row(world, child["parent_code"], "parent", set_id)
        out[code] = fix_snap_to_parent(child.geometry, parent.geometry, tolerance_m)
    return out


def fill_gaps(
    draft: gpd.GeoDataFrame, world: gpd.GeoDataFrame, codes: list[str], set_id: int
) -> tuple[dict[str, BaseGeometry], float]:
    """Each gap piece of each named parent goes to the child suggested by
    fix_assign_gap; also the gap area no child borders (m²)."""
    tolerance = ValidationOptions().gap_tolerance_m2
    out: dict[str, BaseGeometry] = {}
    unassigned = 0.0
    for parent_code in codes:
        parent = _row(world, parent_code, "parent", set_id)
        kids = draft[draft["parent_code"] == parent_code]
        if kids.empty:
            raise InvalidInput(
                f"no unit of draft boundary set {set_id} has parent {parent_code}",
                f"草稿边界集 {set_id} 中没有以 {parent_code} 为上级的单元",
            )
        kid_geoms = {r.code: out.get(r.code, r.geometry) for r in kids.itertuples()}
        # In one metric frame, so vertices shared with the parent and the other
        # children come back bit for bit (see geo.topology.fixes.MetreFrame).
        frame = MetreFrame(parent.geometry, *kid_geoms.values())
        kid_m = {c: frame.there(g) for c, g in kid_geoms.items()}
        gap = tidy_metric(
            shapely.difference(
                frame.there(parent.geometry), shapely.union_all(list(kid_m.values()))
            )
        )
        pieces = polygon_pieces(gap)
        given: dict[str, list] = {}
        for piece in pieces[shapely.area(pieces) > tolerance]:
            owner = fix_assign_gap(frame.back(piece), kid_geoms)
            if owner is None:
                unassigned += float(shapely.area(piece))
            else:
                given.setdefault(owner, []).append(piece)
        for code, extra in given.items():
            out[code] = frame.back(tidy_metric(shapely.union_all([kid_m[code], *extra])))
    return out, unassigned


def split_overlap(
    draft: gpd.GeoDataFrame, codes: list[str], set_id: int
) -> dict[str, BaseGeometry]:
    """The overlap of the two named units split along its middle."""
    if len(codes) != 2 or codes[0] == codes[1]:
        raise InvalidInput(
            "split_overlap needs exactly two different codes (the two owners)",
            "split_overlap 需要两个不同的编码（重叠的双方）",
        )
    a, b = (_row(draft, c, "unit", set_id) for c in codes)
    new_a, new_b = fix_split_overlap(a.geometry, b.geometry)
    return {codes[0]: new_a, codes[1]: new_b}


def checked_request(fix: str, codes: list[str], tolerance_m: float) -> tuple[str, list[str]]:
    """The fix's full name and the codes, stripped; InvalidInput for an unknown fix, no
    codes or a tolerance outside (0, 50] m."""
    fix = SHORT_NAMES.get(fix, fix)
    if fix not in FIXES:
        raise InvalidInput(
            f"unknown fix {fix!r}; use one of {list(FIXES)}",
            f"未知修复 {fix!r}；应为 {list(FIXES)} 之一",
        )
    codes = [str(c).strip() for c in codes if str(c).strip()]
    if not codes:
        raise InvalidInput("name the codes to fix", "请指定要修复的编码")
    if not (0 < tolerance_m <= 50):
        raise InvalidInput("tolerance_m must be in (0, 50] m", "tolerance_m 应在 (0, 50] 米之间")
    return fix, codes


def changed_only(draft: gpd.GeoDataFrame, new: dict[str, BaseGeometry]) -> dict[str, BaseGeometry]:
    """The new geometries that differ from the draft's (bit for bit, after normalising)."""
    old = dict(zip(draft["code"], draft.geometry, strict=True))
    return {
        c: g
        for c, g in new.items()
        if not shapely.equals_exact(shapely.normalize(old[c]), shapely.normalize(g), 0.0)
    }
