"""Turning overlay pieces into findings: a named problem, or a sliver warning.

Shared by the hierarchy checks so every piece finding (gap, overlap, outside parent,
special grid outside the district, stray part) is classified and worded alike.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.crs.metric import classify
from geo.topology.findings import Finding, ValidationOptions
from geo.topology.units import UnitTable, fmt_area

_KIND_EN = {
    "gap": "uncovered area",
    "overlap": "overlap",
    "outside_parent": "area outside the parent",
    "special_outside_district": "area outside the district",
    "part": "stray part",
}
_KIND_ZH = {
    "gap": "未覆盖区域",
    "overlap": "重叠区域",
    "outside_parent": "超出上级范围的部分",
    "special_outside_district": "超出区界的部分",
    "part": "零碎部件",
}


def piece_finding(
    kind: str,
    pieces: np.ndarray,
    area: float,
    codes: tuple[str, ...],
    t: UnitTable,
    options: ValidationOptions,
    message: tuple[str, str],
    subject: tuple[str, str],
    detail: dict,
) -> Finding:
    """A ``kind`` finding, or a ``sliver`` warning if every piece is a sliver."""
    # Metric for now: check_hierarchy converts all finding geometries in one call.
    geom = shapely.union_all(pieces) if len(pieces) > 1 else pieces[0]
    sliver, thinness, width = classify(pieces, options)
    if sliver:
        w = float(np.max(width))
        if kind == "part":
            act_en = "Delete the stray part or merge it into its neighbour."
            act_zh = "请删除该零碎部件或并入相邻单元。"
        else:
            act_en = (
                "Almost certainly a digitising mismatch: snap the borders together "
                "(fix_snap_to_parent, fix_assign_gap or fix_split_overlap)."
            )
            act_zh = (
                "多为数字化误差：请把边界吸附对齐"
                "（fix_snap_to_parent、fix_assign_gap 或 fix_split_overlap）。"
            )
        return Finding(
            type="sliver",
            severity="warning",
            codes=codes,
            area_m2=area,
            geometry=geom,
            message=(
                f"{subject[0]}: a sliver of {fmt_area(area)} ({_KIND_EN[kind]}, mean width "
                f"{w:.2f} m). {act_en}"
            ),
            message_zh=(
                f"{subject[1]}：有 {fmt_area(area)} 的细碎面"
                f"（{_KIND_ZH[kind]}，平均宽 {w:.2f} 米）。{act_zh}"
            ),
            detail={
                **detail,
                "kind": kind,
                "thinness": float(np.min(thinness)),
                "mean_width_m": w,
            },
        )
    severity = "error"
    return Finding(kind, severity, codes, area, geom, message[0], message[1], detail)
