"""The topology fix helpers applied on request: to a file at import, or to a DRAFT set.

The fixes themselves are pure (:mod:`geo.topology.fixes`); this module picks their
inputs from a draft set and the live map, writes the new geometries of the draft's
units in the caller's transaction (:mod:`geo.store.draft_edits`, which refuses any
set that is not a draft: the live map is never fixed in place) and reports the
findings before and after. Nothing is applied silently: each call names the fix
and the codes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import geopandas as gpd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import Connection

from geo import topology
from geo.crs.metric import polygon_pieces
from geo.errors import InvalidInput
from geo.store import audit, draft_edits
from geo.store import boundaries as bstore
from geo.topology.findings import ValidationOptions
from geo.topology.fixes import (
    MetreFrame,
    fix_assign_gap,
    fix_make_valid,
    fix_snap_to_parent,
    fix_split_overlap,
    tidy_metric,
)

from boundaries import sets

FIXES = ("snap_to_parent", "assign_gap", "split_overlap")
# The CLI's short names.
SHORT_NAMES = {"snap": "snap_to_parent", "gap": "assign_gap", "overlap": "split_overlap"}


def make_valid_all(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[int]]:
    """Every geometry through :func:`fix_make_valid`; also the positions it changed.

    A geometry counts as repaired when the fix changed more than its type (a valid
    Polygon that only becomes a MultiPolygon is not repaired). Pure; works in the
    frame's own CRS (the fix moves no vertex).
    """
    geoms = list(frame.geometry.values)
    repaired = []
    for i, g in enumerate(geoms):
        if g is None:
            continue
        fixed = fix_make_valid(g)
        before = MultiPolygon([g]) if isinstance(g, Polygon) else g
        if not shapely.equals_exact(shapely.normalize(before), shapely.normalize(fixed), 0.0):
            geoms[i] = fixed
            repaired.append(i)
    return frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)), repaired


def finding_counts(findings: list[topology.Finding]) -> dict:
    """Findings by severity and by type (what a planner compares before/after)."""
    by_severity = Counter(f.severity for f in findings)
    return {
        "error": by_severity.get("error", 0),
        "warning": by_severity.get("warning", 0),
        "by_type": dict(sorted(Counter(f.type for f in findings).items())),
    }


@dataclass
class FixResult:
    boundary_set_id: int
    fix: str
    changed: list[str]
    before: dict
    after: dict
    findings: list[topology.Finding] = field(default_factory=list)
    unassigned_m2: float = 0.0  # gap area no child borders (assign_gap only)

    def to_json(self) -> dict:
        return {
            "boundary_set_id": self.boundary_set_id,
            "fix": self.fix,
            "changed": self.changed,
            "before": self.before,
            "after": self.after,
            "unassigned_m2": round(self.unassigned_m2, 3),
            "findings": topology.findings_to_json(self.findings),
        }


def _row(frame: gpd.GeoDataFrame, code: str, what: str, set_id: int):
    rows = frame[frame["code"] == code]
    if rows.empty:
        raise InvalidInput(
            f"{what} {code} is not in draft boundary set {set_id}",
            f"草稿边界集 {set_id} 中没有{'单元' if what == 'unit' else '上级单元'} {code}",
        )
    return rows.iloc[0]


def _snap(draft, world, codes, tolerance_m, set_id) -> dict:
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


def _gaps(draft, world, codes, set_id) -> tuple[dict, float]:
    """Each gap piece of each named parent goes to the child suggested by fix_assign_gap."""
    tolerance = ValidationOptions().gap_tolerance_m2
    out, unassigned = {}, 0.0
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


def _overlap(draft, codes, set_id) -> dict:
    if len(codes) != 2 or codes[0] == codes[1]:
        raise InvalidInput(
            "split_overlap needs exactly two different codes (the two owners)",
            "split_overlap 需要两个不同的编码（重叠的双方）",
        )
    a, b = (_row(draft, c, "unit", set_id) for c in codes)
    new_a, new_b = fix_split_overlap(a.geometry, b.geometry)
    return {codes[0]: new_a, codes[1]: new_b}


def apply_fix(
    conn: Connection,
    set_id: int,
    fix: str,
    codes: list[str],
    *,
    tolerance_m: float = 1.0,
    author: str,
) -> FixResult:
    """Apply one fix to the named units of a draft set; one transaction (the caller's).

    ``snap_to_parent``: each code's border snapped onto its parent within
    ``tolerance_m``. ``assign_gap``: codes are parents; each gap piece goes to the
    child sharing the longest border with it. ``split_overlap``: two codes, their
    overlap split along its middle. Only geometry changes.

    Raises
    ------
    NotFound, Conflict
        No such set; the set is not a draft (409).
    InvalidInput
        Unknown fix, codes not in the draft, or a fix that would empty a unit.
    """
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
    draft_edits.lock_draft(conn, set_id)
    before = sets.findings_for_set(conn, set_id)
    draft = bstore.units_frame(conn, boundary_set_id=set_id)
    world = sets.map_after_publish(conn, set_id)
    unassigned = 0.0
    if fix == "snap_to_parent":
        new = _snap(draft, world, codes, tolerance_m, set_id)
    elif fix == "assign_gap":
        new, unassigned = _gaps(draft, world, codes, set_id)
    else:
        new = _overlap(draft, codes, set_id)
    old = dict(zip(draft["code"], draft.geometry, strict=True))
    changed = {
        c: g
        for c, g in new.items()
        if not shapely.equals_exact(shapely.normalize(old[c]), shapely.normalize(g), 0.0)
    }
    draft_edits.update_draft_geometries(conn, set_id, changed)
    audit.record(
        conn,
        actor=author,
        action="boundary_set.fix",
        entity="boundary_set",
        ref=str(set_id),
        reason=f"{fix} {' '.join(codes)}",
        detail={"fix": fix, "codes": codes, "changed": sorted(changed), "tolerance_m": tolerance_m},
    )
    after = sets.findings_for_set(conn, set_id)
    return FixResult(
        boundary_set_id=set_id,
        fix=fix,
        changed=sorted(changed),
        before=finding_counts(before),
        after=finding_counts(after),
        findings=after,
        unassigned_m2=unassigned,
    )


__all__ = ["FIXES", "SHORT_NAMES", "FixResult", "apply_fix", "finding_counts", "make_valid_all"]
