"""Fixes the planner may apply to topology findings: pure functions, never applied silently.

All take and return EPSG:4326 geometries, like the store, and work in the
Gauss-Krüger zone of their input, where the validator measures: a border that is
straight in metres bows by centimetres in degrees, so snapping in degrees would
itself open hairline gaps. On the way back every vertex that came from an input
keeps its exact input lon/lat (only new vertices, such as the ends of a cut, go
through the inverse projection), so borders shared bit for bit with untouched
neighbours stay shared.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.crs.metric import (
    PIECE_GRID_M,
    clean_pieces,
    metric_epsg_for,
    polygon_pieces,
    shared_border_lengths,
    to_lonlat,
    to_metric,
)
from geo.topology.geometry import repair


def _mm(coords: np.ndarray) -> list[tuple[int, int]]:
    """Metric coordinates as whole millimetres: the key overlay output is matched on."""
    return [tuple(k) for k in np.round(coords / PIECE_GRID_M).astype(np.int64).tolist()]


class MetreFrame:
    """Round trip lon/lat → zone metres → lon/lat that keeps the input's own vertices.

    Results are snapped to the millimetre grid (:func:`tidy_metric`), so a vertex that came
    from an input is recognised by its millimetre cell and given back its exact
    input lon/lat; only new vertices go through the inverse projection.
    """

    def __init__(self, *geoms: BaseGeometry):
        self.epsg = metric_epsg_for(np.array(geoms, dtype=object))
        ll = shapely.get_coordinates(np.array(geoms, dtype=object))
        m = shapely.get_coordinates(to_metric(shapely.points(ll), self.epsg))
        self._back = dict(zip(_mm(m), map(tuple, ll), strict=True))

    def there(self, geom: BaseGeometry) -> BaseGeometry:
        return to_metric(geom, self.epsg)

    def back(self, geom: BaseGeometry) -> MultiPolygon:
        ll = to_lonlat(geom, self.epsg)
        coords = shapely.get_coordinates(ll)
        for k, key in enumerate(_mm(shapely.get_coordinates(geom))):
            known = self._back.get(key)
            if known is not None:
                coords[k] = known
        return _multi(repair(shapely.set_coordinates(ll, coords)))


def _multi(geom: BaseGeometry) -> MultiPolygon:
    pieces = polygon_pieces(geom)
    return MultiPolygon(list(pieces)) if len(pieces) else MultiPolygon()


def tidy_metric(geom_m: BaseGeometry, min_area_m2: float = 1e-3) -> MultiPolygon:
    """A valid metric MultiPolygon without hairline spikes or crumbs left by overlay."""
    pieces = clean_pieces(shapely.make_valid(geom_m, method="structure"))
    return _multi(shapely.union_all(pieces[shapely.area(pieces) > min_area_m2]))


def fix_make_valid(geom: BaseGeometry | None) -> MultiPolygon:
    """A valid MultiPolygon enclosing what ``geom`` encloses, without repeated vertices.

    Self-intersections are resolved by GEOS ``make_valid`` (structure method: a
    bow-tie becomes its two triangles, a zero-width spike is dropped); lines and
    points left over are dropped. Empty in, empty out. No vertex moves.
    """
    fixed = repair(geom)
    if fixed.is_empty:
        return fixed
    return _multi(repair(shapely.remove_repeated_points(fixed)))


def fix_snap_to_parent(
    child: BaseGeometry, parent: BaseGeometry, tolerance_m: float = 1.0
) -> MultiPolygon:
    """``child`` with its border snapped onto ``parent``'s within ``tolerance_m``.

    Vertices of the child within the tolerance of the parent's vertices move onto
    them, then what still lies outside the parent is cut off if it is no wider than
    twice the tolerance (a digitising sliver), and hairline gaps along the parent's
    border (narrower than twice the tolerance, touching the child) are filled. Larger
    parts outside the parent are kept: they are decisions for the planner, and
    :func:`geo.topology.validate_units` keeps reporting them.

    Parameters
    ----------
    child, parent
        Polygons in EPSG:4326.
    tolerance_m
        How far (metres) the border may move.

    Returns
    -------
    MultiPolygon
        The new child geometry in EPSG:4326; valid.
    """
    child, parent = fix_make_valid(child), fix_make_valid(parent)
    if child.is_empty or parent.is_empty:
        return child
    frame = MetreFrame(child, parent)
    c, p = frame.there(child), frame.there(parent)
    snapped = tidy_metric(shapely.snap(c, p, tolerance_m))
    result = shapely.intersection(snapped, p)
    outside = polygon_pieces(shapely.difference(snapped, p))
    # A piece narrower than 2 × tolerance vanishes when shrunk by the tolerance.
    keep = [g for g in outside if not shapely.buffer(g, -tolerance_m).is_empty]
    # Slits between the child and the parent's border: parent area next to the
    # child that is thin enough to vanish when shrunk, and that the child touches.
    slits = [
        g
        for g in polygon_pieces(shapely.difference(p, snapped))
        if shapely.buffer(g, -tolerance_m).is_empty
        and shapely.intersects(g, shapely.buffer(snapped, tolerance_m))
        and shapely.length(shapely.intersection(g.boundary, p.boundary)) > 0
    ]
    return frame.back(tidy_metric(shapely.union_all([result, *keep, *slits])))


def fix_assign_gap(gap: BaseGeometry, neighbours: dict[str, BaseGeometry]) -> str | None:
    """The neighbour a gap should go to: the one sharing the longest border with it.

    Border lengths are measured in metres (lon/lat degrees are not square), with
    borders within 1 cm counted as shared and lengths compared to the centimetre.
    Ties go to the smallest code so the answer does not depend on dict order.

    Returns
    -------
    str or None
        A key of ``neighbours``; None if no neighbour touches the gap.
    """
    if gap is None or gap.is_empty or not neighbours:
        return None
    codes = sorted(neighbours)
    geoms = np.array([neighbours[c] for c in codes], dtype=object)
    epsg = metric_epsg_for(np.array([gap], dtype=object))
    lengths = shared_border_lengths(to_metric(gap, epsg), to_metric(geoms, epsg))
    lengths = np.round(lengths, 2)  # cm: reprojection noise must not break a tie
    if not np.any(lengths > 0):
        return None
    return codes[int(np.argmax(lengths))]  # argmax takes the first (smallest code) on ties


def _nearer_to_a(overlap: BaseGeometry, a_only: BaseGeometry, b_only: BaseGeometry):
    """The part of ``overlap`` nearer to ``a_only`` than to ``b_only`` (metric).

    Voronoi cells of points densely placed along both exclusive parts' borders near
    the overlap, merged by owner, approximate the medial cut between the two.
    """
    minx, miny, maxx, maxy = overlap.bounds
    step = max(maxx - minx, maxy - miny) / 200.0
    reach = overlap.buffer(step * 4)
    points, owner = [], []
    for k, part in enumerate((a_only, b_only)):
        line = shapely.intersection(shapely.segmentize(part.boundary, step), reach)
        coords = shapely.get_coordinates(line)
        points.append(coords)
        owner.append(np.full(len(coords), k))
    pts, who = np.vstack(points), np.concatenate(owner)
    pts, first = np.unique(pts, axis=0, return_index=True)
    who = who[first]
    if len(set(who.tolist())) < 2:  # only one owner borders the overlap
        return overlap if len(who) and who[0] == 0 else MultiPolygon()
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=reach, ordered=True)
    )
    return shapely.intersection(overlap, shapely.union_all(cells[who == 0]))


def fix_split_overlap(a: BaseGeometry, b: BaseGeometry) -> tuple[MultiPolygon, MultiPolygon]:
    """Split the overlap of ``a`` and ``b`` between them along its middle.

    Each point of the overlap goes to the owner whose exclusive area is nearer (a
    medial cut, approximated with Voronoi cells). If one owner has no area outside
    the overlap (it lies inside the other), it keeps the whole overlap, otherwise it
    would vanish.

    Returns
    -------
    (MultiPolygon, MultiPolygon)
        New ``a`` and ``b`` in EPSG:4326: they do not overlap and together cover
        ``a ∪ b`` (up to the 1 mm the cut's new vertices are snapped to).
    """
    a, b = fix_make_valid(a), fix_make_valid(b)
    frame = MetreFrame(a, b)
    am, bm = frame.there(a), frame.there(b)
    overlap = tidy_metric(shapely.intersection(am, bm))
    if overlap.is_empty:
        return a, b
    a_only, b_only = (
        tidy_metric(shapely.difference(am, bm)),
        tidy_metric(shapely.difference(bm, am)),
    )
    if a_only.is_empty:
        a_half = overlap
    elif b_only.is_empty:
        a_half = MultiPolygon()
    else:
        a_half = tidy_metric(_nearer_to_a(overlap, a_only, b_only))
    # b's half is the rest of the overlap, so the halves cannot overlap or leave a hole.
    b_half = shapely.difference(overlap, a_half)
    a2 = tidy_metric(shapely.union_all([a_only, a_half]))
    b2 = tidy_metric(shapely.union_all([b_only, b_half]))
    # Snapping both to 1 mm may leave them touching by a hair; the rest goes to b.
    b2 = tidy_metric(shapely.difference(b2, a2))
    return frame.back(a2), frame.back(b2)


def make_valid_all(frame: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[int]]:
    """Every geometry through :func:`fix_make_valid`; also the positions it changed.

    A geometry counts as repaired when the fix changed more than its type (a valid
    Polygon that only becomes a MultiPolygon is not repaired). Works in the frame's
    own CRS (the fix moves no vertex).
    """
    geoms = list(frame.geometry.values)
    repaired = []
    for i, g in enumerate(geoms):
        if g is None:
            continue
        fixed = fix_make_valid(g)
        before = MultiPolygon([g]) if isinstance(g, Polygon) else g
        if not shapely.equals_exact(shapely.normalize(before), shapely.normalize(fixed), 0.0):
            geoms[i] = fixed
            repaired.append(i)
    return frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)), repaired
