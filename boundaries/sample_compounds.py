"""Residential compounds (楼院/小区) of the sample district, unowned ones included.

Compounds are placed in EPSG:4547 metres as rectangles aligned with their grid and kept
8 m inside it, so the WGS-84 centroid still falls in the same grid; about one in twelve
is only a surveyed point. The grid each compound belongs to is then *looked up* from
the WGS-84 grids by centroid, as an importer would do it.

The unowned ones (无主管楼院, former work-unit housing whose unit is gone) are drawn
with a weight exp(-d / 1.2 km) of the distance d from the old-town centre, so they
cluster there, and are older. Their ``governance_status`` is mostly ``none``; some
are already under one of the three modes (``community_managed``, ``professional``,
``self_governed``). For the other compounds it names who manages them:
``professional`` (property company), ``unit_managed`` or ``self_governed``.
"""

from __future__ import annotations

from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import Point

from boundaries.sample_geometry import long_axis_angle, random_points_in, rotated_rect, to_wgs84
from boundaries.sample_hierarchy import Hierarchy, Unit, old_town_center
from boundaries.sample_names import (
    DISTRICT_NAME,
    ESTATE_STEMS,
    ESTATE_SUFFIXES,
    OLD_UNITS,
    ROADS,
    chinese_number,
    short_place,
)

N_COMPOUNDS = 1500
N_UNOWNED = 278
MANAGEMENT_TYPES = ("property_company", "unit", "self_governed", "unowned")
# Management type of owned compounds by zone (property company, unit, self-governed).
_OWNED_MIX = {"old": (0.45, 0.35, 0.2), "new": (0.85, 0.1, 0.05), "rural": (0.35, 0.05, 0.6)}
# Where owned compounds are, per grid: new-town grids hold the big estates.
_OWNED_PER_GRID = {"old": 1.0, "new": 1.6, "rural": 0.6}
_GOVERNANCE = {"property_company": "professional", "unit": "unit_managed"}
_UNOWNED_STATUS = {
    "none": 0.7,
    "community_managed": 0.12,
    "professional": 0.09,
    "self_governed": 0.09,
}
COLUMNS = (
    "name",
    "address",
    "households",
    "buildings",
    "year_built",
    "management_type",
    "governance_status",
)  # fmt: skip; grid_code and geometry follow
_MARGIN = 8.0
_POINT_SHARE = 0.08


def _attributes(rng: np.random.Generator, kind: str, zone: str) -> dict:
    """households, buildings, year_built and governance_status for one compound."""
    if kind == "unowned":
        households = int(np.clip(rng.lognormal(np.log(60), 0.5), 12, 220))
        year = int(np.clip(rng.normal(1989, 6), 1972, 2003))
        status = str(rng.choice(list(_UNOWNED_STATUS), p=list(_UNOWNED_STATUS.values())))
    elif kind == "property_company":
        households = int(np.clip(rng.lognormal(np.log(600), 0.6), 120, 2600))
        lo = {"old": 1995, "new": 2004, "rural": 2008}[zone]
        year = int(rng.integers(lo, 2026))
        status = _GOVERNANCE[kind]
    elif kind == "unit":
        households = int(np.clip(rng.lognormal(np.log(120), 0.5), 30, 420))
        year = int(rng.integers(1980, 2009))
        status = _GOVERNANCE[kind]
    else:
        households = int(np.clip(rng.lognormal(np.log(70), 0.5), 15, 240))
        year = int(rng.integers(1985 if zone != "rural" else 1995, 2021))
        status = "self_governed"
    per_building = 48 if kind == "property_company" else 24
    buildings = max(1, round(households / per_building * rng.uniform(0.7, 1.3)))
    return {
        "households": households,
        "buildings": buildings,
        "year_built": year,
        "governance_status": status,
    }


def _name_and_address(
    rng: np.random.Generator, kind: str, grid: Unit, street: Unit, seen: set[str]
) -> tuple[str, str]:
    """A unique compound name and its address (house number or village group).

    Numbered names (荣校路64号院, 朱集3组楼院) carry the number of their address and
    draw a new one on a clash; other names are numbered (二期, 第二家属院) instead.
    """
    road = ROADS[int(grid.code) % len(ROADS)]  # one road per grid for its addresses
    village = grid.name.split("第")[0]
    while True:
        if grid.zone == "rural":
            number = f"{rng.integers(1, 13)}组"
            address = f"{DISTRICT_NAME}{street.name}{village}{number}"
            numbered = f"{short_place(village)}{number}楼院"
        else:
            number = f"{rng.integers(1, 400)}号"
            address = f"{DISTRICT_NAME}{street.name}{road}{number}"
            numbered = f"{road}{number}院"
        if kind == "property_company":
            base = f"{rng.choice(ESTATE_STEMS)}{rng.choice(ESTATE_SUFFIXES)}"
        elif kind == "unit":
            base = f"{rng.choice(OLD_UNITS)}家属院"
        elif kind == "unowned" and rng.random() < 0.5:
            base = f"原{rng.choice(OLD_UNITS)}家属院"
        else:
            if numbered in seen:
                continue
            seen.add(numbered)
            return numbered, address
        name, n = base, 1
        while name in seen:  # 锦绣花园二期; 纺织厂第二家属院
            n += 1
            if base.endswith("家属院"):
                name = f"{base[:-3]}第{chinese_number(n)}家属院"
            else:
                name = f"{base}{chinese_number(n)}期"
        seen.add(name)
        return name, address


