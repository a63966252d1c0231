"""Planar geometry for the sample district: outlines, area-targeted splits, exact tiling.

Everything here works in a metric CRS (EPSG:4547 metres) on shapely Polygons without
holes. A polygon is divided by a cut line (straight for city roads, gently bent for
field roads and canals) placed so that one side gets a target share of the area; the
two pieces come from polygonizing the noded union of the outline and the cut, so they
share the new nodes bit for bit. Recursion gives the block-like subdivisions.

Nodes a cut puts on its parent's outline are not yet on the *neighbouring* parent's
children (T-junctions). :func:`fix_t_junctions` inserts every vertex that lies on an
edge into that edge, across all levels at once, so afterwards every shared border is
the same vertex sequence on both sides. Converting vertex by vertex to another CRS then
keeps the tiling exact (see :func:`to_wgs84`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from shapely import Polygon

METRIC_EPSG = 4547
# EPSG:4547 is northing-first; always_xy keeps (easting, northing) / (lon, lat) order.
_TO_WGS84 = Transformer.from_crs(METRIC_EPSG, 4326, always_xy=True)
_FROM_WGS84 = Transformer.from_crs(4326, METRIC_EPSG, always_xy=True)


def lonlat_to_metric(lon: float, lat: float) -> tuple[float, float]:
    """One WGS-84 point to EPSG:4547 easting/northing."""
    x, y = _FROM_WGS84.transform(lon, lat)
    return float(x), float(y)


def to_wgs84(geoms: np.ndarray) -> np.ndarray:
    """Convert EPSG:4547 geometries to WGS-84 lon/lat, vertex by vertex.

    All coordinates go through one transformer call: equal input vertices give equal
    output vertices, so borders shared in metres stay shared in degrees.
    """

    def _xy(coords: np.ndarray) -> np.ndarray:
        lon, lat = _TO_WGS84.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), _xy)


def xy_to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised EPSG:4547 → WGS-84 for point arrays."""
    lon, lat = _TO_WGS84.transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def radial_outline(
    rng: np.random.Generator,
    center: tuple[float, float],
    area: float,
    n_vertices: int = 160,
    elongation: float = 1.0,
    roughness: float = 1.0,
) -> Polygon:
    """A star-shaped irregular polygon of exactly ``area`` m² centred on ``center``.

    Radii come from a few low harmonics (the overall shape) plus small high ones (a
    boundary that follows roads and field edges). Vertices at increasing angles with
    positive radii make a simple polygon; the affine stretch keeps it simple.
    """
    theta = np.sort(rng.uniform(0, 2 * np.pi, n_vertices))
    log_r = np.zeros(n_vertices)
    for k in range(1, 7):
        amp = roughness * 0.22 / k
        log_r += amp * rng.normal() * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    for k in range(7, 24):
        amp = roughness * 0.025
        log_r += amp * rng.normal() * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r = np.exp(log_r)
    u, v = r * np.cos(theta) * elongation, r * np.sin(theta) / elongation
    rot = rng.uniform(0, np.pi)
    x = u * math.cos(rot) - v * math.sin(rot)
    y = u * math.sin(rot) + v * math.cos(rot)
    poly = Polygon(np.column_stack([x, y]))
    scale = math.sqrt(area / poly.area)
    c = poly.centroid
    x = (x - c.x) * scale + center[0]
    y = (y - c.y) * scale + center[1]
    return Polygon(np.column_stack([x, y]))


def polsby_popper(poly: Polygon) -> float:
    """Compactness 4πA/P²: 1 for a disc, 0.785 for a square, ~0.5 for a 1:4 strip."""
    return 4 * math.pi * poly.area / (poly.length**2)


def long_axis_angle(poly: Polygon) -> float:
    """Direction (radians) of the long side of the minimum rotated rectangle."""
    rect = np.asarray(shapely.minimum_rotated_rectangle(poly).exterior.coords)
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    e = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    return math.atan2(e[1], e[0])


def partition(poly: Polygon, lines: list[shapely.LineString]) -> list[Polygon]:
    """Faces of ``poly`` cut by ``lines`` (which should run past its outline).

    The outline and the cuts are noded once, together, so neighbouring faces share
    their new vertices exactly; the outline's own vertices are kept as they were.
    """
    noded = shapely.union_all([poly.exterior, *lines])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    inside = shapely.contains(poly, shapely.point_on_surface(faces))
    return list(faces[inside])


@dataclass(frozen=True)
class CutStyle:
    """How cut lines look: city roads (straight, on a street grid) or field roads."""

    bend: float = 0.0  # amplitude of the bend, as a share of the piece's width
    knots: int = 2  # vertices along the cut (2 = straight)
    grid_angle: float | None = None  # snap cuts to this orientation (or +90°)
    angle_jitter: float = math.radians(2.0)
    min_compactness: float = 0.3


