"""The in-memory locator: hand-made cases, and 100,000 points of the sample district
(every vertex and edge midpoint of 50 grids, random points in and out) against a
brute-force shapely ``covers`` over every grid. No database."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import MultiPolygon, box

from geo.lookup.locator import GridLocator

N_POINTS = 100_000
WGS84 = Geod(ellps="WGS84")


def _units():
    # District 0..2 x 0..1; one street, one community, two grids split at x = 1.
    rows = [
        (1, "district", "410799", "样例区", None, box(0, 0, 2, 1)),
        (2, "street", "410799001", "街道", 1, box(0, 0, 2, 1)),
        (3, "community", "410799001001", "社区", 2, box(0, 0, 2, 1)),
        (5, "grid", "410799001001002", "第二网格", 3, box(1, 0, 2, 1)),
        (4, "grid", "410799001001001", "第一网格", 3, box(0, 0, 1, 1)),
    ]
    return gpd.GeoDataFrame(
        [
            {"unit_id": u, "level": lv, "code": c, "name": n, "parent_unit_id": p}
            for u, lv, c, n, p, _ in rows
        ],
        geometry=[MultiPolygon([g]) for *_, g in rows],
        crs=4326,
    )


def test_points_inside_outside_and_on_the_shared_border():
    loc = GridLocator(_units())
    rows = loc.locate_many(np.array([0.5, 1.5, 1.0, 1.0, 3.0]), np.array([0.5, 0.5, 0.5, 1.0, 0.5]))
    codes = [loc.grids.iloc[r]["code"] if r >= 0 else None for r in rows]
    assert codes[0].endswith("001") and codes[1].endswith("002")
    # On the shared border and on a shared vertex: the smallest code, always.
    assert codes[2] == codes[3] == "410799001001001"
    assert codes[4] is None


def test_chain_reaches_the_district():
    loc = GridLocator(_units())
    chain = loc.chain(loc.locate(1.5, 0.5))
    assert [chain[lv].code for lv in ("grid", "community", "street", "district")] == [
        "410799001001002",
        "410799001001",
        "410799001",
        "410799",
    ]
    ids = loc.chain_ids(np.array([loc.locate(0.2, 0.2), -1]))
    assert ids[0].tolist() == [4, 3, 2, 1]
    assert ids[1].tolist() == [-1, -1, -1, -1]


def test_empty_locator_finds_nothing():
    loc = GridLocator(_units().iloc[:0])
    assert len(loc) == 0
    assert loc.locate(0.5, 0.5) == -1
    assert loc.locate_many(np.array([0.5]), np.array([0.5])).tolist() == [-1]


def test_nan_infinite_and_far_points_find_nothing():
    loc = GridLocator(_units())
    lon = np.array([np.nan, np.inf, -np.inf, 0.5, 1e300, -1e300, 0.5])
    lat = np.array([0.5, 0.5, 0.5, np.nan, 0.5, 0.5, 0.5])
    assert loc.locate_many(lon, lat).tolist() == [-1] * 6 + [loc.locate(0.5, 0.5)]
    assert loc.locate(float("nan"), 0.5) == -1
    with pytest.raises(ValueError):
        loc.locate_many(np.zeros(2), np.zeros(3))


def _with_grid(code: str, shape) -> gpd.GeoDataFrame:
    extra = gpd.GeoDataFrame(
        [{"unit_id": 6, "level": "grid", "code": code, "name": "内", "parent_unit_id": 3}],
        geometry=[MultiPolygon([shape])],
        crs=4326,
    )
    return pd.concat([_units(), extra], ignore_index=True)


def test_overlapping_and_nested_grids_take_the_smallest_code():
    # A small grid with the smallest code inside a big one. With 5 km cells the
    # lattice cells along the small one's edges are also partly in the big one, whose
    # own border is far away: it must still be a candidate there.
    loc = GridLocator(_with_grid("410799001001000", box(0.2, 0.2, 0.4, 0.4)), cell_m=5_000)
    codes = loc.grids["code"].to_numpy()
    lon = np.array([0.3, 0.2, 0.2, 0.4, 0.1, 0.401, 0.3, 0.199])
    lat = np.array([0.3, 0.3, 0.2, 0.4, 0.1, 0.3, 0.401, 0.2])
    got = [codes[r] for r in loc.locate_many(lon, lat)]
    assert got == ["410799001001000"] * 4 + ["410799001001001"] * 4
    assert got == [codes[loc.locate(x, y)] for x, y in zip(lon, lat, strict=True)]


def test_a_grid_smaller_than_a_lattice_cell_is_found():
    # 1 m x 1 m, well inside one 10 m cell: no lattice line crosses its border.
    d = 1e-5
    loc = GridLocator(_with_grid("410799001001003", box(0.5, 0.5, 0.5 + d, 0.5 + d)))
    codes = loc.grids["code"].to_numpy()
    lon = np.array([0.5 + d / 2, 0.5, 0.5 + 2 * d, 0.5 - d / 10])
    lat = np.array([0.5 + d / 2, 0.5 + d, 0.5 + d / 2, 0.5])
    got = [codes[r] for r in loc.locate_many(lon, lat)]
    # The tiny grid's code is larger than the first grid's, which covers it too.
    assert got == ["410799001001001"] * 4
    loc = GridLocator(_with_grid("410799001001000", box(0.5, 0.5, 0.5 + d, 0.5 + d)))
    codes = loc.grids["code"].to_numpy()
    got = [codes[r] for r in loc.locate_many(lon, lat)]
    assert got == ["410799001001000"] * 2 + ["410799001001001"] * 2


# -- the sample district -----------------------------------------------------------


def sample_units(sample) -> gpd.GeoDataFrame:
    """The sample's four levels as a units frame (unit ids made up, parents linked)."""
    frames = [sample.district, sample.streets, sample.communities, sample.grids]
    units = pd.concat(frames, ignore_index=True)
    units["unit_id"] = np.arange(1, len(units) + 1)
    ids = dict(zip(units["code"], units["unit_id"], strict=True))
    units["parent_unit_id"] = units["parent_code"].map(ids)
    return gpd.GeoDataFrame(units, geometry="geometry", crs=4326)


