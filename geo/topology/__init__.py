"""Pure validation of a boundary set (no DB, no HTTP): what is wrong and where.

:func:`validate_units` takes the four levels (district → street/township →
community/village → grid) and optionally the special grids, and returns
:class:`Finding` objects, each with the features involved, an area in m², a
location in EPSG:4326 and advice in English and Chinese. Finding types:

==========================  ======== ==================================================
type                        severity meaning
==========================  ======== ==================================================
invalid_geometry            error    empty, not a polygon, self-intersection, bad ring,
                                     too few points, non-finite coordinate
                                     (``detail["reason"]``); *warning* for repeated
                                     consecutive vertices only
duplicate_code              error    a code held by more than one feature
malformed_code              error    a code of the wrong form for its level
                                     (:mod:`geo.units.codes`)
code_prefix                 error    a code not starting with its parent's code
orphan                      error    parent code missing, unknown, or of another level
outside_parent              error    area of a unit outside its declared parent
multi_parent                error    a unit lying substantially in two or more units
                                     of the parent level
overlap                     error    two units of one level overlap (siblings or not:
                                     a point must resolve to one grid)
gap                         error    part of a parent covered by none of its children,
                                     one finding per uncovered polygon
sliver                      warning  a tiny, or thin and narrow, piece of any of the
                                     above (``detail["kind"]``) or a stray part of a
                                     unit (kind ``part``)
special_outside_district    error    area of a special grid outside the district
==========================  ======== ==================================================

Checks run on repaired geometry, so a bad ring is reported once and does not hide
the rest. Areas are measured in the CGCS2000 3-degree Gauss-Krüger zone nearest the
data (:mod:`geo.crs.metric`). Two levels are checked against each other only if
both are in the set: a grid layer validated alone has no orphans, streets without
communities have no gaps. Pieces of 1 m² or less (reprojection noise) are ignored;
see :class:`ValidationOptions` for every tolerance. Fixes are
offered as pure functions and never applied here: :func:`fix_make_valid`,
:func:`fix_snap_to_parent`, :func:`fix_assign_gap`, :func:`fix_split_overlap`.

This module is the entry point; the work is split by concern: findings and options
(``topology_findings``), measuring in metres (``topology_metric``), ring validity
(``topology_geometry``), codes (``topology_codes``), the shared unit table
(``topology_units``), same-level checks (``topology_hierarchy``), parent/child checks
(``topology_parents``), piece classification (``topology_pieces``), the fixes
(``topology_fixes``) and the fixes applied to named units of a draft set
(:mod:`geo.topology.draft_fixes`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from geo.crs.metric import metric_epsg, metric_epsg_for, to_metric
from geo.errors import InvalidInput
from geo.topology.codes import code_findings, duplicate_codes
from geo.topology.findings import (
    FINDING_TYPES,
    Finding,
    ValidationOptions,
    findings_to_geojson,
    findings_to_json,
)
from geo.topology.fixes import (
    fix_assign_gap,
    fix_make_valid,
    fix_snap_to_parent,
    fix_split_overlap,
)
from geo.topology.geometry import check_geometries
from geo.topology.hierarchy import check_hierarchy
from geo.topology.units import UnitTable
from geo.vocab import LEVELS

__all__ = [
    "FINDING_TYPES",
    "Finding",
    "ValidationOptions",
    "findings_to_geojson",
    "findings_to_json",
    "fix_assign_gap",
    "fix_make_valid",
    "fix_snap_to_parent",
    "fix_split_overlap",
    "metric_epsg",
    "validate_units",
]

DEFAULT_OPTIONS = ValidationOptions()
_REQUIRED = ("level", "code", "geometry")


def _text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _parent(value) -> str | None:
    text = _text(value).strip()
    return text or None


def _lonlat(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The frame in EPSG:4326; a frame without a CRS is taken to be lon/lat already."""
    if gdf.crs is None or gdf.crs.to_epsg() in (4326, 4490):
        return gdf
    return gdf.to_crs(4326)