def _half_planes(
    u: np.ndarray, g: np.ndarray, offsets: np.ndarray, floor: float, cos_t: float, sin_t: float
) -> np.ndarray:
    """Regions below the polylines v = offset + g(u), one per offset (rotated frame)."""
    uu = np.concatenate([u, [u[-1], u[0]]])
    vv = np.concatenate([np.add.outer(offsets, g), np.full((offsets.size, 2), floor)], axis=1)
    uu = np.broadcast_to(uu, vv.shape)
    coords = np.stack([uu * cos_t - vv * sin_t, uu * sin_t + vv * cos_t], axis=-1)
    return shapely.polygons(coords)


def split_once(
    poly: Polygon,
    fraction: float,
    angle: float,
    style: CutStyle,
    rng: np.random.Generator,
) -> tuple[Polygon, Polygon] | None:
    """Cut ``poly`` along direction ``angle`` so the first piece has ``fraction`` of it.

    Returns None when the cut would leave more than two pieces (a bent line or a
    concave outline can do that) or when the pieces do not add up.
    """
    cos_t, sin_t = math.cos(angle), math.sin(angle)
    xy = np.asarray(poly.exterior.coords)
    u_all = xy[:, 0] * cos_t + xy[:, 1] * sin_t
    v_all = -xy[:, 0] * sin_t + xy[:, 1] * cos_t
    width = v_all.max() - v_all.min()
    margin = 0.1 * (u_all.max() - u_all.min()) + 10.0
    u = np.linspace(u_all.min() - margin, u_all.max() + margin, style.knots)
    g = np.zeros(style.knots)
    if style.knots > 2 and style.bend > 0:
        walk = np.cumsum(rng.normal(size=style.knots))
        walk -= np.linspace(walk[0], walk[-1], style.knots)  # keep the ends on the axis
        g = walk / (np.abs(walk).max() + 1e-9) * style.bend * width
    floor = v_all.min() - width - abs(g).max() - 100.0
    lo, hi = v_all.min() - g.max() - 1.0, v_all.max() - g.min() + 1.0
    target = fraction * poly.area
    # Area below the line grows monotonically with the offset: three rounds of a
    # vectorised 17-point grid search, then linear interpolation inside the bracket.
    for _ in range(3):
        offsets = np.linspace(lo, hi, 17)
        halves = _half_planes(u, g, offsets, floor, cos_t, sin_t)
        areas = shapely.area(shapely.intersection(poly, halves))
        i = int(np.searchsorted(areas, target))
        i = min(max(i, 1), len(offsets) - 1)
        lo, hi = offsets[i - 1], offsets[i]
        a_lo, a_hi = areas[i - 1], areas[i]
    offset = lo + (target - a_lo) / max(a_hi - a_lo, 1e-9) * (hi - lo)
    v = offset + g
    cut = shapely.LineString(np.column_stack([u * cos_t - v * sin_t, u * sin_t + v * cos_t]))
    faces = partition(poly, [cut])
    if len(faces) != 2:
        return None
    if abs(faces[0].area + faces[1].area - poly.area) > 1e-9 * poly.area:
        return None
    below = _half_planes(u, g, np.array([offset]), floor, cos_t, sin_t)[0]
    first_below = below.contains(faces[0].point_on_surface())
    return (faces[0], faces[1]) if first_below else (faces[1], faces[0])


def _cut_angle(poly: Polygon, style: CutStyle, rng: np.random.Generator, attempt: int) -> float:
    """Cut across the long axis, snapped to the street grid when there is one."""
    across = long_axis_angle(poly) + math.pi / 2
    if style.grid_angle is not None:
        # Of the two street-grid directions take the one closest to "across".
        options = [style.grid_angle, style.grid_angle + math.pi / 2]
        diffs = [abs(math.remainder(across - a, math.pi)) for a in options]
        across = options[int(np.argmin(diffs))]
    jitter = style.angle_jitter * (1 + attempt)
    if attempt >= 6:  # a stubborn piece: try the other direction too
        across += math.pi / 2
    return across + rng.normal(0, jitter)


