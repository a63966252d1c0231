"""Geometry validity of boundary units: what is wrong with each ring, and a repair.

GEOS names the first problem it meets (``is_valid_reason``); we map that text to a
stable slug for ``Finding.detail["reason"]`` and to bilingual advice. Repeated
consecutive vertices are valid for GEOS, but editors and some exporters choke on
them, so they are reported as a warning. The repaired geometry (``make_valid`` with
the *structure* method, which keeps the area a polygon's rings enclose and drops
collapsed spikes) is what the topology checks then measure, so one bad ring does not
hide every other problem of the set.
"""

from __future__ import annotations

import re

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point
from shapely.geometry.base import BaseGeometry

from geo.crs.metric import polygon_pieces
from geo.topology.findings import Finding

LEVEL_EN = {
    "district": "district",
    "street": "street/township",
    "community": "community/village",
    "grid": "grid",
    "special": "special grid",
}
LEVEL_ZH = {
    "district": "区/县",
    "street": "街道/乡镇",
    "community": "社区/村",
    "grid": "网格",
    "special": "专属网格",
}

# (GEOS reason prefix, slug, English, Chinese). "Ring Self-intersection" must come
# before "Self-intersection": the latter is a suffix of the former.
_REASONS = (
    (
        "Ring Self-intersection",
        "ring_self_intersection",
        "a ring touches or folds back on itself (a spike or a loop)",
        "边界环自接触或折返（尖刺或打结）",
    ),
    ("Self-intersection", "self_intersection", "its boundary crosses itself", "边界自相交"),
    (
        "Too few points",
        "too_few_points",
        "a ring has fewer than three distinct points",
        "有边界环少于三个不同的点",
    ),
    (
        "Hole lies outside shell",
        "hole_outside_shell",
        "a hole lies outside the outer ring",
        "内环（洞）位于外环之外",
    ),
    ("Nested holes", "nested_holes", "holes lie inside each other", "内环相互嵌套"),
    (
        "Nested shells",
        "nested_shells",
        "parts of the multipolygon lie inside each other",
        "多部件面的部件相互嵌套",
    ),
    (
        "Interior is disconnected",
        "disconnected_interior",
        "holes cut the interior into separate pieces",
        "内环把面分割成互不相连的部分",
    ),
    ("Duplicate Rings", "duplicate_rings", "a ring is repeated", "边界环重复"),
    (
        "Invalid Coordinate",
        "invalid_coordinate",
        "a coordinate is not a finite number",
        "有坐标不是有效数字",
    ),
    ("Ring is not closed", "ring_not_closed", "a ring is not closed", "边界环未闭合"),
)
_LOCATION = re.compile(r"\[([-+0-9.eE]+|nan|inf) ([-+0-9.eE]+|nan|inf)")


def label(code: str, name: str | None, level: str) -> tuple[str, str]:
    """How a unit is named in messages, in English and Chinese."""
    en = f"{LEVEL_EN.get(level, level)} {code}"
    zh = f"{LEVEL_ZH.get(level, level)} {code}"
    if name:
        en += f" ({name})"
        zh += f"（{name}）"
    return en, zh


def _parse_reason(reason: str) -> tuple[str, str, str, Point | None]:
    where = None
    m = _LOCATION.search(reason)
    if m:
        x, y = float(m.group(1)), float(m.group(2))
        if np.isfinite(x) and np.isfinite(y):
            where = Point(x, y)
    for prefix, slug, en, zh in _REASONS:
        if reason.startswith(prefix):
            return slug, en, zh, where
    return "other", f"GEOS reports: {reason}", f"GEOS 报告：{reason}", where


def repair(geom: BaseGeometry | None) -> MultiPolygon:
    """A valid MultiPolygon keeping the area ``geom`` encloses (empty if none).

    Lines and points left by collapsed rings are dropped; a repeated vertex is kept,
    since it does not change the shape.
    """
    if geom is None or geom.is_empty:
        return MultiPolygon()
    fixed = geom if geom.is_valid else shapely.make_valid(geom, method="structure")
    pieces = polygon_pieces(fixed)
    if len(pieces) == 0:
        return MultiPolygon()
    merged = pieces[0] if len(pieces) == 1 else shapely.union_all(pieces)
    if not merged.is_valid:  # unioning touching pieces of a collection can still fold
        merged = shapely.make_valid(merged, method="structure")
    merged_pieces = polygon_pieces(merged)
    return MultiPolygon(list(merged_pieces)) if len(merged_pieces) else MultiPolygon()


