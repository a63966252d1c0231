"""Patrol cleaning, path filling and visits, checked against independent computations.

The reference for path filling is built here from shapely and h3 alone: the cells
whose hexagon (h3.cell_to_boundary) meets the track line. Relation asserted, in a
local metric projection with ε = 5 cm:

    {c : hexagon(c).buffer(-ε) ∩ line ≠ ∅}  ⊆  path cells  ⊆  {c : hexagon(c) ∩ line.buffer(ε) ≠ ∅}

i.e. every cell the line crosses by more than ε is found and nothing farther than ε
from the line is; in practice both sides are equal for every sample track.
"""

from __future__ import annotations

import itertools

import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import hexgrid, patrol
from geo.errors import InvalidInput
from geo.hexgrid.lattice import points_to_cells
from geo.patrol import batch as patrol_batch
from geo.patrol import visits as patrol_visits
from geo.patrol.clean import PolygonMask

EPS_M = 0.05


def _walk(n=60, step_s=30, speed=1.3, lon0=113.9, lat0=35.3, heading=0.0):
    t = pd.date_range("2026-10-01 08:00", periods=n, freq=f"{step_s}s", tz="Asia/Shanghai")
    dist = np.arange(n) * speed * step_s
    lon = lon0 + dist * np.cos(heading) / (111_320 * np.cos(np.radians(lat0)))
    lat = lat0 + dist * np.sin(heading) / 110_574
    return pd.DataFrame({"time": t, "lon": lon, "lat": lat, "accuracy": 5.0})


def _metric(lon0: float, lat0: float) -> pyproj.Transformer:
    aeqd = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
    return pyproj.Transformer.from_crs(4326, aeqd, always_xy=True)


def line_cells(coords: np.ndarray, res: int, eps_m: float = EPS_M) -> tuple[set, set]:
    """(inner, outer) reference cell sets of a lon/lat polyline, from shapely + h3 only."""
    coords = np.asarray(coords, dtype=float)
    lon0, lat0 = coords.mean(axis=0)
    tf = _metric(lon0, lat0)
    x, y = tf.transform(coords[:, 0], coords[:, 1])
    line = shapely.LineString(np.c_[x, y]) if len(coords) > 1 else shapely.Point(x[0], y[0])
    near = shapely.LineString(coords) if len(coords) > 1 else shapely.Point(coords[0])
    shape = h3.geo_to_h3shape(near.buffer(max(2 * eps_m, 1.0) / 90_000).__geo_interface__)
    candidates = h3.h3shape_to_cells_experimental(shape, res, contain="overlap")
    inner, outer = set(), set()
    wide = line.buffer(eps_m)
    for c in candidates:
        ring = np.array(h3.cell_to_boundary(c))
        hx, hy = tf.transform(ring[:, 1], ring[:, 0])
        hexagon = shapely.Polygon(np.c_[hx, hy])
        if hexagon.intersects(wide):
            outer.add(h3.str_to_int(c))
            if hexagon.buffer(-eps_m).intersects(line):
                inner.add(h3.str_to_int(c))
    return inner, outer


@pytest.fixture(scope="module")
def sample_batch(sample):
    district = sample.district.geometry.iloc[0]
    return patrol.build_tracks(sample.patrol_pings, 10, district=district)


# --- cleaning ---------------------------------------------------------------------


def test_jump_and_poor_fix_are_dropped():
    df = _walk()
    df.loc[20, "lon"] += 0.01  # ~900 m teleport for one fix
    df.loc[30, "accuracy"] = 150.0
    clean, report = patrol.clean_fixes(df)
    assert report.dropped["impossible_speed"] == 1
    assert report.dropped["poor_accuracy"] == 1
    assert len(clean) == len(df) - 2
    assert set(clean["time"]) == set(df["time"].drop([20, 30]))


def test_two_different_jumps_in_a_row_and_a_sustained_one():
    df = _walk(80)
    df.loc[10, "lon"] += 0.008  # ~730 m east
    df.loc[11, "lat"] -= 0.006  # ~660 m south: a second, different jump
    df.loc[[40, 41, 42], "lat"] += 0.007  # three fixes stuck ~770 m north
    clean, report = patrol.clean_fixes(df)
    assert report.dropped["impossible_speed"] == 5
    assert set(clean["time"]) == set(df["time"].drop([10, 11, 40, 41, 42]))
    assert not clean["new_track"].iloc[1:].any()  # nothing left to split at


