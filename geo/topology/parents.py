"""Checks between a level and its parent level: orphans, outside parent, multi parent, gaps.

Children inside their parent are recognised by a prepared ``covers`` test, and only
the others pay for ``difference`` and the search for the parent units they lie in.
A gap is area of a parent covered by none of *its own* children (a cousin poking in
is an overlap/outside-parent problem of the cousin). When a parent's children are all
inside it and form a valid coverage their areas add up exactly, so
``parent area − Σ child areas ≤ tolerance`` proves there is no gap; otherwise
``parent − union(children)`` is computed and cut into pieces, one finding each.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely import STRtree

from geo.crs.metric import clean_many, clean_pieces, is_sliver, shared_border_lengths
from geo.topology.findings import Finding, ValidationOptions
from geo.topology.geometry import LEVEL_EN, LEVEL_ZH
from geo.topology.pieces import piece_finding
from geo.topology.units import UnitTable, fmt_area
from geo.units.codes import PARENT_LEVEL, level_digits


def _spatial_parents(
    t: UnitTable, child_rows: np.ndarray, parent_rows: np.ndarray, min_area: float
) -> dict[int, list[tuple[int, float]]]:
    """For each child row: [(parent row, shared area m²)] sorted by area, largest first.

    Shares of ``min_area`` or less are left out: a neighbour touching along a border
    that reprojection moved by a hair is not a place the child lies in.
    """
    result: dict[int, list[tuple[int, float]]] = {int(i): [] for i in child_rows}
    if len(child_rows) == 0 or len(parent_rows) == 0:
        return result
    tree = STRtree(t.metric[parent_rows])
    left, right = tree.query(t.metric[child_rows], predicate="intersects")
    areas = shapely.area(
        shapely.intersection(t.metric[child_rows[left]], t.metric[parent_rows[right]])
    )
    for c, p, a in zip(child_rows[left], parent_rows[right], areas, strict=True):
        if a > min_area:
            result[int(c)].append((int(p), float(a)))
    for v in result.values():
        v.sort(key=lambda pa: (-pa[1], str(t.code[pa[0]])))
    return result


def _orphans(
    t: UnitTable, level: str, spatial: dict[int, list[tuple[int, float]]]
) -> list[Finding]:
    parent_level = PARENT_LEVEL[level]
    out = []
    for i in t.rows(level, usable_only=False):
        pc = t.parent[i]
        if t.find(parent_level, pc) >= 0:
            continue
        en, zh = t.label(i)
        code = str(t.code[i])
        if pc is None:
            reason, why_en, why_zh = "missing_parent_code", "has no parent code", "没有上级编码"
        elif (other := t.level_of(pc)) is not None:
            reason = "wrong_level"
            why_en = (
                f"names {pc} as parent, which is a {LEVEL_EN[other]}, "
                f"not a {LEVEL_EN[parent_level]}"
            )
            why_zh = f"上级编码 {pc} 是{LEVEL_ZH[other]}而不是{LEVEL_ZH[parent_level]}"
        else:
            reason = "not_in_set"
            why_en = f"names {pc} as parent, which is not in this boundary set"
            why_zh = f"上级编码 {pc} 不在本套边界数据中"
        digits = level_digits(parent_level)
        prefix = code[:digits] if len(code) > digits else None
        expected = prefix if prefix and t.find(parent_level, prefix) >= 0 else None
        located = spatial.get(int(i)) or []
        where = str(t.code[located[0][0]]) if located else None
        hint_en = hint_zh = ""
        if expected or where:
            guess = expected or where
            hint_en = f"; its {'code' if expected else 'location'} points to {guess}"
            hint_zh = f"；按{'编码' if expected else '位置'}应属 {guess}"
        out.append(
            Finding(
                type="orphan",
                severity="error",
                codes=(code,),
                area_m2=None,
                geometry=None,
                message=(
                    f"{en} {why_en}{hint_en}. Correct the parent code or import the "
                    f"{LEVEL_EN[parent_level]} too."
                ),
                message_zh=f"{zh}{why_zh}{hint_zh}。请更正上级编码，或一并导入该{LEVEL_ZH[parent_level]}。",
                detail={
                    "reason": reason,
                    "parent_code": pc,
                    "expected_parent_code": expected,
                    "spatial_parent": where,
                },
            )
        )
    return out


def children_checks(
    t: UnitTable,
    level: str,
    coverage_ok: np.ndarray,
    options: ValidationOptions,
) -> list[Finding]:
    """Orphans, outside_parent, multi_parent and gaps between ``level`` and its parent level."""
    parent_level = PARENT_LEVEL[level]
    if len(t.rows(parent_level, usable_only=False)) == 0 or not np.any(t.level == level):
        # One of the two levels is not part of this set: a street layer imported
        # without communities has no gaps, a grid layer without communities no orphans.
        return []
    rows = t.rows(level)
    parents = t.rows(parent_level)
    # A parent without usable geometry cannot be measured against (it is reported
    # as invalid_geometry); its children are then treated like unplaced ones.
    declared = t.parent_rows(rows)
    prow = np.where(np.isin(declared, parents), declared, -1)
    has = prow >= 0
    covered = np.zeros(len(rows), dtype=bool)
    if has.any():
        shapely.prepare(t.metric[np.unique(prow[has])])
        covered[has] = shapely.covers(t.metric[prow[has]], t.metric[rows[has]])
    loose = rows[~covered]
    spatial = _spatial_parents(t, loose, parents, options.outside_parent_tolerance_m2)
    findings = _orphans(t, level, spatial)

    findings += _outside_parent(t, rows[has & ~covered], prow[has & ~covered], spatial, options)
    findings += _multi_parent(t, parent_level, loose, spatial, options)
    findings += _gaps(t, level, rows, prow, covered, coverage_ok, options)
    return findings


def _outside_parent(
    t: UnitTable,
    units: np.ndarray,
    parents: np.ndarray,
    spatial: dict,
    options: ValidationOptions,
) -> list[Finding]:
    """``outside_parent``: the area of each unit (rows ``units``) outside its declared
    parent (rows ``parents``), above the tolerance."""
    findings = []
    diffs = shapely.difference(t.metric[units], t.metric[parents])
    big = shapely.area(diffs) > options.outside_parent_tolerance_m2
    for i, p, pieces in zip(
        units[big].tolist(), parents[big].tolist(), clean_many(diffs[big]), strict=True
    ):
        area = float(shapely.area(pieces).sum())
        if area <= options.outside_parent_tolerance_m2:
            continue
        (en, zh), (pen, pzh) = t.label(i), t.label(p)
        located = spatial.get(i) or []
        elsewhere = [str(t.code[q]) for q, _ in located if q != p]
        share = area / t.area[i] if t.area[i] else 1.0
        hint_en = f"; the rest lies in {', '.join(elsewhere)}" if elsewhere else ""
        hint_zh = f"；其余部分位于 {'、'.join(elsewhere)}" if elsewhere else ""
        findings.append(
            piece_finding(
                "outside_parent",
                pieces,
                area,
                (str(t.code[i]), str(t.code[p])),
                t,
                options,
                (
                    f"{en}: {fmt_area(area)} ({share:.0%} of it) lies outside its parent "
                    f"{pen}{hint_en}. Trim it to the parent (fix_snap_to_parent) or correct "
                    "its parent code.",
                    f"{zh}有 {fmt_area(area)}（占 {share:.0%}）超出上级{pzh}{hint_zh}。"
                    "请裁剪到上级范围内（fix_snap_to_parent）或更正上级编码。",
                ),
                (en, zh),
                {"parent_code": str(t.code[p]), "share_outside": share, "elsewhere": elsewhere},
            )
        )
    return findings


def _multi_parent(
    t: UnitTable, parent_level: str, loose: np.ndarray, spatial: dict, options: ValidationOptions
) -> list[Finding]:
    """``multi_parent``: units not inside their parent that lie substantially in two or
    more units of the parent level."""
    p_en, p_zh = LEVEL_EN[parent_level], LEVEL_ZH[parent_level]
    findings = []
    for i in loose.tolist():
        located = spatial.get(i) or []
        held = [(q, a) for q, a in located if a >= options.multi_parent_share * t.area[i]]
        if len(held) < 2:
            continue
        en, zh = t.label(i)
        moved = float(t.area[i] - located[0][1])
        parts_en = ", ".join(f"{t.code[q]} {a / t.area[i]:.0%}" for q, a in held)
        parts_zh = "、".join(f"{t.code[q]}（{a / t.area[i]:.0%}）" for q, a in held)
        findings.append(
            Finding(
                type="multi_parent",
                severity="error",
                codes=(str(t.code[i]), *sorted(str(t.code[q]) for q, _ in held)),
                area_m2=moved,
                geometry=t.metric[i],
                message=(
                    f"{en} lies in {len(held)} {p_en} units ({parts_en}); "
                    f"{fmt_area(moved)} is outside {t.code[located[0][0]]}, which holds most "
                    f"of it. Split it along the {p_en} border or redraw it inside one {p_en}."
                ),
                message_zh=(
                    f"{zh}跨 {len(held)} 个{p_zh}（{parts_zh}），有 {fmt_area(moved)} "
                    f"不在占比最大的 {t.code[located[0][0]]} 内。"
                    f"请沿{p_zh}边界拆分，或重画使其只属于一个{p_zh}。"
                ),
                detail={
                    "parent_code": t.parent[i],
                    "shares": {str(t.code[q]): a / t.area[i] for q, a in held},
                    "main_parent": str(t.code[located[0][0]]),
                },
            )
        )
    return findings


def _gaps(
    t: UnitTable,
    level: str,
    rows: np.ndarray,
    prow: np.ndarray,
    covered: np.ndarray,
    coverage_ok: np.ndarray,
    options: ValidationOptions,
) -> list[Finding]:
    """``gap``: each piece of a parent (of ``level``'s parent level) covered by none of
    its children, above the tolerance."""
    parent_level = PARENT_LEVEL[level]
    order = np.argsort(prow, kind="stable")
    sorted_p = prow[order]
    out = []
    for p in t.rows(parent_level).tolist():
        lo, hi = np.searchsorted(sorted_p, [p, p + 1])
        kids = order[lo:hi]
        child_rows = rows[kids]
        exact = bool(np.all(covered[kids]) and np.all(coverage_ok[child_rows]))
        if len(kids) and exact and t.area[p] - t.area[child_rows].sum() <= options.gap_tolerance_m2:
            continue
        uncovered = _uncovered(t, p, child_rows, coverage_ok)
        if shapely.area(uncovered) <= options.gap_tolerance_m2:
            continue
        pieces = clean_pieces(uncovered)
        pieces = pieces[shapely.area(pieces) > options.gap_tolerance_m2]
        for piece, sliver in zip(pieces, is_sliver(pieces, options), strict=True):
            out.append(_gap_finding(t, level, p, child_rows, piece, bool(sliver), options))
    return out


def _uncovered(t: UnitTable, p: int, child_rows: np.ndarray, coverage_ok: np.ndarray):
    """The part of parent row ``p`` its children (rows ``child_rows``) leave uncovered."""
    if len(child_rows) == 0:
        return t.metric[p]
    union = (
        shapely.coverage_union_all(t.metric[child_rows])
        if np.all(coverage_ok[child_rows])
        else shapely.union_all(t.metric[child_rows])
    )
    return shapely.difference(t.metric[p], union)


def _gap_finding(
    t: UnitTable,
    level: str,
    p: int,
    child_rows: np.ndarray,
    piece,
    sliver: bool,
    options: ValidationOptions,
) -> Finding:
    """One gap piece of parent row ``p``; a real gap (not a sliver) names the child
    sharing the longest border with it as the suggested owner."""
    c_en, c_zh = LEVEL_EN[level], LEVEL_ZH[level]
    pen, pzh = t.label(p)
    area = float(piece.area)
    detail = {"child_level": level, "no_children": len(child_rows) == 0}
    if sliver:
        # Snapping fixes a sliver; an owner is only worth its cost (border
        # lengths against every sibling) for a real gap.
        return piece_finding(
            "gap",
            np.array([piece], dtype=object),
            area,
            (str(t.code[p]),),
            t,
            options,
            ("", ""),
            (pen, pzh),
            detail,
        )
    # Centimetres: equal borders stay equal after reprojection noise, so a
    # tie goes to the smaller code rather than to whichever noise is larger.
    lengths = np.round(shared_border_lengths(piece, t.metric[child_rows]), 2)
    touching = {str(t.code[c]): float(v) for c, v in zip(child_rows, lengths, strict=True) if v > 0}
    owner = min(touching, key=lambda c: (-touching[c], c)) if touching else None
    if owner:
        act_en = (
            f"Assign it to {owner}, which shares the longest border "
            f"(fix_assign_gap), or draw a new {c_en} there."
        )
        act_zh = f"请划给共用边界最长的 {owner}（fix_assign_gap），或在此新建{c_zh}。"
    else:
        act_en = f"Draw a {c_en} there or extend a neighbouring one."
        act_zh = f"请在此新建{c_zh}或扩展相邻{c_zh}。"
    return piece_finding(
        "gap",
        np.array([piece], dtype=object),
        area,
        (str(t.code[p]),),
        t,
        options,
        (
            f"{pen}: {fmt_area(area)} is covered by no {c_en}. {act_en}",
            f"{pzh}内有 {fmt_area(area)} 未被任何{c_zh}覆盖。{act_zh}",
        ),
        (pen, pzh),
        {**detail, "neighbours": touching, "suggested_owner": owner},
    )
