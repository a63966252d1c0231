"""The one door to h3: every H3 call of the project goes through here.

h3 takes (lat, lng); shapely, GeoJSON and this project take (lon, lat). Only this
module knows that. Cells are handled as ``int`` (they fit a signed BIGINT: the top
bit of an H3 index is always 0), which is how PostGIS stores them.
"""

from __future__ import annotations

import h3
import numpy as np


def cell_of(lon: float, lat: float, res: int) -> int:
    """The H3 cell (as int) containing one WGS-84 point."""
    return h3.str_to_int(h3.latlng_to_cell(lat, lon, res))


def cells_of(lon: np.ndarray, lat: np.ndarray, res: int) -> np.ndarray:
    """H3 cells (int64 array) for arrays of WGS-84 points."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    out = np.empty(lon.shape, dtype=np.int64)
    to_cell = h3.latlng_to_cell
    to_int = h3.str_to_int
    for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
        out[i] = to_int(to_cell(y, x, res))
    return out


def cell_to_str(cell: int) -> str:
    """Hex string form of a cell, as other H3 tools show it."""
    return h3.int_to_str(int(cell))


def cell_center(cell: int) -> tuple[float, float]:
    """(lon, lat) of a cell's centre."""
    lat, lon = h3.cell_to_latlng(h3.int_to_str(int(cell)))
    return lon, lat


def cell_boundary(cell: int) -> list[tuple[float, float]]:
    """The cell's boundary ring as (lon, lat) pairs, closed."""
    ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(h3.int_to_str(int(cell)))]
    return [*ring, ring[0]]


def cell_resolution(cell: int) -> int:
    return h3.get_resolution(h3.int_to_str(int(cell)))