def test_jump_at_the_start_of_a_track():
    df = _walk(30)
    df.loc[0, "lon"] -= 0.009
    clean, report = patrol.clean_fixes(df)
    assert report.dropped["impossible_speed"] == 1
    assert df.loc[0, "time"] not in set(clean["time"])


def test_duplicates_invalid_and_unknown_accuracy():
    df = _walk(20)
    dup = df.iloc[[5]].assign(lon=df.loc[5, "lon"] + 1e-5)  # same time, another place
    df = pd.concat([df, dup], ignore_index=True)
    df.loc[7, "lat"] = np.nan
    df.loc[8, "accuracy"] = np.nan  # unknown accuracy: kept
    clean, report = patrol.clean_fixes(df)
    assert report.dropped["duplicate"] == 1 and report.dropped["invalid"] == 1
    assert report.kept == len(df) - 2
    five = clean[clean["time"] == df.loc[5, "time"]]
    assert len(five) == 1 and five["lon"].iloc[0] == df.loc[5, "lon"]  # the first one kept
    assert df.loc[8, "time"] in set(clean["time"])


def test_outside_district_is_dropped_exactly_where_shapely_says():
    df = _walk(60, heading=0.4)
    mid = df.iloc[30]
    district = shapely.box(113.80, 35.20, mid["lon"], 35.40)
    clean, report = patrol.clean_fixes(df, district=district)
    inside = shapely.contains_xy(district, df["lon"].to_numpy(), df["lat"].to_numpy())
    assert report.dropped["outside_district"] == int((~inside).sum()) > 0
    assert set(clean["time"]) == set(df["time"][inside])


def test_polygon_mask_matches_shapely(sample):
    poly = sample.district.geometry.iloc[0]
    rng = np.random.default_rng(3)
    x0, y0, x1, y1 = poly.bounds
    lon = rng.uniform(x0 - 0.01, x1 + 0.01, 200_000)
    lat = rng.uniform(y0 - 0.01, y1 + 0.01, 200_000)
    ring = np.asarray(poly.geoms[0].exterior.coords)  # vertices lie on the border
    lon, lat = np.r_[lon, ring[:, 0]], np.r_[lat, ring[:, 1]]
    mask = PolygonMask(poly, boxes=64)
    assert (mask(lon, lat) == shapely.contains_xy(poly, lon, lat)).all()


def test_speed_limit_follows_the_mode():
    ride = _walk(40, step_s=10, speed=8.0)  # 8 m/s: a bicycle
    on_foot, rep_foot = patrol.clean_fixes(ride, "foot")
    by_bike, rep_bike = patrol.clean_fixes(ride, "bicycle")
    assert rep_bike.dropped["impossible_speed"] == 0 and len(by_bike) == len(ride)
    assert rep_foot.dropped["impossible_speed"] > 0 or on_foot["new_track"].iloc[1:].any()
    with pytest.raises(InvalidInput) as e:
        patrol.clean_fixes(ride, "horse")
    assert "horse" in e.value.message and "巡查方式" in e.value.message_zh


def test_naive_times_are_refused():
    df = _walk(5).assign(time=lambda d: d["time"].dt.tz_localize(None))
    with pytest.raises(InvalidInput) as e:
        patrol.clean_fixes(df)
    assert "+08:00" in e.value.message and "时区" in e.value.message_zh


def test_split_at_long_silence():
    a, b = _walk(20), _walk(20)
    b["time"] = b["time"] + pd.Timedelta(hours=2)
    parts = patrol.split_tracks(pd.concat([a, b], ignore_index=True))
    assert [len(p) for p in parts] == [20, 20]


def test_report_adds_up_on_the_sample(sample, sample_batch):
    pings = sample.patrol_pings
    r = sample_batch.report
    assert r.kept + sum(r.dropped.values()) == len(pings)
    assert r.dropped["poor_accuracy"] == int((pings["accuracy"] > 50).sum())
    assert r.kept == sum(t["point_count"] for t in sample_batch.tracks)
    assert r.tracks == len(sample_batch.tracks) > 1000


# --- lon/lat → cell and path filling ------------------------------------------------


