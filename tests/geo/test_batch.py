"""``geo.lookup.batch.reverse_frame`` against an independent answer: shapely ``covers`` over
the generator's own polygons with the smallest-code rule, and the names/codes of each
grid's ancestors taken from the generator's parent codes. No database."""

import numpy as np
import pandas as pd
import pytest
import shapely

from geo import crs, hexgrid
from geo.lookup.batch import RESULT_COLUMNS, reverse_frame
from geo.lookup.locator import GridLocator


def units_frame(sample):
    import geopandas as gpd

    frames = [sample.district, sample.streets, sample.communities, sample.grids]
    units = pd.concat(frames, ignore_index=True)
    units["unit_id"] = np.arange(1, len(units) + 1)
    ids = dict(zip(units["code"], units["unit_id"], strict=True))
    units["parent_unit_id"] = units["parent_code"].map(ids)
    return gpd.GeoDataFrame(units, geometry="geometry", crs=4326)


def expected_frame(sample, lon, lat) -> pd.DataFrame:
    """Smallest covering grid code per point (shapely), its chain from parent codes."""
    grids = sample.grids
    tree = shapely.STRtree(grids.geometry.values)
    pi, gi = tree.query(shapely.points(lon, lat), predicate="covered_by")
    codes = grids["code"].to_numpy()
    best: dict[int, str] = {}
    for p, g in zip(pi.tolist(), gi.tolist(), strict=True):
        if p not in best or codes[g] < best[p]:
            best[p] = codes[g]
    every = pd.concat([sample.district, sample.streets, sample.communities, grids])
    by_code = every.set_index("code")
    rows = []
    for i in range(len(lon)):
        row = dict.fromkeys(RESULT_COLUMNS)
        code = best.get(i)
        for lvl in ("grid", "community", "street", "district"):
            if code is None:
                break
            row[f"{lvl}_code"], row[f"{lvl}_name"] = code, by_code.at[code, "name"]
            parent = by_code.at[code, "parent_code"]
            code = parent if isinstance(parent, str) and parent else None
        rows.append(row)
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS), dtype=object)


def make_points(sample, n=5_000, seed=7):
    """Random points in and around the district plus shared vertices and edge midpoints."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = sample.district.total_bounds
    lon = rng.uniform(minx - 0.01, maxx + 0.01, n)
    lat = rng.uniform(miny - 0.01, maxy + 0.01, n)
    edge = []
    for geom in sample.grids.geometry.values[::25]:
        ring = np.asarray(geom.geoms[0].exterior.coords)
        edge += [ring[:-1], (ring[:-1] + ring[1:]) / 2]
    edge = np.vstack(edge)
    return np.concatenate([lon, edge[:, 0]]), np.concatenate([lat, edge[:, 1]])


@pytest.fixture(scope="module")
def locator(sample):
    return GridLocator(units_frame(sample), "sample")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Result columns as plain objects, None where no unit."""
    return pd.DataFrame(
        {c: [None if pd.isna(v) else v for v in frame[c]] for c in RESULT_COLUMNS},
        dtype=object,
    )


def test_reverse_frame_equals_shapely(locator, sample):
    lon, lat = make_points(sample)
    got = reverse_frame(locator, lon, lat, "wgs84")
    want = expected_frame(sample, lon, lat)
    assert got["grid_code"].isna().sum() > 50  # outside points are exercised
    assert len(lon) - 5_000 > 400  # so are vertices and edge midpoints
    pd.testing.assert_frame_equal(_plain(got), want, check_dtype=False)
    np.testing.assert_array_equal(got["lon_wgs84"], lon)


def test_gcj02_and_bd09_give_the_wgs84_answers(locator, sample):
    lon, lat = make_points(sample, n=2_000, seed=8)
    lon, lat = lon[:2_000], lat[:2_000]  # off the borders: a µm shift must not matter
    want = _plain(reverse_frame(locator, lon, lat, "wgs84"))
    glon, glat = crs.from_wgs84(lon, lat, "gcj02")
    got = reverse_frame(locator, glon, glat, "gcj02")
    pd.testing.assert_frame_equal(_plain(got), want)
    np.testing.assert_allclose(got["lon_wgs84"], lon, atol=1e-8)
    blon, blat = crs.from_wgs84(lon, lat, "bd09")
    pd.testing.assert_frame_equal(_plain(reverse_frame(locator, blon, blat, "bd09")), want)


def test_h3_cells_match_the_single_point_door(locator, sample):
    lon, lat = make_points(sample, n=50)
    got = reverse_frame(locator, lon[:50], lat[:50], "wgs84", h3_res=(9, 12))
    assert set(got["h3_12"]) == {
        hexgrid.cell_of(x, y, 12) for x, y in zip(lon[:50], lat[:50], strict=True)
    }
    assert got["h3_9"].dtype == np.int64


def test_empty_input(locator):
    got = reverse_frame(locator, np.empty(0), np.empty(0), "wgs84")
    assert len(got) == 0
    assert list(got.columns[:8]) == list(RESULT_COLUMNS)
