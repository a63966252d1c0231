"""The one door to h3: every H3 call of the project goes through here.

h3 takes (lat, lng); shapely, GeoJSON and this project take (lon, lat). Only this
module knows that. Cells are handled as ``int`` (they fit a signed BIGINT: the top
bit of an H3 index is always 0), which is how PostGIS stores them.

Arrays have their own functions, so no caller loops over h3 itself: :func:`cells_of`
(through the vectorised lattice of :mod:`geo.hexgrid.lattice` when that pays),
:func:`cell_centers`, :func:`cell_boundaries` and :func:`cell_polygons`.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import h3
import h3.api.basic_int as h3int
import numpy as np
import shapely
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry


def cell_of(lon: float, lat: float, res: int) -> int:
    """The H3 cell (as int) containing one WGS-84 point."""
    # h3's int API: no round trip through the hex string (half the cost per point).
    cell: int = h3int.latlng_to_cell(lat, lon, res)
    return cell


# cells_of answers through the vectorised lattice (geo.hexgrid.lattice) from this many
# points, at resolutions up to LATTICE_MAX_RES. Measured (CPU time, points spread over
# the sample district): at res 9–10 and 10,000+ points the lattice costs 0.15–0.7 µs a
# point against 0.5 µs for h3's own call per point, and 3× less once its hexagons are
# named (they are cached); below that, or at finer resolutions where most points fall
# in a hexagon never seen (each must be named by h3 first), it costs more.
LATTICE_MIN_POINTS = 10_000
LATTICE_MAX_RES = 10


def cells_of(lon: ArrayLike, lat: ArrayLike, res: int) -> np.ndarray:
    """H3 cells (int64 array) for arrays of WGS-84 points: h3's answers exactly.

    Large arrays at coarse resolutions go through :func:`geo.hexgrid.lattice.points_to_cells`
    (the same cells, tested against h3), the rest through :func:`cells_of_each`.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon.ndim == 1 and lon.size >= LATTICE_MIN_POINTS and res <= LATTICE_MAX_RES:
        from geo.hexgrid.lattice import points_to_cells  # it imports this module

        return points_to_cells(lon, lat, res)
    return cells_of_each(lon, lat, res)


def cells_of_each(lon: ArrayLike, lat: ArrayLike, res: int) -> np.ndarray:
    """H3 cells (int64 array) for arrays of WGS-84 points, one h3 call per point (the
    reference the lattice is held to, and what names its hexagons)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.empty(lon.shape, dtype=np.int64)
    to_cell = h3int.latlng_to_cell
    for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
        out[i] = to_cell(y, x, res)
    return out


def cell_to_str(cell: int) -> str:
    """Hex string form of a cell, as other H3 tools show it."""
    return f"{int(cell):x}"  # what h3.int_to_str does, without the call into h3


def cell_center(cell: int) -> tuple[float, float]:
    """(lon, lat) of a cell's centre."""
    lat, lon = h3.cell_to_latlng(h3.int_to_str(int(cell)))
    return lon, lat


def cell_centers(cells: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) arrays of many cells' centres."""
    to_latlng = h3int.cell_to_latlng
    ll = np.array([to_latlng(c) for c in np.asarray(cells, dtype=np.int64).tolist()], dtype=float)
    ll = ll.reshape(-1, 2)
    return ll[:, 1], ll[:, 0]


def cell_boundary(cell: int) -> list[tuple[float, float]]:
    """The cell's boundary ring as (lon, lat) pairs, closed."""
    ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(h3.int_to_str(int(cell)))]
    return [*ring, ring[0]]


def cell_resolution(cell: int) -> int:
    res: int = h3.get_resolution(h3.int_to_str(int(cell)))
    return res


# --- Added for patrol path filling and coverage (geo/patrol_lattice.py, geo/coverage.py).


def pentagons(res: int) -> list[int]:
    """The 12 pentagon cells of a resolution (at res 0: the icosahedron's vertices)."""
    return [h3.str_to_int(c) for c in h3.get_pentagons(res)]


def icosahedron_faces(cell: int) -> list[int]:
    """Numbers (0–19) of the icosahedron faces a cell touches, as H3 numbers them."""
    return sorted(h3.get_icosahedron_faces(h3.int_to_str(int(cell))))


def grid_disk(cell: int, k: int) -> list[int]:
    """The cell and every cell within ``k`` steps of it."""
    return [h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(int(cell)), k)]


def polygon_cells(geom: BaseGeometry | None, res: int) -> np.ndarray:
    """Cells (int64) whose centre lies inside a shapely (Multi)Polygon in lon/lat.

    This is h3's own polygon fill with ``contain="center"``; a cell whose centre is on
    a border shared by two polygons goes to exactly one of them.
    """
    if geom is None or geom.is_empty:
        return np.empty(0, dtype=np.int64)
    cells = h3.geo_to_cells(geom.__geo_interface__, res)  # GeoJSON order: lon, lat
    return np.array(sorted(h3.str_to_int(c) for c in cells), dtype=np.int64)


def cell_boundaries(cells: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Boundary vertices of many cells, for building their polygons in one go.

    Returns ``(xy, index)``: the (lon, lat) vertices, shape (m, 2), ring after ring in
    the order given (rings not closed; 6 vertices a hexagon, 5 a pentagon, a few more
    where a cell crosses an icosahedron edge), and the position of each vertex's cell.
    """
    to_boundary = h3int.cell_to_boundary
    rings = [to_boundary(c) for c in np.asarray(cells, dtype=np.int64).tolist()]
    counts = np.fromiter(map(len, rings), dtype=np.int64, count=len(rings))
    latlng = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(rings)),
        dtype=float,
        count=2 * int(counts.sum()),
    ).reshape(-1, 2)
    return latlng[:, ::-1], np.repeat(np.arange(len(rings)), counts)


def cell_polygons(cells: ArrayLike) -> list[shapely.Polygon]:
    """Shapely Polygons (lon/lat) of the cells' boundaries, in the order given."""
    xy, index = cell_boundaries(cells)
    if len(index) == 0:
        return []
    polygons: list[shapely.Polygon] = shapely.polygons(
        shapely.linearrings(xy, indices=index)
    ).tolist()
    return polygons