@pytest.mark.parametrize("res", [0, 5, 9, 10, 12, 15])
def test_points_to_cells_is_h3(res):
    rng = np.random.default_rng(res)
    lon = rng.uniform(-180, 180, 20_000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000)))
    # Points on cell borders: the vertices of some cells and the midpoints of edges.
    for c in h3.grid_disk(h3.latlng_to_cell(35.3, 113.9, res), 2):
        ring = np.array(h3.cell_to_boundary(c))
        mids = (ring + np.roll(ring, 1, axis=0)) / 2
        lat = np.r_[lat, ring[:, 0], mids[:, 0]]
        lon = np.r_[lon, ring[:, 1], mids[:, 1]]
    expected = [h3.str_to_int(h3.latlng_to_cell(b, a, res)) for a, b in zip(lon, lat, strict=True)]
    assert points_to_cells(lon, lat, res).tolist() == expected


@pytest.mark.parametrize("res", [7, 9, 10, 12])
def test_cells_of_gives_h3s_cells_whichever_path_it_takes(res):
    """Big arrays at coarse resolutions go through the lattice, the rest one by one:
    the answers are h3's either way (points clustered like a district's, and spread)."""
    rng = np.random.default_rng(100 + res)
    n = hexgrid.LATTICE_MIN_POINTS + 1_000
    lon = np.r_[113.8 + rng.random(n) * 0.2, rng.uniform(-180, 180, n)]
    lat = np.r_[35.2 + rng.random(n) * 0.2, np.degrees(np.arcsin(rng.uniform(-1, 1, n)))]
    expected = [h3.str_to_int(h3.latlng_to_cell(b, a, res)) for a, b in zip(lon, lat, strict=True)]
    assert hexgrid.cells_of(lon, lat, res).tolist() == expected
    assert hexgrid.cells_of(lon[:50], lat[:50], res).tolist() == expected[:50]
    assert hexgrid.cells_of_each(lon, lat, res).tolist() == expected


@pytest.mark.parametrize("res", [0, 1, 9, 15])
def test_cell_polygons_are_h3s_boundaries(res):
    """Built in one go from the vertex array: the same rings as one Polygon per cell,
    pentagons and cells crossing an icosahedron edge (extra vertices) included."""
    rng = np.random.default_rng(res)
    lon = rng.uniform(-180, 180, 3_000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 3_000)))
    cells = np.r_[
        np.unique(hexgrid.cells_of_each(lon, lat, res)),
        [h3.str_to_int(c) for c in h3.get_pentagons(res)],
    ]
    got = hexgrid.cell_polygons(cells)
    assert len(got) == len(cells)
    for cell, poly in zip(cells.tolist(), got, strict=True):
        ring = [(x, y) for y, x in h3.cell_to_boundary(h3.int_to_str(cell))]
        assert poly.equals_exact(shapely.Polygon(ring), 0), cell
    assert hexgrid.cell_polygons(np.empty(0, dtype=np.int64)) == []


def test_path_cells_skip_no_cell_at_res10():
    # 30 s samples at 1.5 m/s are 45 m apart; the filled path must still give a chain
    # of cells in which each is the previous one's neighbour.
    cells = patrol.path_cells(_walk(120, 30, 1.5), 10)["cell"].tolist()
    hexes = [h3.int_to_str(c) for c in cells]
    assert len(hexes) > 5
    assert all(h3.are_neighbor_cells(a, b) for a, b in itertools.pairwise(hexes))


def test_sample_tracks_cover_exactly_the_cells_their_line_crosses(sample_batch):
    rng = np.random.default_rng(7)
    picks = rng.choice(len(sample_batch.tracks), 24, replace=False)
    passes = sample_batch.passes
    exact = 0
    for k in picks.tolist():
        coords = sample_batch.tracks[k]["coords"]
        mine = set(passes.loc[passes["track"] == k, "cell"].tolist())
        inner, outer = line_cells(coords, 10)
        assert inner <= mine <= outer, k
        exact += inner == outer
    assert exact >= 20  # the band is empty unless the line runs within 5 cm of a corner


def test_long_segments_are_filled_too():
    df = _walk(12, step_s=600, speed=1.2, heading=1.0)  # 720 m between fixes
    cells = patrol.path_cells(df, 10)["cell"].tolist()
    inner, outer = line_cells(df[["lon", "lat"]].to_numpy(), 10)
    assert inner <= set(cells) <= outer
    assert all(
        h3.are_neighbor_cells(h3.int_to_str(a), h3.int_to_str(b))
        for a, b in itertools.pairwise(cells)
    )