def _columns(gdf: gpd.GeoDataFrame, what: str, required: tuple[str, ...]) -> None:
    missing = [c for c in required if c != "geometry" and c not in gdf.columns]
    if missing:
        raise InvalidInput(
            f"{what} lack column(s) {missing}; expected code, name, level, parent_code, geometry",
            f"{what}缺少列 {missing}；应有 code、name、level、parent_code、geometry",
        )


def _sort_key(f: Finding) -> tuple:
    return (f.severity != "error", FINDING_TYPES.index(f.type), f.codes, f.message)


def _unit_arrays(units: gpd.GeoDataFrame) -> tuple[np.ndarray, ...]:
    """Code, name, level, parent code and geometry of each unit, as object arrays (in
    lon/lat); InvalidInput for a missing column or an unknown level."""
    _columns(units, "units", _REQUIRED)
    units = _lonlat(units)
    n = len(units)
    code = np.array([_text(v) for v in units["code"]], dtype=object)
    name = np.array(
        [_text(v) or None for v in units["name"]] if "name" in units else [None] * n,
        dtype=object,
    )
    level = np.array([_text(v).strip() for v in units["level"]], dtype=object)
    parent = np.array(
        [_parent(v) for v in units["parent_code"]] if "parent_code" in units else [None] * n,
        dtype=object,
    )
    unknown = sorted(set(level.tolist()) - set(LEVELS))
    if unknown:
        raise InvalidInput(
            f"unknown level(s) {unknown}; use one of {list(LEVELS)}",
            f"未知层级 {unknown}；应为 {list(LEVELS)} 之一",
        )
    return code, name, level, parent, np.asarray(units.geometry.values, dtype=object)


def _special_arrays(
    special: gpd.GeoDataFrame | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Finding]]:
    """Code, name, geometry and repaired geometry of each special grid, and the
    findings of their geometry (all empty without special grids)."""
    if special is None or not len(special):
        empty = np.empty(0, dtype=object)
        return empty, empty, empty, empty, []
    _columns(special, "special grids", ("code", "geometry"))
    special = _lonlat(special)
    m = len(special)
    s_code = np.array([_text(v) for v in special["code"]], dtype=object)
    s_name = np.array(
        [_text(v) or None for v in special["name"]] if "name" in special else [None] * m,
        dtype=object,
    )
    s_geoms = np.asarray(special.geometry.values, dtype=object)
    s_found, s_repaired = check_geometries(
        s_code, s_name, np.array(["special"] * m, dtype=object), s_geoms
    )
    return s_code, s_name, s_geoms, s_repaired, s_found


def validate_units(
    units: gpd.GeoDataFrame,
    special: gpd.GeoDataFrame | None = None,
    options: ValidationOptions = DEFAULT_OPTIONS,
) -> list[Finding]:
    """Every problem of a boundary set, errors first.

    Parameters
    ----------
    units
        Columns ``level`` (district/street/community/grid), ``code``, ``name``,
        ``parent_code`` and a Polygon/MultiPolygon geometry, EPSG:4326 (another CRS
        is converted; none is taken as lon/lat). Geometry may be invalid or empty:
        that is reported, not raised.
    special
        Special grids (``code``, ``name``, geometry), checked for validity, duplicate
        codes and lying outside the district.
    options
        Tolerances and the grid number width.

    Returns
    -------
    list of Finding
        Sorted by severity, type and codes; empty for a clean set.

    Raises
    ------
    InvalidInput
        If a required column is missing or a level is not one of the four.
    """
    code, name, level, parent, geoms = _unit_arrays(units)
    findings, repaired = check_geometries(code, name, level, geoms)
    s_code, s_name, s_geoms, s_repaired, s_found = _special_arrays(special)
    findings += s_found

    epsg = metric_epsg_for(np.concatenate([repaired, s_repaired]))
    table = UnitTable(code, name, level, parent, to_metric(repaired, epsg), epsg)
    s_metric = to_metric(s_repaired, epsg)

    findings += duplicate_codes(
        np.concatenate([code, s_code]),
        np.concatenate([level, np.array(["special"] * len(s_code), dtype=object)]),
        np.concatenate([geoms, s_geoms]),
    )
    findings += code_findings(code, name, level, parent, options.grid_number_width)
    findings += check_hierarchy(table, options, special=(s_code, s_name, s_metric))
    return sorted(findings, key=_sort_key)
