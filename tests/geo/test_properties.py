"""Hypothesis properties of the spatial core: CRS round trips, the locator against
shapely ``covers``, and H3 path filling. No database."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.crs import from_wgs84, to_wgs84
from geo.lookup.locator import GridLocator
from geo.patrol import path_cells

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Well inside the box where GCJ-02 shifts (geo.crs.out_of_china), i.e. mainland China.
china_lon = st.floats(min_value=74.0, max_value=134.0, allow_nan=False)
china_lat = st.floats(min_value=19.0, max_value=53.0, allow_nan=False)


def _metres(lon1, lat1, lon2, lat2) -> float:
    # Equirectangular distance: exact enough at the millimetre scale asked here.
    k = 6_371_008.8 * math.pi / 180
    return math.hypot((lon2 - lon1) * k * math.cos(math.radians(lat1)), (lat2 - lat1) * k)


@PROPS
@given(lon=china_lon, lat=china_lat, crs=st.sampled_from(["gcj02", "bd09"]))
def test_wgs84_forward_then_inverse_returns_within_a_millimetre(lon, lat, crs):
    x, y = (float(v) for v in from_wgs84(lon, lat, crs))
    assert _metres(lon, lat, x, y) > 1.0  # the shift really happened (hundreds of metres)
    back_lon, back_lat = (float(v) for v in to_wgs84(x, y, crs))
    assert _metres(lon, lat, back_lon, back_lat) < 0.001


@PROPS
@given(lon=china_lon, lat=china_lat, crs=st.sampled_from(["gcj02", "bd09"]))
def test_phone_coordinates_inverse_then_forward_return_within_a_millimetre(lon, lat, crs):
    wlon, wlat = (float(v) for v in to_wgs84(lon, lat, crs))
    x, y = (float(v) for v in from_wgs84(wlon, wlat, crs))
    assert _metres(lon, lat, x, y) < 0.001


# --- the locator --------------------------------------------------------------------


@pytest.fixture(scope="module")
def district(sample):
    frames = pd.concat(
        [sample.district, sample.streets, sample.communities, sample.grids], ignore_index=True
    )
    ids = {code: i + 1 for i, code in enumerate(frames["code"])}
    units = gpd.GeoDataFrame(
        {
            "unit_id": [ids[c] for c in frames["code"]],
            "level": frames["level"],
            "code": frames["code"],
            "name": frames["name"],
            "parent_unit_id": [ids.get(p) for p in frames["parent_code"]],
        },
        geometry=frames.geometry.values,
        crs=4326,
    )
    grids = sample.grids.reset_index(drop=True)
    return GridLocator(units), grids, sample.district.total_bounds


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(fx=st.floats(-0.05, 1.05), fy=st.floats(-0.05, 1.05), snap=st.booleans())
def test_locator_equals_shapely_covers(district, fx, fy, snap):
    locator, grids, (x0, y0, x1, y1) = district
    lon, lat = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
    if snap:  # on a grid's boundary: a vertex or an edge point, where ties happen
        ring = grids.geometry.iloc[int(fx * 1000) % len(grids)].geoms[0].exterior
        p = ring.interpolate(fy % 1.0, normalized=True)
        lon, lat = p.x, p.y
    covering = sorted(grids["code"][shapely.covers(grids.geometry.values, shapely.Point(lon, lat))])
    row = locator.locate(lon, lat)
    got = locator.grids.iloc[row]["code"] if row >= 0 else None
    # Covered by several (a shared border): the smallest code, as the API promises.
    assert got == (covering[0] if covering else None)


# --- H3 path filling ----------------------------------------------------------------


@st.composite
def walks(draw):
    """A patrol: a start in the district and 2–30 steps of up to ~400 m each."""
    lon = draw(st.floats(113.85, 113.95))
    lat = draw(st.floats(35.28, 35.38))
    n = draw(st.integers(2, 30))
    steps = draw(
        st.lists(
            st.tuples(st.floats(-0.004, 0.004), st.floats(-0.004, 0.004)), min_size=n, max_size=n
        )
    )
    pts = np.cumsum(np.array([(lon, lat), *steps]), axis=0)
    return pts


@PROPS
@given(pts=walks(), res=st.sampled_from([9, 10, 11]))
def test_path_cells_form_a_connected_path_through_every_fix(pts, res):
    times = pd.date_range("2026-10-01T08:00:00+08:00", periods=len(pts), freq="30s")
    fixes = pd.DataFrame({"time": times, "lon": pts[:, 0], "lat": pts[:, 1]})
    cells = [h3.int_to_str(int(c)) for c in path_cells(fixes, res)["cell"]]
    # Each fix's own cell (computed here with h3 directly) is on the path, in order.
    fix_cells = [h3.latlng_to_cell(lat, lon, res) for lon, lat in pts]
    assert cells[0] == fix_cells[0] and cells[-1] == fix_cells[-1]
    assert set(fix_cells) <= set(cells)
    # Consecutive passes are neighbouring cells: no gap, no repeat without leaving.
    for a, b in itertools.pairwise(cells):
        assert a != b
        assert h3.are_neighbor_cells(a, b), (a, b)