def split_into(
    poly: Polygon,
    weights: list[float],
    style: CutStyle,
    rng: np.random.Generator,
    attempts: int = 12,
) -> list[Polygon]:
    """Recursively cut ``poly`` into ``len(weights)`` pieces with area ∝ ``weights``.

    Each step halves the list of weights and cuts across the piece's long axis, which
    keeps pieces compact (block-like with straight cuts). A cut whose pieces come out
    less compact than ``style.min_compactness`` is retried at other angles; the best
    attempt is kept if none qualifies.
    """
    if len(weights) == 1:
        return [poly]
    k1 = len(weights) // 2
    w1, w2 = weights[:k1], weights[k1:]
    fraction = sum(w1) / (sum(w1) + sum(w2))
    best: tuple[float, tuple[Polygon, Polygon]] | None = None
    for attempt in range(attempts):
        angle = _cut_angle(poly, style, rng, attempt)
        pieces = split_once(poly, fraction, angle, style, rng)
        if pieces is None:
            continue
        score = min(polsby_popper(p) for p in pieces)
        if best is None or score > best[0]:
            best = (score, pieces)
        if score >= style.min_compactness:
            break
    if best is None:
        # Fall back to straight cuts: on a concave piece a bent cut can keep
        # crossing the outline, a straight one far less often.
        straight = CutStyle(grid_angle=style.grid_angle)
        for attempt in range(attempts):
            pieces = split_once(
                poly, fraction, _cut_angle(poly, straight, rng, attempt), straight, rng
            )
            if pieces is not None:
                best = (0.0, pieces)
                break
    if best is None:
        raise RuntimeError("could not split polygon into two pieces")
    a, b = best[1]
    return split_into(a, w1, style, rng, attempts) + split_into(b, w2, style, rng, attempts)


def fix_t_junctions(polys: list[Polygon], tol: float = 1e-6) -> list[Polygon]:
    """Insert every vertex lying on another polygon's edge into that edge.

    ``polys`` have no holes (nothing in this module makes any); vertices within
    ``tol`` metres of an edge count as lying on it.

    After this, two polygons that share a border carry the same vertices along it,
    so they tile exactly in any CRS reached by converting vertices one by one.
    """
    rings = [np.asarray(p.exterior.coords) for p in polys]
    starts = np.cumsum([0] + [len(r) - 1 for r in rings])
    a = np.concatenate([r[:-1] for r in rings])
    b = np.concatenate([r[1:] for r in rings])
    verts = np.unique(a, axis=0)
    tree = shapely.STRtree(shapely.points(verts))
    segments = shapely.linestrings(np.stack([a, b], axis=1))
    edge_idx, vert_idx = tree.query(segments, predicate="dwithin", distance=tol)
    p = verts[vert_idx]
    ea, eb = a[edge_idx], b[edge_idx]
    # Endpoints (or points within tol of them) are already there.
    keep = (np.hypot(*(p - ea).T) > tol) & (np.hypot(*(p - eb).T) > tol)
    edge_idx, p, ea, eb = edge_idx[keep], p[keep], ea[keep], eb[keep]
    d = eb - ea
    t = np.einsum("ij,ij->i", p - ea, d) / np.einsum("ij,ij->i", d, d)
    inserts: dict[int, list[tuple[float, np.ndarray]]] = {}
    for e, ti, pi in zip(edge_idx.tolist(), t.tolist(), p, strict=True):
        inserts.setdefault(e, []).append((ti, pi))
    out = []
    for k, ring in enumerate(rings):
        pts: list[np.ndarray] = []
        for j in range(len(ring) - 1):
            pts.append(ring[j])
            extra = inserts.get(int(starts[k]) + j)
            if extra:
                pts.extend(pi for _, pi in sorted(extra, key=lambda item: item[0]))
        pts.append(ring[-1])
        out.append(Polygon(np.asarray(pts)))
    return out


def random_points_in(
    poly: Polygon, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random points inside ``poly`` (rejection sampling on its bbox)."""
    shapely.prepare(poly)
    xmin, ymin, xmax, ymax = poly.bounds
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    got = 0
    while got < n:
        batch = max(16, int(2.5 * (n - got)))
        x = rng.uniform(xmin, xmax, batch)
        y = rng.uniform(ymin, ymax, batch)
        ok = shapely.contains_xy(poly, x, y)
        xs.append(x[ok])
        ys.append(y[ok])
        got += int(ok.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def rotated_rect(cx, cy, width, length, angle):
    """``length`` × ``width`` rectangles centred on (cx, cy), long side along ``angle``.

    Scalars give one Polygon; arrays (broadcast together) give an array of them.
    """
    cx, cy, width, length, angle = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (cx, cy, width, length, angle))
    )
    u = np.array([-1, 1, 1, -1]) * length[..., None] / 2
    v = np.array([-1, -1, 1, 1]) * width[..., None] / 2
    c, s = np.cos(angle)[..., None], np.sin(angle)[..., None]
    x = cx[..., None] + u * c - v * s
    y = cy[..., None] + u * s + v * c
    return shapely.polygons(np.stack([x, y], axis=-1))  # a Polygon for scalar input