def _place(rng: np.random.Generator, grid: Unit, inner, households: int, placed: list):
    """A rectangle inside ``inner`` (the grid less a margin), clear of ``placed``.

    Tries a batch of candidate spots at a time, shrinking after each failed batch; a
    compound that does not fit (or a random few) is recorded as a point.
    """
    side = float(np.sqrt(max(households, 20) * 45.0))  # ~45 m² of ground per household
    side = min(side, 0.35 * np.sqrt(grid.geometry.area))
    angle = long_axis_angle(grid.geometry)
    if rng.random() >= _POINT_SHARE:
        for scale in (1.0, 0.75, 0.56):
            x, y = random_points_in(inner, 10, rng)
            aspect = rng.uniform(0.6, 1.0, 10)
            spin = angle + rng.normal(0, 0.04, 10)
            rects = rotated_rect(x, y, side * aspect * scale, side / aspect * scale, spin)
            for rect in rects[shapely.contains(inner, rects)]:
                if not shapely.intersects(rect, placed).any():
                    placed.append(rect)
                    return rect
    x, y = random_points_in(inner, 1, rng)
    return Point(x[0], y[0])


def build_compounds(
    h: Hierarchy, grids_wgs: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """1,500 compounds, 278 of them unowned and clustered in the old town."""
    cx, cy = old_town_center(h.streets)
    cent = shapely.centroid(np.array([g.geometry for g in h.grids], dtype=object))
    dist = np.hypot(shapely.get_x(cent) - cx, shapely.get_y(cent) - cy)
    zones = np.array([g.zone for g in h.grids])
    w_unowned = np.where(zones == "rural", 0.0, np.exp(-dist / 1200.0))
    w_owned = np.array([_OWNED_PER_GRID[z] for z in zones])
    picks = np.concatenate([
        rng.choice(len(h.grids), N_UNOWNED, p=w_unowned / w_unowned.sum()),
        rng.choice(len(h.grids), N_COMPOUNDS - N_UNOWNED, p=w_owned / w_owned.sum()),
    ])  # fmt: skip
    kinds = ["unowned"] * N_UNOWNED
    for i in picks[N_UNOWNED:]:
        mix = _OWNED_MIX[zones[i]]
        kinds.append(str(rng.choice(MANAGEMENT_TYPES[:3], p=mix)))
    order = rng.permutation(N_COMPOUNDS)  # interleave kinds so no kind gets the leftovers
    inner = {}
    placed: dict[int, list] = {}
    streets = {s.code: s for s in h.streets}
    parent_street = {c.code: streets[cast(str, c.parent_code)] for c in h.communities}
    seen: set[str] = set()
    rows, geoms = [], []
    for k in order:
        gi, kind = int(picks[k]), kinds[k]
        grid = h.grids[gi]
        if gi not in inner:
            inner[gi] = grid.geometry.buffer(-_MARGIN)
            shapely.prepare(inner[gi])
        attrs = _attributes(rng, kind, grid.zone)
        name, address = _name_and_address(
            rng, kind, grid, parent_street[cast(str, grid.parent_code)], seen
        )
        rows.append({
            "name": name,
            "address": address,
            **attrs,
            "management_type": kind,
        })  # fmt: skip
        geoms.append(_place(rng, grid, inner[gi], attrs["households"], placed.setdefault(gi, [])))
    df = pd.DataFrame(rows)[list(COLUMNS)]
    wgs = shapely.orient_polygons(to_wgs84(np.array(geoms, dtype=object)))
    gdf = gpd.GeoDataFrame(df, geometry=wgs, crs="EPSG:4326")
    # Look the grid up from the published grids, as any consumer of the data would.
    tree = shapely.STRtree(grids_wgs.geometry.values)
    pt_idx, grid_idx = tree.query(shapely.centroid(gdf.geometry.values), predicate="within")
    grid_code = pd.Series(None, index=gdf.index, dtype=object)
    grid_code.iloc[pt_idx] = grids_wgs["code"].to_numpy()[grid_idx]
    gdf.insert(len(df.columns), "grid_code", grid_code)
    return gdf
