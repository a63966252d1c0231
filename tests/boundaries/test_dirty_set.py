"""The dirty set (tests/data/dirty): real-world file problems, every topology finding type.

The files are read the way the importer reads them: the Shapefile with the encoding
``detect_encoding`` finds and its own .prj (EPSG:4547), through ``normalise_units``;
the GCJ-02 GeoJSON files are shifted to WGS-84 here, because ``normalise_units``
refuses their invalid geometry and duplicate code before validation could see it.
Areas are checked against this test's own computation in a Lambert equal-area
projection centred on the data, not against the validator's measuring.
"""

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from geo.crs import gcj02_to_wgs84
from geo.errors import InvalidInput
from geo.topology import FINDING_TYPES, validate_units

from boundaries.encoding import detect_encoding, looks_garbled
from boundaries.importer import normalise_units

DIRTY = Path(__file__).resolve().parents[1] / "data" / "dirty"
SHP = DIRTY / "dirty_gbk.shp"
UNITS_GCJ = DIRTY / "dirty_units_gcj02.geojson"
SPECIAL_GCJ = DIRTY / "dirty_special_gcj02.geojson"
EXPECTED = json.loads((DIRTY / "expected_findings.json").read_text(encoding="utf-8"))["findings"]

SHP_NAMES = {
    "410798": "测试区",
    "410798001": "人民路街道",
    "410798101": "柳林镇",
    "410798001001": "幸福社区",
    "410798001002": "和平社区",
    "410798101201": "王庄村",
    "410798101202": "李寨村",
    "410798002001001": "幸福社区第1网格",
    "410798001001002": "幸福社区第2网格",
    "410798001002001": "和平社区第1网格",
    "410798001002002": "和平社区第2网格",
    "410798101202001": "李寨村第1网格",
    "410798101202002": "李寨村第2网格",
    "41079810120203": "李寨村第3网格",
    "410798001009001": "外来社区第1网格",
}
# Equal-area and centred on the set: an independent way to measure m².
LAEA = CRS.from_proj4("+proj=laea +lat_0=35.28 +lon_0=113.92 +ellps=GRS80 +units=m +no_defs")


