"""geo.registers: reading messy ledgers, normalising cells, converting coordinates,
locating by address, formula-safe writing. Expected values come from the generator's
constants and known positions, raw openpyxl/csv reads and the sample district."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from geo import registers as L
from geo.crs import gcj02_to_bd09, wgs84_to_gcj02
from geo.gazetteer import Gazetteer

LEDGERS = Path(__file__).resolve().parents[1] / "data" / "ledgers"
TRUTH = json.loads((LEDGERS / "expected.json").read_text())
GEOD = Geod(ellps="WGS84")


def _generator():
    spec = importlib.util.spec_from_file_location("make_ledgers", LEDGERS / "make_ledgers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gen():
    return _generator()


@pytest.fixture(scope="module")
def table():
    data = (LEDGERS / "compounds.xlsx").read_bytes()
    return L.read_table(data, "compounds.xlsx", "compounds")


@pytest.fixture(scope="module")
def gazetteer(sample):
    units = gpd.GeoDataFrame(
        pd.concat([sample.district, sample.streets, sample.communities, sample.grids]),
        geometry="geometry",
        crs=4326,
    )
    return Gazetteer(units, sample.special_grids, sample.compounds)


def test_files_are_what_the_generator_writes(gen, tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "HERE", tmp_path)
    gen.main()
    for name in ("compounds.xlsx", "compounds_bad.xlsx", "workers_gbk.csv", "expected.json"):
        assert (tmp_path / name).exists()
    assert json.loads((tmp_path / "expected.json").read_text()) == TRUTH
    # Cell values (not zip bytes, which carry timestamps) are reproduced.
    for name in ("compounds.xlsx", "compounds_bad.xlsx"):
        a = openpyxl.load_workbook(LEDGERS / name).active
        b = openpyxl.load_workbook(tmp_path / name).active
        assert list(a.values) == list(b.values)
    assert (tmp_path / "workers_gbk.csv").read_bytes() == (LEDGERS / "workers_gbk.csv").read_bytes()


def test_header_found_below_title_rows_and_merged_cells(table, gen):
    ws = openpyxl.load_workbook(LEDGERS / "compounds.xlsx").active
    assert ws.merged_cells.ranges  # the file really has merged header cells
    assert table.header_row == 4  # the second header row (经度/纬度 under 坐标)
    assert table.columns["lon"] == "经度" and table.columns["name"] == "小区名称"
    assert table.columns["households"] == "户数(户)"
    assert "序号" in table.ignored
    # Every ledger row and the duplicate, but no blank row and no footnote.
    assert len(table.rows) == len(gen.COMPOUNDS) + 1
    assert table.row_numbers[0] == 5


def test_cells_are_normalised(table, sample):
    records, reports = L.parse_compounds(table, district=sample.district.geometry.iloc[0])
    by_name = {r.name: r for r in records}
    assert set(by_name) == set(TRUTH["compounds"])
    assert by_name["东街3号楼院"].households == 123  # "１２３"
    assert by_name["东街3号楼院"].buildings == 5
    assert by_name["东街3号楼院"].year_built == 1988  # "1988年"
    assert by_name["解放路300号院西院"].households == 86  # "86户"
    assert by_name["解放路300号院西院"].address == "样例区解放路街道解放路300号"  # ３００號
    assert by_name["老邮电局宿舍"].address.endswith("胜利路88号")
    assert by_name["锦华苑"].management_type == "property_company"  # 物業公司
    for name, t in TRUTH["compounds"].items():
        assert by_name[name].management_type == t["management_type"]
    dup = [r for r in reports if r.status == "duplicate"]
    assert len(dup) == 1 and dup[0].name == "纺织厂东院"
    camp = by_name["纺织厂东院"].campaign
    assert camp["mode"] == "community" and camp["committee_formed"] is True
    assert camp["works"] == [
        {"work": "安装路灯", "done_on": "2026-03-05"},
        {"work": "硬化路面", "done_on": "2026-04-10"},
    ]
    assert by_name["胜利里12号院"].campaign["struck_off_on"] == "2026-04-30"  # a date cell
    assert by_name["劳动路336号院北楼"].campaign["struck_off_on"] == "2026-07-15"  # 2026/07/15
    assert by_name["纺织社区散居楼"].campaign is None  # owned: no campaign record


def test_coordinates_in_any_crs_land_on_the_known_points(table, sample):
    records, _ = L.parse_compounds(table, district=sample.district.geometry.iloc[0])
    with_coords = [r for r in records if r.lon is not None]
    assert {r.crs_in for r in with_coords} == {"wgs84", "gcj02", "bd09"}
    for r in with_coords:
        t = TRUTH["compounds"][r.name]
        assert t["located_by"] == "coordinates"
        assert GEOD.inv(r.lon, r.lat, *t["position"])[2] < 1.0


def test_address_rows_are_located_through_the_gazetteer(table, sample, gazetteer):
    records, reports = L.parse_compounds(table, district=sample.district.geometry.iloc[0])
    by_row = {r.row: r for r in reports}
    todo = [r for r in records if r.lon is None]
    L.locate(todo, lambda q: gazetteer.search(q, 5), by_row)
    for r in todo:
        t = TRUTH["compounds"][r.name]
        if t["position"] is None:
            assert by_row[r.row].status == "unlocatable" and r.lon is None
        else:
            assert by_row[r.row].status == "located" and r.match_score >= L.MIN_SCORE
            assert r.lon == pytest.approx(t["position"][0], abs=1e-9)
            assert r.lat == pytest.approx(t["position"][1], abs=1e-9)


def test_gbk_csv_is_detected_and_grids_resolved(sample):
    data = (LEDGERS / "workers_gbk.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    table = L.read_table(data, "workers_gbk.csv", "workers")
    assert table.encoding == "GBK"
    units = pd.concat([sample.communities, sample.grids], ignore_index=True)
    units["unit_id"] = range(len(units))
    records, reports = L.parse_workers(table, units)
    code_of = dict(zip(units["unit_id"], units["code"], strict=True))
    got = {r.name: [code_of[u] for u in r.unit_ids] for r in records}
    assert got == TRUTH["workers"]
    phones = {r.name: r.phone for r in records}
    assert phones["赵丽娟"] == "13903731234" and phones["孙海燕"] == "18603731236"
    assert phones["周建"] is None
    assert [r.status for r in reports].count("duplicate") == 1


def _csv(rows: list[list]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"建成年代": "很久以前"}, "year"),
        ({"户数": "-5"}, "whole number"),
        ({"经度": "113.9"}, "only one"),
        ({"经度": "113.9", "纬度": "35.3", "坐标系": "北京54"}, "unknown CRS"),
        ({"经度": "35.3", "纬度": "113.9", "坐标系": "wgs84"}, "outside the district"),
        ({"经度": "113.9", "纬度": "35.3"}, "without a CRS"),
        ({"物业类型": "外星人"}, "management type"),
        ({"销号日期": "2026-01-01", "治理模式": "社区型"}, "verified"),
        ({"业委会": "也许"}, "committee"),
        ({"小区名称": ""}, "no name"),
    ],
)
def test_fatal_cells(cells, reason, sample):
    row = {"小区名称": "某楼院", "地址": "某路1号", "物业类型": "无主管", "业委会": "否"}
    row.update(cells)
    data = _csv([list(row), list(row.values())])
    table = L.read_table(data, "x.csv", "compounds")
    _, reports = L.parse_compounds(table, district=sample.district.geometry.iloc[0])
    assert [r.status for r in reports] == ["fatal"]
    assert reason in reports[0].reason and reports[0].reason_zh


def test_column_map_and_default_crs(sample):
    lon, lat = 113.93, 35.36
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))
    blon, blat = (float(v) for v in gcj02_to_bd09(glon, glat))
    data = _csv([["楼院", "门牌", "X", "Y", "类型"], ["甲院", "甲路1号", blon, blat, "无主管"]])
    with pytest.raises(L.RowError):
        L.read_table(data, "x.csv", "compounds", column_map={"nonsense": "楼院"})
    table = L.read_table(
        data,
        "x.csv",
        "compounds",
        column_map={"name": "楼院", "address": "门牌", "lon": "X", "lat": "Y",
                    "management_type": "类型"},
    )  # fmt: skip
    records, reports = L.parse_compounds(table, default_crs="bd09")
    assert reports[0].status == "ok"
    assert GEOD.inv(records[0].lon, records[0].lat, lon, lat)[2] < 1.0


def test_clean_text():
    assert L.clean_text("  東湖花園１２３號  ") == "东湖花园123号"
    assert L.clean_text(None) == "" and L.clean_text(1985.0) == "1985"


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_formula_cells_are_escaped_and_read_back(fmt):
    evil = ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx", "普通", "it's"]
    data = L.write_table(["小区名称", "户数"], [[v, 3] for v in evil], fmt)
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data)).active
        raw = [r[0] for r in ws.iter_rows(min_row=2, values_only=True)]
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    else:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        raw = [r[0] for r in rows[1:]]
    if fmt == "xlsx":
        # XML turns a bare CR into LF when the file is read; the escape stays.
        evil = [v.replace("\r", "\n") for v in evil]
    assert raw == ["'" + v for v in evil[:6]] + ["普通", "it's"]
    table = L.read_table(data, f"x.{fmt}", "compounds")
    assert [r["name"] for r in table.rows] == evil


def test_no_header_is_an_error():
    with pytest.raises(L.RowError) as err:
        L.read_table(_csv([["a", "b"], ["1", "2"]]), "x.csv", "compounds")
    assert "header" in str(err.value) and err.value.message_zh


def test_swapped_points_are_outside(sample):
    district = sample.district.geometry.iloc[0]
    p = shapely.point_on_surface(district)
    assert district.covers(p) and not district.covers(shapely.Point(p.y, p.x))


def test_wrong_encoding_is_a_clear_error():
    data = (LEDGERS / "workers_gbk.csv").read_bytes()
    for enc in ("utf-8", "no-such-codec"):
        with pytest.raises(L.RowError) as err:
            L.read_table(data, "w.csv", "workers", encoding=enc)
        assert "encoding" in str(err.value) and err.value.message_zh