def _face_edge_point() -> tuple[float, float]:
    """A point on an icosahedron face edge: a res-10 cell that lies on two faces."""
    for lon in np.arange(60.0, 150.0, 0.5):
        a = h3.latlng_to_cell(35.3, lon, 10)
        b = h3.latlng_to_cell(35.3, lon + 0.5, 10)
        fa, fb = h3.get_icosahedron_faces(a), h3.get_icosahedron_faces(b)
        if fa != fb:
            lo, hi = lon, lon + 0.5
            while hi - lo > 1e-7:
                m = (lo + hi) / 2
                f = h3.get_icosahedron_faces(h3.latlng_to_cell(35.3, m, 10))
                lo, hi = (m, hi) if f == fa else (lo, m)
            return lo, 35.3
    raise AssertionError("no face edge found")


def test_walk_across_an_icosahedron_face_edge():
    lon0, lat0 = _face_edge_point()
    df = _walk(30, 30, 1.4, lon0=lon0 - 0.004, lat0=lat0, heading=0.2)
    cells = patrol.path_cells(df, 10)["cell"].tolist()
    inner, outer = line_cells(df[["lon", "lat"]].to_numpy(), 10, eps_m=1.0)
    assert inner <= set(cells) <= outer
    assert all(
        h3.are_neighbor_cells(h3.int_to_str(a), h3.int_to_str(b))
        for a, b in itertools.pairwise(cells)
    )


@st.composite
def walks(draw):
    n = draw(st.integers(2, 40))
    lon0 = draw(st.floats(-179.0, 179.0))
    lat0 = draw(st.floats(-80.0, 80.0))
    heading = draw(st.floats(0, 2 * np.pi))
    turns = draw(st.lists(st.floats(-np.pi / 2, np.pi / 2), min_size=n - 1, max_size=n - 1))
    steps = draw(st.lists(st.floats(1.0, 30.0), min_size=n - 1, max_size=n - 1))
    speeds = draw(st.lists(st.floats(0.0, 2.0), min_size=n - 1, max_size=n - 1))
    h = heading + np.cumsum(turns)
    d = np.array(steps) * np.array(speeds)
    y = np.r_[0.0, np.cumsum(d * np.cos(h))]
    x = np.r_[0.0, np.cumsum(d * np.sin(h))]
    t = np.r_[0.0, np.cumsum(steps)]
    return pd.DataFrame(
        {
            "time": pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(t, unit="s"),
            "lon": lon0 + x / (111_320 * np.cos(np.radians(lat0))),
            "lat": lat0 + y / 110_574,
        }
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walks(), st.sampled_from([9, 10, 11]))
def test_any_walk_gives_a_chain_of_neighbours(walk, res):
    cells = patrol.path_cells(walk, res)["cell"].tolist()
    hexes = [h3.int_to_str(c) for c in cells]
    assert all(h3.are_neighbor_cells(a, b) for a, b in itertools.pairwise(hexes))
    fixes = {h3.str_to_int(h3.latlng_to_cell(b, a, res)) for a, b in walk[["lon", "lat"]].values}
    assert fixes <= set(cells)


def test_entry_times_are_where_the_line_crosses_into_the_cell():
    df = _walk(40, 20, 1.25, heading=0.7)
    p = patrol.path_cells(df, 10)
    assert (p["left_at"].iloc[:-1].to_numpy() == p["time"].iloc[1:].to_numpy()).all()
    assert p["left_at"].iloc[-1] == df["time"].iloc[-1]
    tf = _metric(113.9, 35.3)
    t0 = df["time"].iloc[0]
    secs = (df["time"] - t0).dt.total_seconds().to_numpy()
    for cell, entered in zip(p["cell"].iloc[1:], p["time"].iloc[1:], strict=True):
        s = (entered - t0).total_seconds()
        lon = np.interp(s, secs, df["lon"])
        lat = np.interp(s, secs, df["lat"])
        ring = np.array(h3.cell_to_boundary(h3.int_to_str(cell)))
        hx, hy = tf.transform(ring[:, 1], ring[:, 0])
        px, py = tf.transform(lon, lat)
        border = shapely.Polygon(np.c_[hx, hy]).exterior
        assert border.distance(shapely.Point(px, py)) < 0.01  # 1 cm (times are µs)