def repeated_vertices(geoms: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[float, float]]]:
    """How many consecutive repeated vertices each polygonal geometry has, and the first.

    Returns
    -------
    counts : ndarray of int
        Per input geometry.
    first : dict
        Geometry index → (x, y) of its first repeated vertex.
    """
    geoms = np.asarray(geoms, dtype=object)
    counts = np.zeros(len(geoms), dtype=int)
    if len(geoms) == 0:
        return counts, {}
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    coords, coord_of = shapely.get_coordinates(rings, return_index=True)
    same = (coord_of[1:] == coord_of[:-1]) & np.all(coords[1:] == coords[:-1], axis=1)
    hits = np.flatnonzero(same) + 1
    owner = part_of[ring_of[coord_of[hits]]]
    np.add.at(counts, owner, 1)
    first: dict[int, tuple[float, float]] = {}
    for i, k in zip(owner.tolist(), hits.tolist(), strict=True):
        first.setdefault(i, (float(coords[k, 0]), float(coords[k, 1])))
    return counts, first


def _problem(
    g: BaseGeometry, empty: bool, areal: bool, reason: str
) -> tuple[str, str, BaseGeometry | None, dict, MultiPolygon]:
    """What is wrong with one geometry (English, Chinese, where, detail with the
    reason's slug) and its repaired version."""
    detail: dict = {}
    where: BaseGeometry | None = None
    if empty:
        slug, en, zh = "empty", "it has no geometry", "没有几何图形"
        fixed = MultiPolygon()
    elif not areal:
        slug = "not_polygon"
        en, zh = f"it is a {g.geom_type}, not a polygon", f"是 {g.geom_type} 而不是面"
        where = g
        fixed = repair(g)
    else:
        slug, en, zh, where = _parse_reason(reason)
        detail["geos_reason"] = reason
        fixed = MultiPolygon() if slug == "invalid_coordinate" else repair(g)
    detail["reason"] = slug
    return en, zh, where, detail, fixed


def _invalid(
    code: str, name, level: str, en: str, zh: str, where: BaseGeometry | None, detail: dict
) -> Finding:
    who_en, who_zh = label(code, name, level)
    return Finding(
        type="invalid_geometry",
        severity="error",
        codes=(code,),
        area_m2=None,
        geometry=where,
        message=(
            f"{who_en}: {en}. Repair it (fix_make_valid) or redraw it in the "
            "editor, then import again."
        ),
        message_zh=f"{who_zh}：{zh}。请修复（fix_make_valid）或在编辑器中重绘后重新导入。",
        detail=detail,
    )


def _repeated(code: str, name, level: str, count: int, at: tuple[float, float]) -> Finding:
    who_en, who_zh = label(code, name, level)
    x, y = at
    return Finding(
        type="invalid_geometry",
        severity="warning",
        codes=(code,),
        area_m2=None,
        geometry=Point(x, y),
        message=(
            f"{who_en}: {count} vertex(es) repeat the previous one (first at "
            f"{x:.6f}, {y:.6f}). Harmless for area, but editors may fail on them; "
            "remove them with fix_make_valid."
        ),
        message_zh=(
            f"{who_zh}：有 {count} 个顶点与前一顶点重复（首个位于 {x:.6f}, "
            f"{y:.6f}）。不影响面积，但可能导致编辑器出错；可用 fix_make_valid 去除。"
        ),
        detail={"reason": "duplicate_vertices", "count": count},
    )


def check_geometries(
    codes: np.ndarray, names: np.ndarray, levels: np.ndarray, geoms: np.ndarray
) -> tuple[list[Finding], np.ndarray]:
    """``invalid_geometry`` findings for lon/lat geometries, and their repaired versions.

    Returns
    -------
    findings : list of Finding
        One per problem geometry (an error), plus a warning per geometry that is
        otherwise valid but repeats consecutive vertices.
    repaired : ndarray of MultiPolygon
        Valid polygonal geometry per input, empty where nothing usable remains
        (empty, non-areal or non-finite input).
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    findings: list[Finding] = []
    repaired = np.empty(n, dtype=object)
    missing = shapely.is_missing(geoms)
    empty = missing | shapely.is_empty(np.where(missing, np.full(n, None, dtype=object), geoms))
    type_ids = shapely.get_type_id(geoms)
    areal = np.isin(type_ids, (3, 6))
    reasons = shapely.is_valid_reason(geoms)
    ok = ~empty & areal & (reasons == "Valid Geometry")

    for i in np.flatnonzero(~ok):
        en, zh, where, detail, repaired[i] = _problem(
            geoms[i], bool(empty[i]), bool(areal[i]), str(reasons[i])
        )
        findings.append(_invalid(str(codes[i]), names[i], str(levels[i]), en, zh, where, detail))

    ok_idx = np.flatnonzero(ok)
    counts, first = repeated_vertices(geoms[ok_idx])
    for j, i in enumerate(ok_idx):
        g = geoms[i]
        repaired[i] = g if g.geom_type == "MultiPolygon" else MultiPolygon([g])
        if counts[j]:
            findings.append(
                _repeated(str(codes[i]), names[i], str(levels[i]), int(counts[j]), first[j])
            )
    return findings, repaired
