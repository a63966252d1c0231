"""The sample district generator: counts, exact tiling, layer semantics, determinism, files.

Every check recomputes what it asserts with shapely/geopandas/pandas on the generated
frames (areas and distances in EPSG:4547 metres), never against stored outputs.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from boundaries import sample as sample_module
from boundaries.sample import SampleDistrict, generate_sample_district, write_sample

METRIC = "EPSG:4547"
SEED = 410799
LEVELS = ("district", "streets", "communities", "grids")
SPECIAL_KINDS = {
    "school", "hospital", "industrial_park", "market", "enterprise", "scenic", "campus", "other",
}  # fmt: skip


@pytest.fixture(scope="module")
def sample() -> SampleDistrict:
    return generate_sample_district(SEED)


@pytest.fixture(scope="module")
def metric(sample: SampleDistrict) -> dict[str, gpd.GeoDataFrame]:
    """Boundary layers projected to EPSG:4547 (metres), each vertex on its own."""
    return {name: getattr(sample, name).to_crs(METRIC) for name in LEVELS}


@pytest.fixture(scope="module")
def district_m(metric) -> shapely.Geometry:
    return metric["district"].geometry.iloc[0]


def test_counts(sample: SampleDistrict) -> None:
    assert len(sample.district) == 1
    assert len(sample.streets) == 6
    assert len(sample.communities) == 55
    assert len(sample.grids) == 611
    assert len(sample.special_grids) == 230
    assert 1400 <= len(sample.compounds) <= 1600
    assert abs((sample.compounds["management_type"] == "unowned").sum() - 278) <= 5
    assert 5000 <= len(sample.incidents) <= 7000
    assert len(sample.patrol_pings) < 400_000


def test_boundary_columns_and_crs(sample: SampleDistrict) -> None:
    expected_level = {"district": "district", "streets": "street"}
    expected_level |= {"communities": "community", "grids": "grid"}
    for name in LEVELS:
        gdf = getattr(sample, name)
        assert list(gdf.columns) == ["code", "name", "level", "parent_code", "geometry"]
        assert gdf.crs.to_epsg() == 4326
        assert set(gdf["level"]) == {expected_level[name]}
    district = sample.district.iloc[0]
    assert (district["code"], district["name"]) == ("410799", "样例区")
    assert district["parent_code"] is None or pd.isna(district["parent_code"])


def test_codes(sample: SampleDistrict) -> None:
    streets, communities, grids = sample.streets, sample.communities, sample.grids
    for gdf, digits in ((streets, 9), (communities, 12), (grids, 15)):
        assert gdf["code"].str.fullmatch(rf"\d{{{digits}}}").all()
        assert gdf["code"].is_unique
        assert (gdf["code"].str[:-3] == gdf["parent_code"]).all()
    assert (streets["parent_code"] == "410799").all()
    assert set(communities["parent_code"]) == set(streets["code"])
    assert set(grids["parent_code"]) == set(communities["code"])

    seq = streets["code"].str[-3:].astype(int)
    urban = streets["name"].str.endswith("街道")
    town = streets["name"].str.endswith("镇")
    assert urban.sum() == 4 and town.sum() == 2
    assert seq[urban].between(1, 99).all() and seq[town].between(100, 199).all()

    town_codes = set(streets.loc[town, "code"])
    in_town = communities["parent_code"].isin(town_codes)
    cseq = communities["code"].str[-3:].astype(int)
    assert communities.loc[~in_town, "name"].str.endswith("社区").all()
    assert communities.loc[in_town, "name"].str.endswith("村").all()
    assert cseq[~in_town].between(1, 199).all() and (cseq[in_town] >= 201).all()
    assert communities["name"].is_unique
    # Urban streets get more communities (and smaller ones).
    assert (~in_town).sum() > in_town.sum()

    # Grid numbers run 001..n within each community and name the community.
    names = communities.set_index("code")["name"]
    for parent, group in grids.groupby("parent_code"):
        n = group["code"].str[-3:].astype(int)
        assert sorted(n) == list(range(1, len(group) + 1))
        assert (group["name"] == [f"{names[parent]}第{k}网格" for k in n]).all()


@pytest.mark.parametrize("layer", [*LEVELS, "special_grids"])
def test_geometries_are_valid_multipolygons(sample: SampleDistrict, layer: str) -> None:
    geoms = getattr(sample, layer).geometry.values
    assert (shapely.get_type_id(geoms) == 6).all()  # MultiPolygon
    assert shapely.is_valid(geoms).all()
    for ring in shapely.get_rings(shapely.get_parts(geoms)):
        xy = shapely.get_coordinates(ring)
        assert (np.abs(np.diff(xy, axis=0)).max(axis=1) > 0).all(), "repeated vertex"


@pytest.mark.parametrize(
    ("parent", "child"),
    [("district", "streets"), ("streets", "communities"), ("communities", "grids")],
)
def test_children_tile_their_parent_exactly(metric, parent: str, child: str) -> None:
    parents = metric[parent].set_index("code").geometry
    children = metric[child]
    key = children["parent_code"] if parent != "district" else pd.Series("410799", children.index)
    child_area = shapely.area(children.geometry.values)

    sums = pd.Series(child_area, index=children.index).groupby(key.to_numpy()).sum()
    parent_area = shapely.area(parents.loc[sums.index].values)
    np.testing.assert_allclose(sums.to_numpy(), parent_area, rtol=1e-6)

    outside = shapely.area(shapely.difference(children.geometry.values, parents.loc[key].values))
    assert outside.max() < 1.0

    tree = shapely.STRtree(children.geometry.values)
    left, right = tree.query(children.geometry.values, predicate="intersects")
    pairs = left < right
    assert pairs.sum() > len(children) - 1  # neighbours do touch
    overlap = shapely.area(
        shapely.intersection(
            children.geometry.values[left[pairs]], children.geometry.values[right[pairs]]
        )
    )
    assert overlap.max() < 1.0


@pytest.mark.parametrize("layer", LEVELS[1:])
def test_shared_borders_are_identical_in_wgs84(sample: SampleDistrict, layer: str) -> None:
    # A valid coverage: neighbours meet along the same vertices, no slivers or overlaps,
    # even after the vertex-by-vertex conversion to degrees.
    assert shapely.coverage_is_valid(getattr(sample, layer).geometry.values)


def test_union_of_grids_is_the_district(metric, district_m) -> None:
    union = shapely.union_all(metric["grids"].geometry.values)
    assert shapely.symmetric_difference(union, district_m).area < 1.0


def test_district_size_and_position(sample: SampleDistrict, district_m) -> None:
    assert 120e6 <= district_m.area <= 160e6
    # Irregular, not a rectangle: clearly less area than its minimum rotated rectangle.
    assert district_m.area < 0.9 * shapely.minimum_rotated_rectangle(district_m).area
    centre = gpd.GeoSeries([district_m.centroid], crs=METRIC).to_crs(4326).iloc[0]
    assert abs(centre.x - 113.9) < 0.03 and abs(centre.y - 35.3) < 0.03


def test_grids_are_compact_blocks_not_confetti(sample: SampleDistrict, metric) -> None:
    grids = metric["grids"]
    area = grids.geometry.area
    assert area.min() > 10_000
    compactness = 4 * np.pi * area / grids.geometry.length**2
    assert compactness.min() > 0.2
    assert compactness.median() > 0.6
    town_codes = set(sample.streets.loc[sample.streets["name"].str.endswith("镇"), "code"])
    rural = grids["code"].str[:9].isin(town_codes)
    assert area[~rural].mean() * 3 < area[rural].mean()
    communities = metric["communities"]
    village = communities["parent_code"].isin(town_codes)
    assert communities.area[~village].mean() < communities.area[village].mean()


def test_special_grids(sample: SampleDistrict, district_m) -> None:
    sg = sample.special_grids
    assert list(sg.columns) == [
        "code", "kind", "name", "responsible_unit", "contact_name", "contact_phone", "geometry",
    ]  # fmt: skip
    assert sg.crs.to_epsg() == 4326
    assert set(sg["kind"]) == SPECIAL_KINDS
    assert sg["kind"].value_counts().min() >= 3
    assert sg["code"].str.fullmatch(r"410799S\d{4}").all() and sg["code"].is_unique
    assert sg["contact_phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    for col in ("name", "responsible_unit", "contact_name"):
        assert sg[col].str.contains(r"[\u4e00-\u9fff]").all()
    sg_m = sg.to_crs(METRIC)
    assert shapely.covers(district_m.buffer(1.0), sg_m.geometry.values).all()

    streets = sample.streets.to_crs(METRIC)
    town = shapely.union_all(streets.geometry[streets["name"].str.endswith("镇")].values)
    in_town = shapely.covers(town, sg_m.geometry.representative_point().values)
    kind = sg_m["kind"].to_numpy()
    assert in_town[kind == "industrial_park"].all()
    for urban_kind in ("school", "hospital", "market"):
        assert (~in_town[kind == urban_kind]).mean() > 0.6


def test_compounds_lie_in_their_grid(sample: SampleDistrict) -> None:
    comp = sample.compounds
    assert comp.crs.to_epsg() == 4326
    assert comp["grid_code"].notna().all()
    grid_geom = sample.grids.set_index("code").geometry
    assert shapely.covers(grid_geom.loc[comp["grid_code"]].values, comp.geometry.values).all()
    kinds = set(comp.geom_type)
    assert kinds == {"Polygon", "Point"} and (comp.geom_type == "Polygon").mean() > 0.8
    assert set(comp["management_type"]) == {"property_company", "unit", "self_governed", "unowned"}
    for col in ("households", "buildings", "year_built"):
        assert pd.api.types.is_integer_dtype(comp[col])
    assert (comp["households"] > 0).all() and (comp["buildings"] > 0).all()
    assert comp["year_built"].between(1950, 2026).all()


def test_unowned_compounds_cluster_in_the_old_town(sample: SampleDistrict) -> None:
    # The old town is streets 001 and 002; its centre is their joint centroid.
    streets = sample.streets.to_crs(METRIC)
    old = streets[streets["code"].isin(["410799001", "410799002"])]
    centre = shapely.union_all(old.geometry.values).centroid
    comp = sample.compounds.to_crs(METRIC)
    dist = comp.geometry.centroid.distance(centre)
    unowned = comp["management_type"] == "unowned"
    assert dist[unowned].mean() < 0.6 * dist[~unowned].mean()
    assert comp.loc[unowned, "year_built"].median() < comp.loc[~unowned, "year_built"].median()
    status = comp.loc[unowned, "governance_status"]
    assert (status == "none").mean() > 0.5
    assert set(status) <= {"none", "community_managed", "professional", "self_governed"}
    assert {"community_managed", "professional", "self_governed"} <= set(status)


def test_workers(sample: SampleDistrict) -> None:
    w = sample.workers
    assert w["worker_id"].is_unique
    assert w["phone"].str.fullmatch(r"1[3-9]\d{9}").all()
    assert set(w["role"]) == {"worker", "leader"}
    workers, leaders = w[w["role"] == "worker"], w[w["role"] == "leader"]
    assert workers["grid_code"].is_unique
    assert set(workers["grid_code"]) <= set(sample.grids["code"])
    assert 5 <= len(sample.grids) - len(workers) <= 10
    assert leaders["grid_code"].isna().all()
    assert sorted(leaders["community_code"]) == sorted(sample.communities["code"])


def test_incidents(sample: SampleDistrict, district_m) -> None:
    inc = sample.incidents
    assert inc.crs.to_epsg() == 4326
    assert set(inc["source"]) <= {
        "grid_worker", "hotline_12345", "camera", "patrol", "citizen", "other",
    }  # fmt: skip
    assert not inc.duplicated(["source", "external_id"]).any()
    assert inc["status"].isin(["open", "closed"]).all()
    assert inc["category"].nunique() >= 5
    np.testing.assert_array_equal(inc.geometry.x, inc["lon"])
    np.testing.assert_array_equal(inc.geometry.y, inc["lat"])
    pts = inc.to_crs(METRIC).geometry.values
    assert shapely.covers(district_m, pts).all()

    t = inc["reported_at"]
    assert str(t.dt.tz) == "Asia/Shanghai"
    assert t.min() >= pd.Timestamp("2026-10-02", tz="Asia/Shanghai")
    assert t.max() < pd.Timestamp("2026-11-01", tz="Asia/Shanghai")
    assert t.dt.date.nunique() == 30
    per_day = t.dt.normalize().value_counts()
    by_weekday = per_day.groupby(per_day.index.day_of_week).mean()
    assert by_weekday[[0, 1]].mean() > 1.3 * by_weekday[[5, 6]].mean()
    assert t.dt.hour.between(8, 19).mean() > 0.65

    # Hotspots: the densest grids (per km²) hold far more than their share.
    grids = sample.grids.to_crs(METRIC)
    tree = shapely.STRtree(grids.geometry.values)
    _, gi = tree.query(pts, predicate="intersects")
    density = np.bincount(gi, minlength=len(grids)) / (grids.area.to_numpy() / 1e6)
    assert np.sort(density)[-6:].mean() > 8 * np.median(density)


def test_patrol_pings(sample: SampleDistrict, district_m) -> None:
    p = sample.patrol_pings
    assert list(p.columns) == ["worker_id", "time", "lon", "lat", "accuracy"]
    assert str(p["time"].dt.tz) == "Asia/Shanghai"
    ids = set(p["worker_id"])
    volunteers = {i for i in ids if re.fullmatch(r"V\d{3}", i)}
    grid_workers = sample.workers.loc[sample.workers["role"] == "worker", "worker_id"]
    assert ids - volunteers <= set(grid_workers)
    assert volunteers and 50 <= len(ids) <= 80

    xy = gpd.GeoSeries.from_xy(p["lon"], p["lat"], crs=4326).to_crs(METRIC)
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    same = p["worker_id"].to_numpy()[1:] == p["worker_id"].to_numpy()[:-1]
    dt = np.diff(p["time"].astype("int64").to_numpy()) / 1e9
    step = same & (dt > 0) & (dt <= 60)
    speed = np.hypot(np.diff(x), np.diff(y))[step] / dt[step]
    assert 1.0 <= np.median(speed) <= 1.6
    assert 10 <= np.median(dt[step]) <= 30
    assert (speed > 10).any()  # some jumps
    assert ((p["accuracy"] >= 50) & (p["accuracy"] <= 200)).mean() > 0.002
    assert (p["accuracy"] < 50).mean() > 0.95

    pts = shapely.points(x, y)
    assert shapely.covers(district_m.buffer(200), pts).mean() > 0.98
    assert shapely.covers(district_m.buffer(2000), pts).all()

    grids = sample.grids.to_crs(METRIC)
    _, gi = shapely.STRtree(grids.geometry.values).query(pts, predicate="intersects")
    unvisited = 1 - np.unique(gi).size / len(grids)
    assert 0.1 < unvisited < 0.95


def test_same_seed_same_data_other_seed_differs(sample: SampleDistrict) -> None:
    again = generate_sample_district(SEED)
    assert_geodataframe_equal(again.grids, sample.grids)
    assert_geodataframe_equal(again.compounds, sample.compounds)
    pd.testing.assert_frame_equal(again.workers, sample.workers)
    pd.testing.assert_frame_equal(again.patrol_pings, sample.patrol_pings)
    other = generate_sample_district(SEED + 1)
    assert len(other.grids) == 611
    assert not shapely.equals(
        shapely.union_all(other.district.geometry.values), sample.district.geometry.iloc[0]
    )


def test_write_sample_round_trip(sample: SampleDistrict, tmp_path) -> None:
    written = write_sample(sample, tmp_path / "out")
    expected = {
        "boundaries.gpkg", "district.geojson", "street.geojson", "community.geojson",
        "grid.geojson", "special_grid.geojson", "compounds.geojson", "incidents.geojson",
        "workers.csv", "patrol_pings.csv",
    }  # fmt: skip
    assert set(written) == expected
    assert all(path.is_file() and path.parent == tmp_path / "out" for path in written.values())
    layers = {name for name, _ in pyogrio.list_layers(written["boundaries.gpkg"])}
    assert layers == {"district", "street", "community", "grid", "special_grid"}
    grid = gpd.read_file(written["boundaries.gpkg"], layer="grid", engine="pyogrio")
    assert_geodataframe_equal(grid, sample.grids, check_dtype=False)

    streets = gpd.read_file(written["street.geojson"])
    assert list(streets["name"]) == list(sample.streets["name"])  # UTF-8 survived
    incidents = gpd.read_file(written["incidents.geojson"])
    assert len(incidents) == len(sample.incidents)
    back = pd.to_datetime(incidents["reported_at"], format="ISO8601")
    assert (back == sample.incidents["reported_at"]).all()

    pings = pd.read_csv(written["patrol_pings.csv"])
    assert list(pings.columns) == ["worker_id", "time", "lon", "lat", "accuracy", "crs"]
    assert len(pings) == len(sample.patrol_pings) and (pings["crs"] == "wgs84").all()
    workers = pd.read_csv(written["workers.csv"], dtype=str)
    assert list(workers["worker_id"]) == list(sample.workers["worker_id"])


def test_cli_writes_files(sample: SampleDistrict, tmp_path, monkeypatch, capsys) -> None:
    seeds = []

    def fake_generate(seed: int) -> SampleDistrict:
        seeds.append(seed)
        return sample

    monkeypatch.setattr(sample_module, "generate_sample_district", fake_generate)
    sample_module.main([str(tmp_path), "--seed", "7"])
    assert seeds == [7]
    out = capsys.readouterr().out
    assert "grid.geojson" in out and (tmp_path / "grid.geojson").is_file()
