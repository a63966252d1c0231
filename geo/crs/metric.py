"""Metric measurement for topology checks: the Gauss-Krüger zone, areas, sliver shape.

Areas and widths are measured in the CGCS2000 3-degree Gauss-Krüger zone whose
central meridian is nearest the data (EPSG:4534 for CM 75°E … 4554 for CM 135°E;
4547 is CM 114°E). Within ±1.5° of the central meridian the scale error is below
0.03 % in area, far below any tolerance here. Those EPSG definitions put northing
first, so every transformer is built with ``always_xy``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

if TYPE_CHECKING:  # annotations only: crs must not load the topology package
    from shapely.geometry.base import BaseGeometry

    from geo.topology.findings import ValidationOptions

# A shapely geometry or an array of them: the transforms give back what they are given.
_Geoms = TypeVar("_Geoms", "BaseGeometry", np.ndarray)

_GK_FIRST_EPSG = 4534  # CGCS2000 / 3-degree Gauss-Kruger CM 75E
_GK_LAST_EPSG = 4554  # ... CM 135E
_GK_FIRST_CM = 75.0


def metric_epsg(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger zone nearest ``lon`` (°E)."""
    zone = round((float(lon) - _GK_FIRST_CM) / 3.0)
    return int(min(max(_GK_FIRST_EPSG + zone, _GK_FIRST_EPSG), _GK_LAST_EPSG))


def metric_epsg_for(geoms: np.ndarray) -> int:
    """The zone for a set of lon/lat geometries: the one at the centre of their bounds."""
    geoms = np.asarray(geoms, dtype=object)
    usable = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if usable.size == 0:
        return metric_epsg(114.0)
    bounds = shapely.total_bounds(usable)
    return metric_epsg((bounds[0] + bounds[2]) / 2.0)


@lru_cache(maxsize=32)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def _transform(geoms: _Geoms, src: int, dst: int) -> _Geoms:
    tr = _transformer(src, dst)

    def xy(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    out: _Geoms = shapely.transform(geoms, xy)
    return out


def to_metric(geoms: _Geoms, epsg: int) -> _Geoms:
    """EPSG:4326 geometries (array or single) to the metric CRS ``epsg``, vertex by vertex."""
    return _transform(geoms, 4326, epsg)


def to_lonlat(geoms: _Geoms, epsg: int) -> _Geoms:
    """Metric geometries (array or single) back to EPSG:4326."""
    return _transform(geoms, epsg, 4326)


def shape_stats(geoms: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area (m²), Polsby–Popper thinness 4πA/P² and mean width 2A/P of metric polygons."""
    area = np.asarray(shapely.area(geoms), dtype=float)
    perimeter = np.asarray(shapely.length(geoms), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        thinness = np.where(perimeter > 0, 4.0 * np.pi * area / perimeter**2, 0.0)
        width = np.where(perimeter > 0, 2.0 * area / perimeter, 0.0)
    return area, thinness, width


def is_sliver(geoms: npt.ArrayLike, options: ValidationOptions) -> np.ndarray:
    """True for metric polygons that are tiny, or both thin and narrow (see options)."""
    area, thinness, width = shape_stats(geoms)
    return (area < options.sliver_area_m2) | (
        (thinness < options.sliver_thinness) & (width < options.sliver_width_m)
    )


def classify(pieces: np.ndarray, options: ValidationOptions) -> tuple[bool, np.ndarray, np.ndarray]:
    """Whether every piece is a sliver, with the pieces' thinness and mean width."""
    if len(pieces) == 1:  # most findings: skip the vectorised calls' overhead
        a, p = pieces[0].area, pieces[0].length
        area = np.array([a])
        thinness = np.array([4.0 * np.pi * a / p**2 if p > 0 else 0.0])
        width = np.array([2.0 * a / p if p > 0 else 0.0])
    else:
        area, thinness, width = shape_stats(pieces)
    sliver = (area < options.sliver_area_m2) | (
        (thinness < options.sliver_thinness) & (width < options.sliver_width_m)
    )
    return bool(np.all(sliver)), thinness, width


def polygon_pieces(geom: BaseGeometry | None) -> np.ndarray:
    """The polygons of a (possibly mixed) geometry; lines and points left by overlay dropped."""
    if geom is None or geom.is_empty:
        return np.empty(0, dtype=object)
    kind = geom.geom_type
    if kind == "Polygon":  # the common cases, without the vectorised call overhead
        return np.array([geom], dtype=object)
    if kind == "MultiPolygon":
        return np.array(list(geom.geoms), dtype=object)
    parts = shapely.get_parts(geom)
    # A collection can nest multipolygons; one more level flattens them.
    parts = shapely.get_parts(parts)
    kinds = shapely.get_type_id(parts)
    polygons: np.ndarray = parts[kinds == 3]
    return polygons


# Overlay results in metres are snapped to this grid: a border that runs along a
# T-junction leaves zero-width spikes (1e-9 m wide, hundreds of metres long) on the
# pieces, which would wreck their perimeter, thinness and location. Snapping to
# 1 mm collapses them and moves real vertices by at most 0.5 mm.
PIECE_GRID_M = 1e-3


def clean_pieces(geom: BaseGeometry | None) -> np.ndarray:
    """Polygons of a metric overlay result, snapped to 1 mm so hairline spikes vanish."""
    pieces = polygon_pieces(geom)
    if len(pieces) == 0:
        return pieces
    multi = pieces[0] if len(pieces) == 1 else shapely.MultiPolygon(list(pieces))
    return polygon_pieces(shapely.set_precision(multi, PIECE_GRID_M))


def clean_many(geoms: npt.ArrayLike) -> list[np.ndarray]:
    """:func:`clean_pieces` for an array of overlay results, snapped in one call."""
    snapped = shapely.set_precision(np.asarray(geoms, dtype=object), PIECE_GRID_M)
    return [polygon_pieces(g) for g in snapped]


def shared_border_lengths(
    piece: BaseGeometry | None, neighbours: npt.ArrayLike, snap_m: float = 0.01
) -> np.ndarray:
    """Length (m) of ``piece``'s boundary that runs along each of ``neighbours``.

    Metric geometries. A border counts when it lies within ``snap_m`` of the
    neighbour, so borders that differ by reprojection noise still count as shared
    (each shared stretch is counted up to ``2 × snap_m`` long at its ends).
    """
    neighbours = np.asarray(neighbours, dtype=object)
    lengths = np.zeros(len(neighbours))
    if len(neighbours) == 0 or piece is None or piece.is_empty:
        return lengths
    near = np.flatnonzero(shapely.dwithin(neighbours, piece, snap_m))
    if len(near) == 0:
        return lengths
    boundary = piece.boundary
    # Only the neighbours' borders near the piece matter: clipping them to its box
    # first keeps the buffers (and the intersections) small for big neighbours.
    x0, y0, x1, y1 = piece.bounds
    pad = 2 * snap_m
    clipped = shapely.clip_by_rect(neighbours[near], x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    zones = shapely.buffer(clipped, snap_m, quad_segs=1)
    lengths[near] = shapely.length(shapely.intersection(boundary, zones))
    return lengths