# --- tracks, checksums and visits ------------------------------------------------------


def test_checksum_is_the_tracks_identity(sample, sample_batch):
    t = sample_batch.tracks[3]
    pings = sample.patrol_pings
    rows = pings[
        (pings["worker_id"] == t["worker_code"])
        & (pings["time"] >= t["started_at"])
        & (pings["time"] <= t["ended_at"])
    ]
    kept = rows[np.isin(rows["lon"].to_numpy(), t["coords"][:, 0])]
    assert len(kept) == t["point_count"]
    assert patrol.track_checksum(t["worker_code"], kept) == t["checksum"]
    moved = kept.assign(lon=kept["lon"] + np.r_[1e-5, np.zeros(len(kept) - 1)])
    assert patrol.track_checksum(t["worker_code"], moved) != t["checksum"]


def test_row_order_threads_and_chunks_do_not_change_the_result(sample, sample_batch, monkeypatch):
    district = sample.district.geometry.iloc[0]
    shuffled = sample.patrol_pings.sample(frac=1.0, random_state=1)
    monkeypatch.setattr(patrol_batch, "CHUNK_FIXES", 5_000)
    monkeypatch.setattr(patrol_visits, "CHUNK_PASSES", 3_000)
    other = patrol.build_tracks(shuffled, 10, district=district, threads=2)
    assert [t["checksum"] for t in other.tracks] == [t["checksum"] for t in sample_batch.tracks]
    cols = ["track", "cell", "time", "left_at"]
    pd.testing.assert_frame_equal(other.passes[cols], sample_batch.passes[cols])
    assert other.report == sample_batch.report
    pd.testing.assert_frame_equal(
        patrol.visits_by_worker(other.passes, threads=2),
        patrol.visits_by_worker(sample_batch.passes),
    )


def test_visits_count_passes_per_day():
    day1 = _walk(10)
    back = day1.iloc[::-1].assign(time=day1["time"] + pd.Timedelta(minutes=10))
    passes = patrol.path_cells(pd.concat([day1, back], ignore_index=True), 10)
    visits = patrol.visits_by_worker(passes.assign(worker_code="W1"))
    # Cells walked out and back were passed twice; the turning-point cell once.
    assert visits["pass_count"].max() == 2
    assert set(visits["day"].astype(str)) == {"2026-10-01"}
    assert visits["pass_count"].sum() == len(passes)


def test_visit_days_are_local_days():
    t = pd.to_datetime(
        ["2026-10-01T15:59:59Z", "2026-10-01T16:00:01Z", "2026-10-02T03:00:00Z"], utc=True
    )
    passes = pd.DataFrame(
        {
            "worker_code": ["W1", "W1", "W2"],
            "cell": [622236750694711295] * 3,
            "time": t,
            "left_at": t + pd.Timedelta(minutes=1),
        }
    )
    v = patrol.visits_by_worker(passes)
    assert v[["worker_code", "day"]].astype(str).values.tolist() == [
        ["W1", "2026-10-01"],  # 23:59:59 in Shanghai
        ["W1", "2026-10-02"],  # 00:00:01
        ["W2", "2026-10-02"],
    ]
    assert (v["last_seen"] == passes["left_at"]).all()
    utc = patrol.visits_by_worker(passes, tz="UTC")
    assert utc["day"].astype(str).tolist() == ["2026-10-01", "2026-10-02"]
    assert utc["pass_count"].tolist() == [2, 1]


def test_visits_match_a_plain_groupby(sample_batch):
    passes = sample_batch.passes
    got = patrol.visits_by_worker(passes)
    day = passes["time"].dt.tz_convert("Asia/Shanghai").dt.date
    ref = (
        passes.assign(day=day, worker_code=passes["worker_code"].astype(str))
        .groupby(["worker_code", "cell", "day"], as_index=False)
        .agg(
            first_seen=("time", "min"),
            last_seen=("left_at", "max"),
            pass_count=("time", "size"),
        )
    )
    got = got.assign(worker_code=got["worker_code"].astype(str))
    pd.testing.assert_frame_equal(got, ref, check_dtype=False)
