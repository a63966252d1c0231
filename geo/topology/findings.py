"""What :func:`geo.topology.validate_units` reports: findings, options, JSON/GeoJSON output.

Kept apart from the checks so that the API layer can serialise findings without
importing the geometry machinery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

# The exact strings of Finding.type, in the order a planner usually fixes them.
FINDING_TYPES = (
    "invalid_geometry",
    "duplicate_code",
    "malformed_code",
    "code_prefix",
    "orphan",
    "outside_parent",
    "multi_parent",
    "overlap",
    "gap",
    "sliver",
    "special_outside_district",
)
SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Finding:
    """One problem in a boundary set.

    ``codes`` lists the features involved, the offending one first (for an overlap:
    both, sorted; for a gap: the parent whose area is uncovered). ``geometry`` locates
    the problem in EPSG:4326 (the uncovered piece, the overlap, the point where a
    ring crosses itself, ...). ``area_m2`` is measured in the set's CGCS2000
    Gauss-Krüger zone; None where an area means nothing (codes, invalid rings).
    """

    type: str
    severity: str
    codes: tuple[str, ...]
    area_m2: float | None
    geometry: BaseGeometry | None
    message: str
    message_zh: str
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ValidationOptions:
    """Tolerances of :func:`geo.topology.validate_units`.

    Pieces at or below a tolerance are floating-point noise from reprojection or a
    datum shift (a 1 km shared border that is 0.1 mm off makes 0.1 m²) and are not
    reported. Pieces above it are classed as *slivers* (a warning: almost always a
    digitising mismatch that snapping fixes) when they are tiny or thin and narrow,
    and as gaps/overlaps/outside-parent areas (errors) otherwise.

    Attributes
    ----------
    outside_parent_tolerance_m2, overlap_tolerance_m2, gap_tolerance_m2
        Areas (m²) at or below which the piece is ignored.
    sliver_area_m2
        A piece smaller than this is a sliver whatever its shape. 200 m² is a 14 m
        square: smaller than any real grid or building block (the sample district's
        smallest grid is over 10,000 m²).
    sliver_thinness
        Polsby–Popper compactness 4πA/P² below which a piece counts as thin
        (circle 1, square 0.79, 1:10 strip 0.26, 1:30 strip 0.1, 1:100 strip 0.03).
    sliver_width_m
        A thin piece is a sliver only if its mean width 2A/P is below this too, so a
        10 m wide unassigned road stays a gap: 5 m is narrower than any lane.
    multi_parent_share
        A unit is ``multi_parent`` when at least two units of its parent level each
        hold this share of its area (and more than the outside-parent tolerance).
    grid_number_width
        Digits of the grid number after the 12-digit community code (2 or 3).
    """

    outside_parent_tolerance_m2: float = 1.0
    overlap_tolerance_m2: float = 1.0
    gap_tolerance_m2: float = 1.0
    sliver_area_m2: float = 200.0
    sliver_thinness: float = 0.1
    sliver_width_m: float = 5.0
    multi_parent_share: float = 0.1
    grid_number_width: int = 3


def _jsonable(value: Any) -> Any:
    """Plain JSON values (numpy scalars, tuples and non-finite floats made safe)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, BaseGeometry):
        return shapely.geometry.mapping(value)
    return value


def _geojson_geometry(geom: BaseGeometry | None) -> dict | None:
    if geom is None or geom.is_empty:
        return None
    return shapely.geometry.mapping(geom)


def _properties(f: Finding) -> dict:
    return {
        "type": f.type,
        "severity": f.severity,
        "codes": list(f.codes),
        "area_m2": None if f.area_m2 is None else round(float(f.area_m2), 3),
        "message": f.message,
        "message_zh": f.message_zh,
        "detail": _jsonable(f.detail),
    }


def findings_to_json(findings: list[Finding]) -> list[dict]:
    """Findings as JSON-ready dicts (geometry as a GeoJSON geometry object or None).

    Returns
    -------
    list of dict
        Keys ``type, severity, codes, area_m2, message, message_zh, detail, geometry``.
    """
    return [{**_properties(f), "geometry": _geojson_geometry(f.geometry)} for f in findings]


def findings_to_geojson(findings: list[Finding]) -> dict:
    """Findings as a GeoJSON FeatureCollection, one feature per finding (EPSG:4326).

    A finding without a location gets ``"geometry": null``, which GeoJSON allows,
    so the collection still lists every finding.
    """
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": _geojson_geometry(f.geometry),
                "properties": _properties(f),
            }
            for f in findings
        ],
    }