def _from_gcj02(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    def shift(c: np.ndarray) -> np.ndarray:
        return np.column_stack(gcj02_to_wgs84(c[:, 0], c[:, 1]))

    return gdf.set_geometry(shapely.transform(gdf.geometry.values, shift), crs=4326)


@pytest.fixture(scope="module")
def shp_raw() -> gpd.GeoDataFrame:
    return gpd.read_file(SHP, engine="pyogrio", encoding=detect_encoding(SHP))


@pytest.fixture(scope="module")
def dirty_set(shp_raw):
    units = normalise_units(shp_raw)  # level column 层级, CRS from the .prj
    grids = _from_gcj02(gpd.read_file(UNITS_GCJ, engine="pyogrio"))
    special = _from_gcj02(gpd.read_file(SPECIAL_GCJ, engine="pyogrio"))
    cols = ["level", "code", "name", "parent_code", "geometry"]
    combined = gpd.GeoDataFrame(pd.concat([units[cols], grids[cols]], ignore_index=True), crs=4326)
    return combined, special


def test_the_shapefile_is_gbk_without_cpg_in_epsg_4547(shp_raw):
    assert not SHP.with_suffix(".cpg").exists()
    assert SHP.with_suffix(".dbf").read_bytes()[29] == 0  # no language driver either
    assert detect_encoding(SHP) == "GBK"
    assert shp_raw.crs.to_epsg() == 4547
    # Coordinates are Gauss-Krüger metres (easting ~490 km, northing ~3905 km).
    x0, y0, _, _ = shp_raw.total_bounds
    assert 489_000 < x0 < 491_000 and 3_904_000 < y0 < 3_906_000


def test_gbk_names_decode_to_the_right_chinese(shp_raw):
    assert list(shp_raw.columns[:4]) == ["编码", "名称", "上级编码", "层级"]
    assert dict(zip(shp_raw["编码"], shp_raw["名称"], strict=True)) == SHP_NAMES
    raw = SHP.with_suffix(".dbf").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw[raw.index(b"\r") + 1 :].decode("utf-8")  # the names are not UTF-8


def test_reading_with_the_default_encoding_is_detected_as_garbled():
    default = gpd.read_file(SHP, engine="pyogrio")  # what pyogrio does without help
    assert "名称" not in default.columns
    names = default.iloc[:, 1].tolist()
    assert set(names).isdisjoint(SHP_NAMES.values())
    assert all(looks_garbled(n) for n in names)
    assert not any(looks_garbled(n) for n in SHP_NAMES.values())


def test_the_geojson_really_is_gcj02(dirty_set):
    # Read as WGS-84 the phone-map grids sit hundreds of metres off their village.
    units, _ = dirty_set
    raw = gpd.read_file(UNITS_GCJ, engine="pyogrio").to_crs(LAEA)
    village = units[units["code"] == "410798101201"].to_crs(LAEA).geometry.iloc[0]
    assert shapely.hausdorff_distance(shapely.union_all(raw.geometry.values), village) > 300
    shifted = units[units["parent_code"] == "410798101201"].to_crs(LAEA)
    assert shifted.geometry.union_all().difference(village).area < 1.0


def test_normalise_units_refuses_the_gcj02_grids():
    raw = gpd.read_file(UNITS_GCJ, engine="pyogrio")
    with pytest.raises(InvalidInput) as err:
        normalise_units(raw, level="grid", crs="gcj02")
    problems = err.value.extra["problems"]
    assert any("410798101201001" in p for p in problems)
    assert any("duplicate codes" in p for p in problems)


def test_expected_findings_cover_every_type():
    assert {f["type"] for f in EXPECTED} == set(FINDING_TYPES)


def _independent_area(how: dict, units: gpd.GeoDataFrame, special: gpd.GeoDataFrame) -> float:
    """The finding's area by this test's own recipe, in an equal-area projection."""
    geoms = pd.concat([units[["code", "geometry"]], special[["code", "geometry"]]])
    geoms = gpd.GeoDataFrame(geoms, crs=4326).to_crs(LAEA)
    valid = dict(
        zip(
            geoms["code"],
            shapely.make_valid(geoms.geometry.values, method="structure"),
            strict=True,
        )
    )

    def g(code):
        return valid[code]

    op = how["op"]
    if op == "difference":
        return g(how["a"]).difference(g(how["b"])).area
    if op == "intersection":
        return g(how["a"]).intersection(g(how["b"])).area
    if op == "gap":
        kids = units[units["parent_code"] == how["parent"]].to_crs(LAEA).geometry.values
        kids = shapely.make_valid(kids, method="structure")
        return g(how["parent"]).difference(shapely.union_all(kids)).area
    if op == "outside_main_parent":
        level = units[units["level"] == how["parent_level"]]
        inside = [g(how["a"]).intersection(g(c)).area for c in level["code"]]
        return g(how["a"]).area - max(inside)
    raise AssertionError(op)


def test_validation_finds_exactly_the_expected_findings(dirty_set):
    units, special = dirty_set
    findings = validate_units(units, special)
    got = {(f.type, f.severity, f.codes) for f in findings}
    want = {(e["type"], e["severity"], tuple(e["codes"])) for e in EXPECTED}
    assert got == want
    assert len(findings) == len(EXPECTED)

    by_key = {(f.type, f.codes): f for f in findings}
    for e in EXPECTED:
        f = by_key[(e["type"], tuple(e["codes"]))]
        if e["area_m2"] is None:
            assert f.area_m2 is None, f
            continue
        independent = _independent_area(e["area_of"], units, special)
        assert f.area_m2 == pytest.approx(independent, rel=0.01), e
        assert f.area_m2 == pytest.approx(e["area_m2"], rel=0.01), e  # as drawn
        assert f.geometry is not None and f.geometry.is_valid


def test_finding_details_say_what_went_wrong(dirty_set):
    units, special = dirty_set
    findings = validate_units(units, special)
    by_type = {}
    for f in findings:
        by_type.setdefault(f.type, []).append(f)
    invalid = {f.severity: f.detail["reason"] for f in by_type["invalid_geometry"]}
    assert invalid["warning"] == "duplicate_vertices"
    assert invalid["error"] in ("self_intersection", "ring_self_intersection")
    assert by_type["sliver"][0].detail["kind"] == "gap"
    assert by_type["sliver"][0].detail["mean_width_m"] == pytest.approx(0.5, rel=0.02)
    assert by_type["orphan"][0].detail["parent_code"] == "410798001009"
    assert by_type["gap"][0].detail["suggested_owner"] == "410798001001002"
    for f in findings:
        assert f.message and f.message_zh and f.message != f.message_zh