def border_and_random_points(grids: gpd.GeoDataFrame, n: int = N_POINTS, seed: int = 20261124):
    """Every vertex and edge midpoint of 50 grids, then random points in and around."""
    geoms = grids.geometry.values[::12][:50]
    rings = shapely.get_rings(shapely.get_parts(geoms))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[:-1] == ring[1:]
    border = np.vstack([xy[:-1][same], (xy[:-1][same] + xy[1:][same]) / 2])
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = grids.total_bounds
    pad = 0.01  # some points fall outside the district on purpose
    n_rand = n - len(border)
    around = np.column_stack(
        [
            rng.uniform(minx - pad, maxx + pad, n_rand // 2),
            rng.uniform(miny - pad, maxy + pad, n_rand // 2),
        ]
    )
    # Denser near borders: uniform in random grids' bounding boxes.
    b = shapely.bounds(grids.geometry.values[rng.integers(0, len(grids), n_rand - n_rand // 2)])
    inside = rng.uniform(b[:, :2], b[:, 2:])
    return np.vstack([border, around, inside]), len(border)


def brute_force_rows(geoms: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """First grid (in code order) whose polygon covers each point, testing every grid."""
    out = np.full(len(xy), -1, dtype=np.int64)
    pts = shapely.points(xy)
    bounds = shapely.bounds(geoms)
    for row, (geom, (x0, y0, x1, y1)) in enumerate(zip(geoms, bounds, strict=True)):
        near = np.flatnonzero(
            (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1) & (out < 0)
        )
        out[near[shapely.covers(geom, pts[near])]] = row
    return out


@pytest.fixture(scope="module")
def sample_locator(sample):
    return GridLocator(sample_units(sample), "sample")


@pytest.fixture(scope="module")
def sample_geoms(sample_locator):
    # Fresh, unprepared copies: the brute force shares nothing with the locator.
    return shapely.from_wkb(shapely.to_wkb(sample_locator.grids.geometry.values))


def test_sample_points_agree_with_brute_force(sample_locator, sample_geoms):
    xy, n_border = border_and_random_points(sample_locator.grids)
    assert len(xy) == N_POINTS
    want = brute_force_rows(sample_geoms, xy)
    got = sample_locator.locate_many(xy[:, 0], xy[:, 1])
    assert np.array_equal(got, want), np.flatnonzero(got != want)[:10]
    # The sample does exercise what matters: shared borders, outside, inside.
    hits, _ = shapely.STRtree(sample_geoms).query(
        shapely.points(xy[:n_border]), predicate="intersects"
    )
    shared = (np.bincount(hits, minlength=n_border) > 1).sum()
    assert shared > n_border // 2, (shared, n_border)
    assert (want == -1).sum() > 1000 and (want >= 0).sum() > 50_000
    # The single-point path answers the same.
    for i in np.r_[0:300, n_border : n_border + 300]:
        assert sample_locator.locate(*xy[i]) == want[i]


def test_sample_builds_fast_with_a_small_index(sample_locator):
    s = sample_locator.stats()
    assert s["grids"] == 611
    assert s["build_s"] < 5
    assert s["index_bytes"] < 64e6
    assert s["border_share"] < 0.1


def _nudge(v: float, steps: int) -> float:
    for _ in range(abs(steps)):
        v = float(np.nextafter(v, np.inf if steps > 0 else -np.inf))
    return v


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seg=st.integers(0, 10**9),
    t=st.sampled_from([0.0, 0.5, 1.0]) | st.floats(0, 1),
    sx=st.integers(-4, 4),
    sy=st.integers(-4, 4),
)
def test_points_a_few_ulps_from_a_border(sample_locator, sample_geoms, seg, t, sx, sy):
    rings = shapely.get_rings(shapely.get_parts(sample_geoms))
    xy = shapely.get_coordinates(rings)
    i = seg % (len(xy) - 1)
    p = xy[i] + t * (xy[i + 1] - xy[i])
    x, y = _nudge(float(p[0]), sx), _nudge(float(p[1]), sy)
    want = brute_force_rows(sample_geoms, np.array([[x, y]]))[0]
    assert sample_locator.locate(x, y) == want
    assert sample_locator.locate_many(np.array([x]), np.array([y]))[0] == want


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(vertex=st.integers(0, 10**9), sx=st.integers(-2, 2), sy=st.integers(-2, 2))
def test_points_on_lattice_lines_near_borders(sample_locator, sample_geoms, vertex, sx, sy):
    # White box: the lattice corner nearest to a vertex, nudged by a few ulps, is
    # where rounding in the cell arithmetic would bite if the margins were wrong.
    idx = sample_locator._index
    xy = shapely.get_coordinates(sample_geoms)
    vx, vy = xy[vertex % len(xy)]
    cx = idx.x0 + round((vx - idx.x0) / idx.dx) * idx.dx
    cy = idx.y0 + round((vy - idx.y0) / idx.dy) * idx.dy
    for x, y in [(cx, cy), (cx, vy), (vx, cy)]:
        x, y = _nudge(x, sx), _nudge(y, sy)
        want = brute_force_rows(sample_geoms, np.array([[x, y]]))[0]
        assert sample_locator.locate(x, y) == want
        assert sample_locator.locate_many(np.array([x]), np.array([y]))[0] == want


# -- border distance ---------------------------------------------------------------


def test_border_info_in_metres_on_the_hand_made_map():
    loc = GridLocator(_units())
    row = loc.locate(0.999, 0.5)
    other = loc.locate(1.5, 0.5)
    want = WGS84.inv(0.999, 0.5, 1.0, 0.5)[2]  # ≈ 111 m, along the parallel
    d, nb = loc.border_info(row, 0.999, 0.5, tolerance_m=200)
    assert d == pytest.approx(want, rel=1e-5) and nb == other
    d, nb = loc.border_info(row, 0.999, 0.5, tolerance_m=50)
    assert d == pytest.approx(want, rel=1e-5) and nb == -1
    # Near the outer edge of the map there is nobody across.
    d, nb = loc.border_info(row, 0.5, 0.0005, tolerance_m=200)
    assert d == pytest.approx(WGS84.inv(0.5, 0.0005, 0.5, 0.0)[2], rel=1e-5) and nb == -1
    with pytest.raises(IndexError):
        loc.border_info(-1, 0.5, 0.5)


def test_border_info_matches_gauss_kruger_on_the_sample(sample_locator):
    grids = sample_locator.grids
    metric = grids.geometry.to_crs(4547)  # CGCS2000 3-degree GK, CM 114°E
    rng = np.random.default_rng(7)
    for row in rng.choice(len(grids), 20, replace=False):
        p = grids.geometry.iloc[row].representative_point()
        pm = gpd.GeoSeries([p], crs=4326).to_crs(4547).iloc[0]
        want = pm.distance(metric.iloc[row].boundary)
        d, _ = sample_locator.border_info(int(row), p.x, p.y, tolerance_m=0)
        assert d == pytest.approx(want, rel=1e-4, abs=1e-3)


def test_border_info_names_the_neighbour_across_a_shared_border(sample_locator):
    grids = sample_locator.grids
    geoms = grids.geometry.values
    ring = np.asarray(geoms[0].geoms[0].exterior.coords)
    mid = (ring[0] + ring[1]) / 2
    across = [r for r in grids.sindex.query(shapely.Point(mid), predicate="intersects") if r != 0]
    assert len(across) == 1  # a plain edge, shared by two grids
    # Step 2 m inside grid 0, perpendicular to that edge.
    metric = gpd.GeoSeries([shapely.Point(mid), shapely.Point(ring[0])], crs=4326).to_crs(4547)
    inner = gpd.GeoSeries([geoms[0]], crs=4326).to_crs(4547).iloc[0]
    a, b = np.array(metric.iloc[0].coords[0]), np.array(metric.iloc[1].coords[0])
    normal = np.array([-(b - a)[1], (b - a)[0]]) / np.linalg.norm(b - a)
    step = a + 2 * normal if inner.contains(shapely.Point(a + 2 * normal)) else a - 2 * normal
    p = gpd.GeoSeries([shapely.Point(step)], crs=4547).to_crs(4326).iloc[0]
    assert sample_locator.locate(p.x, p.y) == 0
    d, nb = sample_locator.border_info(0, p.x, p.y, tolerance_m=5)
    assert d == pytest.approx(2, abs=0.01) and nb == across[0]
    assert sample_locator.border_info(0, p.x, p.y, tolerance_m=1) == (d, -1)
    d0, nb0 = sample_locator.border_info(0, *mid, tolerance_m=5)
    assert d0 < 1e-6 and nb0 == across[0]


# -- the fast border distance ---------------------------------------------------------


def _projected_border_distance(geom, x: float, y: float) -> float:
    """The documented measure, computed from scratch: the whole border cut into pieces
    of at most 1e-4°, projected to a transverse Mercator on the WGS-84 ellipsoid with
    its central meridian at the point's longitude rounded to 0.1°, then the distance."""
    from pyproj import Transformer

    tm = (
        f"+proj=tmerc +lat_0=0 +lon_0={round(x, 1)} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 "
        "+units=m +no_defs"
    )
    tr = Transformer.from_crs("EPSG:4326", tm, always_xy=True)
    border = shapely.segmentize(shapely.boundary(geom), 1e-4)
    border_m = shapely.transform(border, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    return shapely.Point(tr.transform(x, y)).distance(border_m)


def test_fast_border_distance_equals_the_full_projection(sample_locator, sample_geoms):
    from geo.lookup.border import border_distance

    rng = np.random.default_rng(11)
    xy, n_border = border_and_random_points(sample_locator.grids, n=3_000, seed=5)
    # Vertices and edge midpoints exactly, then nudged off the border by 0–3 m.
    nudged = xy[:n_border] + rng.normal(0, 1.5e-5, (n_border, 2))
    pts = np.vstack([xy, nudged])
    rows = sample_locator.locate_many(pts[:, 0], pts[:, 1])
    checked = on_border = 0
    for (x, y), row in zip(pts.tolist(), rows.tolist(), strict=True):
        if row < 0:
            continue
        want = _projected_border_distance(sample_geoms[row], x, y)
        got = border_distance(sample_locator._edges.of(row), x, y)
        assert got is not None
        assert abs(got - want) <= 1e-9, (x, y, row, got, want)
        checked += 1
        on_border += want < 1e-3
    assert checked > 2_500 and on_border > 500


def test_fast_border_distance_on_many_edges_and_far_points():
    from geo.lookup.border import FAST_MAX_M, BorderEdges, border_distance

    # A 400-vertex ring (the vectorised pass) around (114, 35) of radius 0.6° (~55 km),
    # with a hole: far points fall back to the full way, near ones agree with it.
    ring = shapely.Point(114.0, 35.0).buffer(0.6, quad_segs=100)
    hole = shapely.Point(114.4, 35.0).buffer(0.01, quad_segs=3)
    geom = shapely.Polygon(ring.exterior.coords, [hole.exterior.coords])
    edges = BorderEdges(np.array([geom], dtype=object)).of(0)
    assert len(edges) > 400
    for x, y in [(114.59, 35.0), (114.0, 35.595), (114.42, 35.0), (113.4001, 35.0001)]:
        got = border_distance(edges, x, y)
        want = _projected_border_distance(geom, x, y)
        assert got is not None and abs(got - want) <= 1e-9, (x, y, got, want)
    assert _projected_border_distance(geom, 113.9, 35.0) > FAST_MAX_M
    assert border_distance(edges, 113.9, 35.0) is None  # far: the full way answers
    assert border_distance(edges[:0], 114.0, 35.0) is None
    assert border_distance(edges, 114.0, 80.0) is None  # beyond ±75°


def test_border_info_beyond_the_tolerance_uses_the_same_distance(sample_locator, sample_geoms):
    rng = np.random.default_rng(3)
    for row in rng.choice(len(sample_geoms), 40, replace=False).tolist():
        p = sample_geoms[row].representative_point()
        want = _projected_border_distance(sample_geoms[row], p.x, p.y)
        assert sample_locator.border_info(row, p.x, p.y, tolerance_m=0) == pytest.approx(
            (want, -1), abs=1e-9
        )
