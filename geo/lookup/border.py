"""How far a point is from its grid's border, in metres, and who is across it.

Used to flag ambiguous answers: a GPS fix 3 m from a border may belong to the
neighbour. Distances are measured in a transverse Mercator projection centred within
0.05° of the point (the Gauss-Krüger construction with the point near its central
meridian, scale error below 1e-6), on the WGS-84 ellipsoid of the stored lon/lat,
never by scaling degrees: the grid's border, cut into pieces of at most
``DENSIFY_DEG``, projected, and the distance from the projected point to it.

Two ways to the same number. :func:`border_info` projects the whole border (about
50 µs for a sample grid); :func:`border_distance` first finds, in a cheap local
frame (lon/lat scaled by the ellipsoid's radii at the point), the few border pieces
that can be nearest and projects only those (about 10 µs). The cheap frame differs
from the projection by less than ``δ`` (relative, bounded below from the distance and
the latitude), so every piece within ``(1 + 4δ)`` of the cheap minimum is kept and the
true minimum is among them: both ways give the same distance (the tests compare them
on 100,000 points). Points farther than ``FAST_MAX_M`` from the border, or beyond
±75° latitude, take the full way.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.lookup.raster import ring_segments

# Two borders closer than this at the nearest point count as the same (shared) border.
SHARED_BORDER_M = 0.01
# Longest edge piece projected as a straight line (about 11 m).
DENSIFY_DEG = 1e-4
# Metres per degree of latitude, lower bound (at the equator); for search boxes only.
_MIN_M_PER_DEG = 110_500.0
# The fast path vouches for distances up to this; beyond, the cheap frame's error grows.
FAST_MAX_M = 20_000.0
# WGS-84 semi-major axis and first eccentricity squared (the cheap frame's scales).
_A = 6_378_137.0
_E2 = 0.00669437999014
# Edges per grid from which the cheap pass is vectorised (a Python loop wins below).
_VECTOR_FROM = 48


@lru_cache(maxsize=64)
def _to_local_metres(lon0: float) -> Transformer:
    crs = CRS.from_proj4(
        f"+proj=tmerc +lat_0=0 +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    )
    return Transformer.from_crs(CRS.from_epsg(4326), crs, always_xy=True)


def to_local_metres(geoms: np.ndarray, lon: float) -> np.ndarray:
    """Geometries in lon/lat → metres in a transverse Mercator near ``lon``.

    Edges are straight in lon/lat (as PostGIS geometry sees them) but bend slightly
    once projected: they are cut into pieces of at most ``DENSIFY_DEG`` first, which
    keeps the bending below a micrometre (a 500 m edge projected whole is off by
    about 0.1 mm in the middle).
    """
    tr = _to_local_metres(round(float(lon), 1))
    dense = shapely.segmentize(geoms, DENSIFY_DEG)
    out: np.ndarray = shapely.transform(
        dense, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    )
    return out


def border_info(
    geoms: np.ndarray,
    tree: shapely.STRtree,
    row: int,
    lon: float,
    lat: float,
    tolerance_m: float,
    edges: np.ndarray | None = None,
) -> tuple[float, int]:
    """Distance (m) from the point to the border of grid ``row``, and the neighbour row.

    The neighbour is the grid on the other side of the nearest stretch of border
    (sharing the border point nearest to the point, within ``SHARED_BORDER_M``), given
    only when the distance is at most ``tolerance_m``; -1 otherwise, and -1 on an
    outer border of the map. At a corner shared by several grids the one nearest to
    the point wins, then the smallest row (code).

    With ``edges`` (the grid's, from :class:`BorderEdges`) a point beyond the
    tolerance is answered by :func:`border_distance`, without projecting the border.
    """
    if edges is not None:
        fast = border_distance(edges, lon, lat)
        # The margin keeps the "beyond the tolerance" decision the full way's own.
        if fast is not None and fast > tolerance_m + 1e-6:
            return fast, -1
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


class BorderEdges:
    """Every grid's ring edges (exterior and holes) in lon/lat, by row.

    ``of(row)`` is an (n, 4) array of x1, y1, x2, y2 in ring order: what
    :func:`border_distance` scans. About 32 bytes per edge.
    """

    def __init__(self, geoms: np.ndarray):
        segs, row = ring_segments(geoms)
        self.segs = np.ascontiguousarray(segs, dtype=np.float64)
        self.ptr = np.searchsorted(row, np.arange(len(geoms) + 1)).tolist()

    def of(self, row: int) -> np.ndarray:
        return self.segs[self.ptr[row] : self.ptr[row + 1]]


def _cheap_distances(
    edges: np.ndarray, lon: float, lat: float, kx: float, ky: float
) -> tuple[list[float], list[float]]:
    """Distance (m) from the point to each edge, and the foot's position (0–1) on it,
    in the local frame x = (lon - lon0)·kx, y = (lat - lat0)·ky (straight edges stay
    straight there: the frame is affine in lon/lat)."""
    if len(edges) >= _VECTOR_FROM:
        return _cheap_distances_numpy(edges, lon, lat, kx, ky)
    dist: list[float] = []
    foot: list[float] = []
    for x1, y1, x2, y2 in edges.tolist():
        ax, ay = (x1 - lon) * kx, (y1 - lat) * ky
        dx, dy = (x2 - lon) * kx - ax, (y2 - lat) * ky - ay
        len2 = dx * dx + dy * dy
        t = -(ax * dx + ay * dy) / len2 if len2 > 0 else 0.0
        t = 0.0 if t < 0.0 else 1.0 if t > 1.0 else t
        dist.append(math.hypot(ax + t * dx, ay + t * dy))
        foot.append(t)
    return dist, foot


def _cheap_distances_numpy(
    edges: np.ndarray, lon: float, lat: float, kx: float, ky: float
) -> tuple[list[float], list[float]]:
    """:func:`_cheap_distances` for many edges, in numpy."""
    ax = (edges[:, 0] - lon) * kx
    ay = (edges[:, 1] - lat) * ky
    dx = (edges[:, 2] - lon) * kx - ax
    dy = (edges[:, 3] - lat) * ky - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(len2 > 0, -(ax * dx + ay * dy) / len2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(ax + t * dx, ay + t * dy).tolist(), t.tolist()


def _point_to_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    # The formula of GEOS's Distance::pointToSegment (what shapely.distance uses).
    if ax == bx and ay == by:
        return math.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
    r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
    if r <= 0.0:
        return math.sqrt((px - ax) ** 2 + (py - ay) ** 2)
    if r >= 1.0:
        return math.sqrt((px - bx) ** 2 + (py - by) ** 2)
    s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
    return abs(s) * math.sqrt(len2)


def border_distance(edges: np.ndarray, lon: float, lat: float) -> float | None:
    """Distance (m) from the point to the border made of ``edges``, as :func:`border_info`
    measures it, or None when the fast way cannot vouch for it (far, polar, no edges).

    Only the border pieces near the cheap frame's nearest point are densified (as
    GEOS's ``segmentize`` cuts them) and projected.
    """
    if not len(edges) or not abs(lat) <= 75.0:
        return None
    phi = math.radians(lat)
    w2 = 1.0 - _E2 * math.sin(phi) ** 2
    kx = _A / math.sqrt(w2) * math.cos(phi) * math.pi / 180.0
    ky = _A * (1.0 - _E2) / (w2 * math.sqrt(w2)) * math.pi / 180.0
    dist, foot = _cheap_distances(edges, lon, lat, kx, ky)
    dmin = min(dist)
    if not dmin <= FAST_MAX_M:
        return None
    # Relative difference between the cheap frame and the projection within dmin of the
    # point: the frame's scale drifts by about tan(lat)·Δlat (radians), the projection's
    # by < 1e-6; taken twice over, with a metre added for points on the border.
    delta = 2.0 * (dmin + 1.0) / 6.3e6 * (1.0 + math.tan(abs(phi))) + 2e-6
    keep_below = dmin * (1.0 + 4.0 * delta) + 1e-6
    # Along a kept edge, pieces farther than this from the cheap foot cannot be nearest.
    reach_m = math.sqrt(8.0 * delta) * keep_below + 1e-6
    lons: list[float] = [lon]  # the point first: one projection call for all
    lats: list[float] = [lat]
    runs: list[tuple[int, int]] = []
    for i, d in enumerate(dist):
        if d > keep_below:
            continue
        x1, y1, x2, y2 = edges[i].tolist()
        dx, dy = x2 - x1, y2 - y1
        length = math.sqrt(dx * dx + dy * dy)
        n = math.ceil(length / DENSIFY_DEG) if length > DENSIFY_DEG else 1
        piece_m = math.hypot(dx * kx, dy * ky) / n
        k = min(n - 1, int(foot[i] * n))
        w = math.ceil(reach_m / piece_m) if piece_m > 0 else n  # ≥ 1: reach_m > 0
        j0, j1 = max(0, k - w), min(n, k + 1 + w)
        start = len(lons)
        step = length / n
        for j in range(j0, j1 + 1):
            if j == 0:
                lons.append(x1)
                lats.append(y1)
            elif j == n:
                lons.append(x2)
                lats.append(y2)
            else:  # GEOS Densifier: p0 + ((j · len/n) / len) · (p1 - p0)
                f = (j * step) / length
                lons.append(x1 + f * dx)
                lats.append(y1 + f * dy)
        runs.append((start, len(lons)))
    tr = _to_local_metres(round(float(lon), 1))
    xs, ys = tr.transform(lons, lats)
    px, py = xs[0], ys[0]
    best = math.inf
    for start, end in runs:
        for j in range(start, end - 1):
            d = _point_to_segment(px, py, xs[j], ys[j], xs[j + 1], ys[j + 1])
            if d < best:
                best = d
    return best
