"""The four-level comprehensive grid of the sample district, built in EPSG:4547 metres.

Layout: an irregular district outline of 140 km²; a cap at one end is the city part
(a quarter of the area) and the rest is rural. The city cap is cut in two parallel to
that border: the outer tip is the *old town* (streets 001 and 002, densest, older
buildings) and the part toward the countryside the *new town* (003, 004). The rural
part is split between two towns (101, 102). Each street is cut into communities and
each community into grids: city cuts are straight and snapped to a street-grid
orientation (one for the old town, one for the new), rural cuts are bent like field
roads. Grid counts per community follow area × a zone density and add up to 611.

The old-town centre other modules cluster around is the centroid of streets 001+002,
so anyone holding the streets layer can recompute it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import Polygon

from boundaries.sample_geometry import (
    CutStyle,
    fix_t_junctions,
    long_axis_angle,
    lonlat_to_metric,
    polsby_popper,
    radial_outline,
    split_into,
    split_once,
)
from boundaries.sample_names import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    STREETS,
    community_names,
    village_names,
)

CENTER_LONLAT = (113.9, 35.3)
DISTRICT_AREA_M2 = 140e6
N_GRIDS = 611
# Communities per street, in the order of STREETS: the city gets 36 of the 55.
COMMUNITIES_PER_STREET = (11, 10, 8, 7, 10, 9)
# Grids per km² by zone: city blocks vs village fields.
GRID_DENSITY = {"old": 1 / 0.055, "new": 1 / 0.10, "rural": 1 / 0.56}
MIN_GRIDS_PER_COMMUNITY = 3

ROAD = CutStyle(min_compactness=0.35)  # straight, street grid angle set per zone
FIELD = CutStyle(bend=0.06, knots=7, angle_jitter=math.radians(10), min_compactness=0.3)
BORDER = CutStyle(bend=0.05, knots=9, angle_jitter=math.radians(6), min_compactness=0.3)


@dataclass(frozen=True)
class Unit:
    """One boundary unit in metres, before conversion to WGS-84."""

    code: str
    name: str
    level: str
    parent_code: str | None
    zone: str  # "old", "new", "rural" (the district itself: "all")
    geometry: Polygon


@dataclass(frozen=True)
class Hierarchy:
    """All four levels, every border shared vertex for vertex between neighbours."""

    district: Unit
    streets: list[Unit]
    communities: list[Unit]
    grids: list[Unit]


def _best_cut(
    poly: Polygon,
    fraction: float,
    angle: float,
    style: CutStyle,
    rng: np.random.Generator,
    tries: int = 16,
) -> tuple[Polygon, Polygon]:
    """The most compact of several cuts near ``angle``; first piece below the line."""
    best: tuple[float, tuple[Polygon, Polygon]] | None = None
    for i in range(tries):
        pieces = split_once(poly, fraction, angle + rng.normal(0, 0.06 * (1 + i / 4)), style, rng)
        if pieces is None:
            continue
        score = min(polsby_popper(p) for p in pieces)
        if best is None or score > best[0]:
            best = (score, pieces)
    if best is None:
        raise RuntimeError("no valid cut found")
    return best[1]


def _street_polygons(rng: np.random.Generator) -> tuple[Polygon, list[Polygon]]:
    center = lonlat_to_metric(*CENTER_LONLAT)
    district = radial_outline(rng, center, DISTRICT_AREA_M2, elongation=1.35)
    across = long_axis_angle(district) + math.pi / 2
    # City cap and the old-town tip: parallel cuts, so "below" is the same side twice
    # and the old town ends up farthest from the countryside.
    urban, rural = _best_cut(district, 0.26, across, BORDER, rng)
    old, new = _best_cut(urban, 0.38, across, BORDER, rng)
    old_a, old_b = _best_cut(old, 11 / 21, long_axis_angle(old) + math.pi / 2, ROAD, rng)
    new_a, new_b = _best_cut(new, 8 / 15, long_axis_angle(new) + math.pi / 2, ROAD, rng)
    town_a, town_b = _best_cut(rural, 10 / 19, long_axis_angle(rural) + math.pi / 2, BORDER, rng)
    return district, [old_a, old_b, new_a, new_b, town_a, town_b]


def _allocate(expected: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integer counts ≥ ``minimum`` summing to ``total``, close to ``expected``."""
    scaled = expected / expected.sum() * total
    counts = np.maximum(np.floor(scaled).astype(int), minimum)
    while counts.sum() < total:
        counts[int(np.argmax(scaled - counts))] += 1
    while counts.sum() > total:
        slack = np.where(counts > minimum, counts - scaled, -np.inf)
        counts[int(np.argmax(slack))] -= 1
    return counts


