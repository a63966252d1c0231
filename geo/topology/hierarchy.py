"""Spatial checks of the four-level hierarchy: slivers, overlaps, special grids, and the run.

Everything runs on the metric table of :mod:`geo.topology.units`. Exact data (shared
borders vertex for vertex, as the sample district and any topologically edited
data have) is settled by fast whole-set tests, and only the rest pays for overlay:
same-level overlaps are found by ``coverage_invalid_edges`` (GEOS
CoverageValidator), which names the units whose edges do not match their
neighbours'; only those are intersected pairwise through an STRtree. The checks
between a level and its parent are in :mod:`geo.topology.parents`.

Piece findings (gap, overlap, outside parent, special grid outside the district)
become ``sliver`` warnings with ``detail["kind"]`` naming what they would have been
when every piece is tiny, or thin and narrow (see
:class:`geo.topology.findings.ValidationOptions`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import shapely
from shapely import STRtree

from geo.crs.metric import clean_many, clean_pieces, is_sliver, to_lonlat
from geo.topology.findings import Finding, ValidationOptions
from geo.topology.geometry import label
from geo.topology.parents import children_checks
from geo.topology.pieces import piece_finding
from geo.topology.units import UnitTable, fmt_area
from geo.vocab import LEVELS


def _part_slivers(t: UnitTable, rows: np.ndarray, options: ValidationOptions) -> list[Finding]:
    parts, part_of = shapely.get_parts(t.metric[rows], return_index=True)
    if len(parts) == 0:
        return []
    n_parts = np.bincount(part_of, minlength=len(rows))
    out = []
    # A part no bigger than the tolerance is overlay noise, like any other piece.
    real = shapely.area(parts) > options.outside_parent_tolerance_m2
    for k in np.flatnonzero(is_sliver(parts, options) & real):
        i = int(rows[part_of[k]])
        en, zh = t.label(i)
        area = float(parts[k].area)
        many = n_parts[part_of[k]] > 1
        out.append(
            piece_finding(
                "part",
                parts[k : k + 1],
                area,
                (str(t.code[i]),),
                t,
                options,
                ("", ""),
                (en, zh),
                {"parts": int(n_parts[part_of[k]]), "whole_unit": not many},
            )
        )
    return out


def _overlaps(
    t: UnitTable, rows: np.ndarray, options: ValidationOptions
) -> tuple[list[Finding], np.ndarray]:
    """Overlap findings among ``rows`` and a mask of rows whose coverage edges mismatch."""
    g = t.metric[rows]
    bad = ~shapely.is_empty(shapely.coverage_invalid_edges(g))
    if not bad.any():
        return [], bad
    cand = np.flatnonzero(bad)
    left, right = STRtree(g).query(g[cand], predicate="intersects")
    a, b = cand[left], right
    keep = a != b
    pairs = np.unique(np.sort(np.column_stack([a[keep], b[keep]]), axis=1), axis=0)
    if len(pairs) == 0:
        return [], bad
    inter = shapely.intersection(g[pairs[:, 0]], g[pairs[:, 1]])
    big = shapely.area(inter) > options.overlap_tolerance_m2
    pairs = pairs[big]
    out = []
    for (ja, jb), pieces in zip(pairs, clean_many(inter[big]), strict=True):
        area = float(shapely.area(pieces).sum())
        if area <= options.overlap_tolerance_m2:
            continue
        ia, ib = sorted((int(rows[ja]), int(rows[jb])), key=lambda i: (str(t.code[i]), i))
        (a_en, a_zh), (b_en, b_zh) = t.label(ia), t.label(ib)
        message = (
            f"{a_en} and {b_en} overlap by {fmt_area(area)}. Decide who owns it: move the "
            "shared border, or split it between them (fix_split_overlap).",
            f"{a_zh}与{b_zh}重叠 {fmt_area(area)}。请确定归属：调整共用边界，或平分重叠部分"
            "（fix_split_overlap）。",
        )
        out.append(
            piece_finding(
                "overlap",
                pieces,
                float(area),
                (str(t.code[ia]), str(t.code[ib])),
                t,
                options,
                message,
                (f"{a_en} / {b_en}", f"{a_zh}／{b_zh}"),
                {
                    "siblings": t.parent[ia] is not None and t.parent[ia] == t.parent[ib],
                    "parent_codes": [t.parent[ia], t.parent[ib]],
                },
            )
        )
    return out, bad


def _special_outside(
    t: UnitTable,
    s_code: np.ndarray,
    s_name: np.ndarray,
    s_metric: np.ndarray,
    options: ValidationOptions,
) -> list[Finding]:
    districts = t.rows("district")
    if len(districts) == 0 or len(s_metric) == 0:
        return []
    d_geoms = t.metric[districts]
    area_of_district = d_geoms[0] if len(d_geoms) == 1 else shapely.union_all(d_geoms)
    shapely.prepare(area_of_district)
    usable = ~shapely.is_empty(s_metric)
    inside = np.ones(len(s_metric), dtype=bool)
    inside[usable] = shapely.covers(area_of_district, s_metric[usable])
    out = []
    tree = STRtree(d_geoms)
    for k in np.flatnonzero(~inside):
        pieces = clean_pieces(shapely.difference(s_metric[k], area_of_district))
        area = float(shapely.area(pieces).sum())
        if area <= options.outside_parent_tolerance_m2:
            continue
        touched = sorted(
            str(t.code[districts[j]]) for j in tree.query(s_metric[k], predicate="intersects")
        )
        en, zh = label(str(s_code[k]), s_name[k], "special")
        d_list = ", ".join(touched) if touched else "any district"
        share = area / float(shapely.area(s_metric[k]))
        out.append(
            piece_finding(
                "special_outside_district",
                pieces,
                area,
                (str(s_code[k]), *touched),
                t,
                options,
                (
                    f"{en}: {fmt_area(area)} ({share:.0%} of it) lies outside {d_list}. Trim it "
                    "to the district border, or check the file's CRS: GCJ-02/BD-09 "
                    "coordinates read as WGS-84 land 300–700 m off.",
                    f"{zh}有 {fmt_area(area)}（占 {share:.0%}）超出区界。请裁剪到区界以内，或检查"
                    "文件坐标系：把 GCJ-02/BD-09 坐标当作 WGS-84 会偏移 300–700 米。",
                ),
                (en, zh),
                {"district_codes": touched, "share_outside": share},
            )
        )
    return out


def check_hierarchy(
    t: UnitTable,
    options: ValidationOptions,
    special: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[Finding]:
    """All spatial findings of the set (and of special grids, given as code/name/metric)."""
    findings: list[Finding] = []
    coverage_ok = np.ones(len(t), dtype=bool)
    for level in LEVELS:
        rows = t.rows(level)
        if len(rows) == 0:
            continue
        findings += _part_slivers(t, rows, options)
        found, bad = _overlaps(t, rows, options)
        findings += found
        coverage_ok[rows[bad]] = False
    for level in LEVELS[1:]:
        findings += children_checks(t, level, coverage_ok, options)
    if special is not None:
        findings += _special_outside(t, *special, options)
    # Every geometry above is metric; one vectorised transform brings them all back.
    located = [k for k, f in enumerate(findings) if f.geometry is not None]
    if located:
        lonlat = to_lonlat(np.array([findings[k].geometry for k in located], dtype=object), t.epsg)
        for k, g in zip(located, lonlat, strict=True):
            findings[k] = replace(findings[k], geometry=g)
    return findings
