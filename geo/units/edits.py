"""Grid edits as pure functions: reshape, move a border, split, merge, move to a community.

Each operation takes the live geometries it needs (EPSG:4326) and returns the new
geometry of every unit it touches; nothing is written here (``geo/services/edits.py``
does that, in one transaction). Work happens in the Gauss-Krüger zone of the data,
through :class:`geo.topology.fixes.MetreFrame`: vertices that come from an input keep
their exact lon/lat, so a border shared with an untouched neighbour stays shared bit for
bit, and two units that share a new vertex get the same lon/lat for it.

After any edit :func:`partition_errors` checks the invariant the store relies on: each
parent exactly partitioned by its children (no gap, no overlap above 1 m²), each child
inside its parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, MultiPolygon
from shapely.geometry.base import BaseGeometry

from geo.crs.metric import polygon_pieces, shared_border_lengths
from geo.errors import EditRefused, InvalidInput
from geo.topology import Finding, findings_to_geojson, validate_units
from geo.topology.fixes import MetreFrame, fix_make_valid, tidy_metric

# Below this, a change is reprojection noise, not an edit (m²).
NOISE_M2 = 1e-4
# Overlaps or gaps up to this size are tolerated by the invariant (m²), as in the issue.
TOLERANCE_M2 = 1.0
# A cutting line is stretched this far (m) past its ends, so a line drawn to the border
# (not beyond it) still cuts through.
LINE_OVERSHOOT_M = 0.5
BLADE_HALF_WIDTH_M = 2.5e-3
# Errors that break the partition invariant (warnings such as slivers do not).
INVARIANT_TYPES = (
    "invalid_geometry",
    "duplicate_code",
    "outside_parent",
    "multi_parent",
    "overlap",
    "gap",
    "code_prefix",
    "special_outside_district",
)


@dataclass
class EditResult:
    """What an edit does: new geometry per touched unit, new and retired units."""

    geometries: dict[str, MultiPolygon] = field(default_factory=dict)  # code → new shape
    created: dict[str, MultiPolygon] = field(default_factory=dict)  # new code → shape
    retired: list[str] = field(default_factory=list)
    # Units that change code and/or parent: old code → (new code, new parent code).
    moved: dict[str, tuple[str, str]] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # code → new name
    notes: list[str] = field(default_factory=list)


def refuse(message: str, message_zh: str, findings: list[Finding] | None = None) -> EditRefused:
    """The 422 an edit gets when it cannot keep the partition; findings as GeoJSON."""
    extra = {}
    if findings:
        extra["findings"] = findings_to_geojson(findings)
    return EditRefused(message, message_zh, **extra)


def _polygonal(geom: BaseGeometry | None, what: str) -> MultiPolygon:
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidInput(
            f"{what} must be a non-empty Polygon or MultiPolygon",
            f"{what}必须是非空的面（Polygon 或 MultiPolygon）",
        )
    if not geom.is_valid:
        raise refuse(
            f"{what} is not a valid polygon ({shapely.is_valid_reason(geom)}); "
            "redraw it without self-intersections",
            f"{what}不是有效的面（{shapely.is_valid_reason(geom)}）；请重新绘制，避免自相交",
            validate_units(
                gpd.GeoDataFrame(
                    {"level": ["grid"], "code": [what], "parent_code": [None]},
                    geometry=[geom],
                    crs=4326,
                )
            ),
        )
    return fix_make_valid(geom)


def _line(geom: BaseGeometry | None) -> LineString:
    if geom is None or geom.is_empty or geom.geom_type != "LineString":
        raise InvalidInput(
            "the cutting line must be a LineString with at least two points",
            "分割线必须是至少两个点的 LineString",
        )
    return geom


def _area(geom_m: BaseGeometry) -> float:
    return float(shapely.area(geom_m)) if geom_m is not None else 0.0


def _stretched(line_m: LineString, by: float = LINE_OVERSHOOT_M) -> LineString:
    """The line with both ends extended along their last segment."""
    coords = np.asarray(line_m.coords, dtype=float)
    for end, prev in ((0, 1), (-1, -2)):
        d = coords[end] - coords[prev]
        n = float(np.hypot(*d))
        if n > 0:
            coords[end] = coords[end] + d / n * by
    return LineString(coords)


def _cut(poly_m: BaseGeometry, line_m: LineString) -> list[BaseGeometry]:
    """Pieces of ``poly_m`` on either side of ``line_m`` (metric), largest first."""
    # Wider than the 1 mm grid results are snapped to, or the cut would close again;
    # callers give the slit back to one side.
    blade = shapely.buffer(_stretched(line_m), BLADE_HALF_WIDTH_M, cap_style="flat")
    parts = polygon_pieces(tidy_metric(shapely.difference(poly_m, blade)))
    return sorted(parts, key=_area, reverse=True)


def reshape(
    code: str,
    new_geom: BaseGeometry,
    siblings: Mapping[str, BaseGeometry],
    parent: BaseGeometry,
    *,
    mode: str = "clip",
) -> EditResult:
    """Give grid ``code`` a new shape inside its parent.

    ``siblings`` are the parent's children (``code`` included). With ``mode="clip"``
    siblings that the new shape overlaps lose that area, the shape is clipped to the
    parent, and area the grid gives up goes, piece by piece, to the sibling sharing the
    longest border with the piece. With ``mode="refuse"`` the edit is refused if it
    would overlap a sibling, leave the parent or release area.
    """
    if mode not in ("clip", "refuse"):
        raise InvalidInput(f"unknown mode {mode!r}; use clip or refuse", "mode 应为 clip 或 refuse")
    if code not in siblings:
        raise InvalidInput(f"{code} is not among the siblings given", f"{code} 不在同级单元中")
    new_geom = _polygonal(new_geom, "the new shape")
    codes = sorted(siblings)
    frame = MetreFrame(parent, new_geom, *[siblings[c] for c in codes])
    parent_m = frame.there(parent)
    new_m = tidy_metric(frame.there(new_geom))
    old = {c: tidy_metric(frame.there(siblings[c])) for c in codes}
    outside = tidy_metric(shapely.difference(new_m, parent_m))
    overlaps = {c: tidy_metric(shapely.intersection(new_m, g)) for c, g in old.items() if c != code}
    overlaps = {c: g for c, g in overlaps.items() if _area(g) > TOLERANCE_M2}
    released = tidy_metric(shapely.difference(old[code], new_m))
    if mode == "refuse":
        _refuse_conflicts(code, outside, overlaps, released, frame)
    new_m = tidy_metric(shapely.intersection(new_m, parent_m))
    if _area(new_m) <= TOLERANCE_M2:
        raise refuse("the new shape lies outside its community", "新边界不在所属社区范围内", [])
    after = {
        c: (new_m if c == code else tidy_metric(shapely.difference(g, new_m)))
        for c, g in old.items()
    }
    _hand_out(code, codes, released, after, frame)
    return _result_of(code, codes, old, after, frame)


def _refuse_conflicts(
    code: str,
    outside: BaseGeometry,
    overlaps: dict[str, BaseGeometry],
    released: BaseGeometry,
    frame: MetreFrame,
) -> None:
    """mode=refuse: no area outside the parent, over a sibling or given up."""
    findings: list[Finding] = []
    if _area(outside) > TOLERANCE_M2:
        findings.append(_finding("outside_parent", [code], outside, frame))
    findings += [_finding("overlap", [code, c], g, frame) for c, g in overlaps.items()]
    if _area(released) > TOLERANCE_M2:
        findings.append(_finding("gap", [code], released, frame))
    if findings:
        raise refuse(
            "the new shape overlaps neighbours, leaves its community or releases area; "
            "retry with mode=clip to let neighbours follow, or redraw it",
            "新边界与相邻网格重叠、超出所属社区或留出空白；"
            "可改用 mode=clip 让相邻网格随之调整，或重新绘制",
            findings,
        )


def _hand_out(
    code: str,
    codes: list[str],
    released: BaseGeometry,
    after: dict[str, BaseGeometry],
    frame: MetreFrame,
) -> None:
    """Each piece of the area ``code`` gives up goes to the sibling sharing the longest
    border with it (``after`` is updated)."""
    for piece in polygon_pieces(released):
        if _area(piece) <= NOISE_M2:
            continue
        others = [c for c in codes if c != code and not after[c].is_empty]
        lengths = shared_border_lengths(piece, [after[c] for c in others])
        if (not len(others) or not np.any(lengths > 0)) and _area(piece) <= TOLERANCE_M2:
            # A crumb against the community border (e.g. a drawn vertex rounded by a few
            # cm): the grid keeps it rather than leaving a gap or refusing the edit.
            after[code] = tidy_metric(shapely.union_all([after[code], piece]))
            continue
        if not len(others) or not np.any(lengths > 0):
            raise refuse(
                "the area this grid gives up touches no other grid of the community; "
                "draw the shape so that it is shared, or merge instead",
                "该网格让出的区域不与本社区其他网格相邻；请重新绘制或改用合并",
                [_finding("gap", [code], piece, frame)],
            )
        taker = others[int(np.argmax(np.round(lengths, 2)))]
        after[taker] = tidy_metric(shapely.union_all([after[taker], piece]))


def _result_of(
    code: str,
    codes: list[str],
    old: dict[str, BaseGeometry],
    after: dict[str, BaseGeometry],
    frame: MetreFrame,
) -> EditResult:
    """The edited grid and every sibling that changed beyond noise, back in lon/lat."""
    result = EditResult()
    for c in codes:
        if after[c].is_empty:
            raise refuse(
                f"grid {c} would vanish under the new shape; merge the grids instead",
                f"网格 {c} 将被新边界完全覆盖；请改用合并",
                [_finding("overlap", [code, c], old[c], frame)],
            )
        if c == code or _area(shapely.symmetric_difference(after[c], old[c])) > NOISE_M2:
            result.geometries[c] = frame.back(after[c])
    return result


def insert(
    new_code: str,
    new_geom: BaseGeometry,
    siblings: Mapping[str, BaseGeometry],
    parent: BaseGeometry,
) -> EditResult:
    """A new grid inside a community: it takes its area from the grids it overlaps.

    Refused if it reaches outside the community (by more than the tolerance) or would
    swallow a grid whole (merge instead).
    """
    new_geom = _polygonal(new_geom, "the new grid")
    codes = sorted(siblings)
    frame = MetreFrame(parent, new_geom, *[siblings[c] for c in codes])
    parent_m, new_m = frame.there(parent), tidy_metric(frame.there(new_geom))
    outside = tidy_metric(shapely.difference(new_m, parent_m))
    if _area(outside) > TOLERANCE_M2:
        raise refuse(
            "the new grid reaches outside its community; draw it inside the community",
            "新网格超出所属社区范围；请在社区范围内绘制",
            [_finding("outside_parent", [new_code], outside, frame)],
        )
    new_m = tidy_metric(shapely.intersection(new_m, parent_m))
    result = EditResult(created={new_code: frame.back(new_m)})
    for c in codes:
        old = tidy_metric(frame.there(siblings[c]))
        after = tidy_metric(shapely.difference(old, new_m))
        if after.is_empty:
            raise refuse(
                f"the new grid would swallow grid {c} whole; merge or reshape instead",
                f"新网格将完全覆盖网格 {c}；请改用合并或调整边界",
                [_finding("overlap", [new_code, c], old, frame)],
            )
        if _area(shapely.symmetric_difference(after, old)) > NOISE_M2:
            result.geometries[c] = frame.back(after)
    return result


def dissolve(code: str, siblings: Mapping[str, BaseGeometry]) -> EditResult:
    """Delete a grid: each of its parts goes to the neighbour sharing the longest border."""
    codes = sorted(c for c in siblings if c != code)
    frame = MetreFrame(*[siblings[c] for c in sorted(siblings)])
    gone = tidy_metric(frame.there(siblings[code]))
    after = {c: tidy_metric(frame.there(siblings[c])) for c in codes}
    changed: set[str] = set()
    for piece in polygon_pieces(gone):
        lengths = shared_border_lengths(piece, [after[c] for c in codes])
        if not codes or not np.any(lengths > 0):
            raise refuse(
                f"grid {code} (or a part of it) touches no other grid of its community, so its "
                "area cannot be handed over; reshape the neighbours first",
                f"网格 {code}（或其一部分）不与本社区其他网格相邻，无法移交其范围；"
                "请先调整相邻网格",
                [_finding("gap", [code], piece, frame)],
            )
        taker = codes[int(np.argmax(np.round(lengths, 2)))]
        after[taker] = tidy_metric(shapely.union_all([after[taker], piece]))
        changed.add(taker)
    return EditResult(geometries={c: frame.back(after[c]) for c in sorted(changed)}, retired=[code])


def move_border(
    code_a: str,
    geom_a: BaseGeometry,
    code_b: str,
    geom_b: BaseGeometry,
    line: BaseGeometry,
) -> EditResult:
    """Redraw the border between two neighbours along ``line``; both follow.

    The line must cross the union of the two grids from border to border. Each piece
    of the union it cuts goes to the grid that held most of it before.
    """
    line = _line(line)
    frame = MetreFrame(geom_a, geom_b, line)
    a, b = tidy_metric(frame.there(geom_a)), tidy_metric(frame.there(geom_b))
    if shared_border_lengths(a, [b])[0] <= 0:
        raise InvalidInput(
            f"grids {code_a} and {code_b} do not share a border",
            f"网格 {code_a} 与 {code_b} 没有共同边界",
        )
    union = tidy_metric(shapely.union_all([a, b]))
    pieces = _cut(union, frame.there(line))
    if len(pieces) < 2:
        raise InvalidInput(
            "the new border must cross the two grids from one side to the other",
            "新边界线必须从一侧穿越两个网格到另一侧",
        )
    new_a: list[BaseGeometry] = []
    new_b: list[BaseGeometry] = []
    for piece in pieces:
        share_a = _area(shapely.intersection(piece, a))
        share_b = _area(shapely.intersection(piece, b))
        (new_a if share_a >= share_b else new_b).append(piece)
    # The blade's hairline goes to a; b is the rest of the union, so nothing is lost.
    a2 = tidy_metric(shapely.union_all(new_a)) if new_a else MultiPolygon()
    b2 = tidy_metric(shapely.difference(union, a2)) if new_b else MultiPolygon()
    a2 = tidy_metric(shapely.difference(union, b2))
    if a2.is_empty or b2.is_empty:
        raise refuse(
            "the new border would leave one of the grids empty; merge them instead",
            "新边界会使其中一个网格为空；请改用合并",
        )
    return EditResult(geometries={code_a: frame.back(a2), code_b: frame.back(b2)})


def split(code: str, geom: BaseGeometry, line: BaseGeometry, new_code: str) -> EditResult:
    """Cut a grid in two along ``line``: the larger part keeps ``code`` (and its people,
    history and stable id), the smaller becomes grid ``new_code``."""
    line = _line(line)
    frame = MetreFrame(geom, line)
    poly = tidy_metric(frame.there(geom))
    pieces = _cut(poly, frame.there(line))
    if len(pieces) != 2:
        raise InvalidInput(
            f"the line cuts the grid into {len(pieces)} parts; draw it across the grid "
            "once, from border to border",
            f"分割线把网格分成了 {len(pieces)} 块；请从一侧边界到另一侧边界穿越一次",
        )
    big, _small = pieces
    small = tidy_metric(shapely.difference(poly, big))
    return EditResult(geometries={code: frame.back(big)}, created={new_code: frame.back(small)})


def merge(geoms: Mapping[str, BaseGeometry], keep: str) -> EditResult:
    """Merge adjacent grids into ``keep``; the others are retired."""
    if keep not in geoms or len(geoms) < 2:
        raise InvalidInput(
            "merge needs at least two grids, the kept one among them",
            "合并至少需要两个网格，且保留的网格须在其中",
        )
    codes = sorted(geoms)
    frame = MetreFrame(*[geoms[c] for c in codes])
    metric = {c: tidy_metric(frame.there(geoms[c])) for c in codes}
    # Connected: grow from the kept grid through shared borders.
    joined, todo = {keep}, set(codes) - {keep}
    while todo:
        grown = {
            c
            for c in todo
            if np.any(shared_border_lengths(metric[c], [metric[j] for j in joined]) > 0)
        }
        if not grown:
            raise InvalidInput(
                f"grids {sorted(todo)} do not share a border with the others; "
                "only adjacent grids can be merged",
                f"网格 {sorted(todo)} 与其他网格不相邻；只能合并相邻网格",
            )
        joined |= grown
        todo -= grown
    union = tidy_metric(shapely.union_all(list(metric.values())))
    return EditResult(geometries={keep: frame.back(union)}, retired=[c for c in codes if c != keep])


def move_to_parent(
    code: str,
    geom: BaseGeometry,
    old_parent: BaseGeometry,
    new_parent: BaseGeometry,
) -> tuple[MultiPolygon, MultiPolygon]:
    """New shapes of the old and new parent when a child moves from one to the other."""
    frame = MetreFrame(geom, old_parent, new_parent)
    g, old, new = (tidy_metric(frame.there(x)) for x in (geom, old_parent, new_parent))
    if shared_border_lengths(g, [new])[0] <= 0:
        raise InvalidInput(
            f"{code} does not border the unit it should move to; only a neighbour can take it",
            f"{code} 与目标单元不相邻；只能移入相邻的单元",
        )
    old2 = tidy_metric(shapely.difference(old, g))
    if old2.is_empty:
        raise refuse(
            f"moving {code} would leave its current unit empty; merge the units instead",
            f"移出 {code} 后原单元将为空；请改用合并",
        )
    new2 = tidy_metric(shapely.union_all([new, g]))
    return frame.back(old2), frame.back(new2)


def _finding(kind: str, codes: list[str], geom_m: BaseGeometry, frame: MetreFrame) -> Finding:
    area = _area(geom_m)
    where = frame.back(geom_m) if not geom_m.is_empty else geom_m
    messages = {
        "outside_parent": ("lies outside its community", "超出所属社区"),
        "overlap": ("overlaps a neighbouring grid", "与相邻网格重叠"),
        "gap": ("leaves an area covered by no grid", "留出未被任何网格覆盖的区域"),
    }
    en, zh = messages.get(kind, (kind, kind))
    return Finding(
        type=kind,
        severity="error",
        codes=tuple(codes),
        area_m2=round(area, 2),
        geometry=where,
        message=f"{' / '.join(codes)} {en} ({area:,.1f} m²)",
        message_zh=f"{' / '.join(codes)} {zh}（{area:,.1f} 平方米）",
    )


def partition_errors(units: gpd.GeoDataFrame) -> list[Finding]:
    """Findings that break the partition invariant in ``units`` (levels, code,
    parent_code, geometry; the top level's parents may be absent)."""
    frame = units.copy()
    present = set(frame["code"])
    frame["parent_code"] = [p if p in present else None for p in frame["parent_code"]]
    return [f for f in validate_units(frame) if f.severity == "error" and f.type in INVARIANT_TYPES]