def _reading_order(polys: list[Polygon], band: float) -> list[int]:
    """North-to-south rows of height ``band``, west to east inside a row."""
    c = shapely.centroid(np.array(polys, dtype=object))
    x, y = shapely.get_x(c), shapely.get_y(c)
    return list(np.lexsort((x, -np.floor(y / band))))


def _weights(rng: np.random.Generator, n: int, spread: float) -> list[float]:
    return list(rng.uniform(1 - spread, 1 + spread, n))


def build_hierarchy(rng: np.random.Generator) -> Hierarchy:
    """District, 6 streets, 55 communities and 611 grids that tile exactly."""
    district_poly, street_polys = _street_polygons(rng)
    zone_angle = {"old": rng.uniform(0, math.pi / 2), "new": rng.uniform(0, math.pi / 2)}
    district = Unit(DISTRICT_CODE, DISTRICT_NAME, "district", None, "all", district_poly)

    streets: list[Unit] = []
    comm_polys: list[tuple[Polygon, Unit]] = []
    for (suffix, name, zone), poly, n_comm in zip(
        STREETS, street_polys, COMMUNITIES_PER_STREET, strict=True
    ):
        street = Unit(DISTRICT_CODE + suffix, name, "street", DISTRICT_CODE, zone, poly)
        streets.append(street)
        style = (
            FIELD
            if zone == "rural"
            else CutStyle(grid_angle=zone_angle[zone], min_compactness=ROAD.min_compactness)
        )
        pieces = split_into(poly, _weights(rng, n_comm, 0.2), style, rng)
        comm_polys.extend((p, street) for p in pieces)

    urban_names = iter(community_names(rng, sum(COMMUNITIES_PER_STREET[:4])))
    rural_names = iter(village_names(rng, sum(COMMUNITIES_PER_STREET[4:])))
    communities: list[Unit] = []
    for street in streets:
        polys = [p for p, s in comm_polys if s is street]
        rural = street.zone == "rural"
        for k, i in enumerate(_reading_order(polys, 1500.0 if rural else 800.0)):
            code = street.code + f"{(201 if rural else 1) + k:03d}"
            name = next(rural_names if rural else urban_names)
            communities.append(Unit(code, name, "community", street.code, street.zone, polys[i]))

    expected = np.array([c.geometry.area / 1e6 * GRID_DENSITY[c.zone] for c in communities])
    counts = _allocate(expected, N_GRIDS, MIN_GRIDS_PER_COMMUNITY)
    grids: list[Unit] = []
    for community, n in zip(communities, counts, strict=True):
        if community.zone == "rural":
            style, band = FIELD, 700.0
        else:
            style = CutStyle(grid_angle=zone_angle[community.zone], angle_jitter=math.radians(2.5))
            band = 250.0
        pieces = split_into(community.geometry, _weights(rng, int(n), 0.25), style, rng)
        for k, i in enumerate(_reading_order(pieces, band)):
            grids.append(
                Unit(
                    f"{community.code}{k + 1:03d}",
                    f"{community.name}第{k + 1}网格",
                    "grid",
                    community.code,
                    community.zone,
                    pieces[i],
                )
            )

    units = [district, *streets, *communities, *grids]
    fixed = fix_t_junctions([u.geometry for u in units])
    rebuilt = [
        Unit(u.code, u.name, u.level, u.parent_code, u.zone, g)
        for u, g in zip(units, fixed, strict=True)
    ]
    n_s, n_c = len(streets), len(communities)
    return Hierarchy(
        district=rebuilt[0],
        streets=rebuilt[1 : 1 + n_s],
        communities=rebuilt[1 + n_s : 1 + n_s + n_c],
        grids=rebuilt[1 + n_s + n_c :],
    )


def old_town_center(streets: list[Unit]) -> tuple[float, float]:
    """Centroid (metres) of the old-town streets 001 and 002."""
    old = [s.geometry for s in streets if s.zone == "old"]
    c = shapely.union_all(old).centroid
    return c.x, c.y
