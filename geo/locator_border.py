"""How far a point is from its grid's border, in metres, and who is across it.

Used to flag ambiguous answers: a GPS fix 3 m from a border may belong to the
neighbour. Distances are measured in a transverse Mercator projection centred within
0.05° of the point (the Gauss-Krüger construction with the point near its central
meridian, scale error below 1e-6), on the WGS-84 ellipsoid of the stored lon/lat,
never by scaling degrees.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

# Two borders closer than this at the nearest point count as the same (shared) border.
SHARED_BORDER_M = 0.01
# Longest edge piece projected as a straight line (about 11 m).
DENSIFY_DEG = 1e-4
# Metres per degree of latitude, lower bound (at the equator); for search boxes only.
_MIN_M_PER_DEG = 110_500.0


@lru_cache(maxsize=64)
def _to_local_metres(lon0: float) -> Transformer:
    crs = CRS.from_proj4(
        f"+proj=tmerc +lat_0=0 +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    )
    return Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)


def to_local_metres(geoms, lon: float):
    """Geometries in lon/lat → metres in a transverse Mercator near ``lon``.

    Edges are straight in lon/lat (as PostGIS geometry sees them) but bend slightly
    once projected: they are cut into pieces of at most ``DENSIFY_DEG`` first, which
    keeps the bending below a micrometre (a 500 m edge projected whole is off by
    about 0.1 mm in the middle).
    """
    tr = _to_local_metres(round(float(lon), 1))
    dense = shapely.segmentize(geoms, DENSIFY_DEG)
    return shapely.transform(dense, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def border_info(
    geoms: np.ndarray,
    tree: shapely.STRtree,
    row: int,
    lon: float,
    lat: float,
    tolerance_m: float,
) -> tuple[float, int]:
    """Distance (m) from the point to the border of grid ``row``, and the neighbour row.

    The neighbour is the grid on the other side of the nearest stretch of border
    (sharing the border point nearest to the point, within ``SHARED_BORDER_M``), given
    only when the distance is at most ``tolerance_m``; -1 otherwise, and -1 on an
    outer border of the map. At a corner shared by several grids the one nearest to
    the point wins, then the smallest row (code).
    """
    point_m, own_m = to_local_metres(
        np.array([shapely.Point(lon, lat), geoms[row]], dtype=object), lon
    )
    border_m = shapely.boundary(own_m)
    distance = float(shapely.distance(point_m, border_m))
    if distance > tolerance_m:
        return distance, -1
    nearest = shapely.line_interpolate_point(border_m, shapely.line_locate_point(border_m, point_m))
    reach = (distance + SHARED_BORDER_M) / (_MIN_M_PER_DEG * max(np.cos(np.radians(lat)), 1e-3))
    near = tree.query(shapely.box(lon - reach, lat - reach, lon + reach, lat + reach))
    near = np.sort(near[near != row])
    if len(near) == 0:
        return distance, -1
    near_m = to_local_metres(geoms[near], lon)
    touching = shapely.distance(near_m, nearest) <= SHARED_BORDER_M
    if not touching.any():
        return distance, -1
    d = shapely.distance(near_m[touching], point_m)
    return distance, int(near[touching][np.argmin(d)])  # argmin: first (smallest row) on ties
