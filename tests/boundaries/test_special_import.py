"""Special grids imported from files (GeoJSON, GBK Shapefile with Chinese columns):
checked whole, reported per code, written in one transaction only on request,
refused whole on any error, idempotent. Checked against raw SQL and shapely."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon, box
from typer.testing import CliRunner

from geo.errors import EditRefused, InvalidInput, StaleVersion
from geo.services import special_edits
from geo.store import boundaries as bstore
from geo.store import registers

from api.cli import app
from boundaries.encoding import detect_encoding
from boundaries.export import export_boundaries
from boundaries.special_import import (
    import_special_file,
    map_kind,
    parse_special_column_map,
    special_columns,
)

METRIC = 4547  # CGCS2000 3-degree Gauss-Krüger, CM 114°E: the sample district's zone
ZH_KIND = {
    "school": "学校",
    "hospital": "医院",
    "industrial_park": "工业园区",
    "market": "农贸市场",
    "enterprise": "企业",
    "scenic": "景区",
    "campus": "高校",
    "other": "其他",
}
ZH_COLUMNS = {
    "code": "编码",
    "name": "名称",
    "kind": "类型",
    "responsible_unit": "责任单位",
    "contact_name": "联系人",
    "contact_phone": "联系电话",
}
NEW_CODE = "410799S9001"


# -- independent reads ------------------------------------------------------------------


def live_rows(conn, limit: int | None = None) -> gpd.GeoDataFrame:
    sql = (
        "SELECT id, code, name, kind, responsible_unit, contact_name, contact_phone, "
        "ST_AsBinary(geom) AS wkb FROM special_grid WHERE valid_to IS NULL ORDER BY code"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    rows = conn.execute(sa.text(sql)).mappings().all()
    return gpd.GeoDataFrame(
        [{k: r[k] for k in r if k != "wkb"} for r in rows],
        geometry=[shapely.from_wkb(bytes(r["wkb"])) for r in rows],
        crs=4326,
    )


def digest(conn) -> str:
    """Every special-grid version and audit row, byte for byte."""
    rows = conn.execute(
        sa.text(
            "SELECT id, code, name, kind, responsible_unit, contact_name, contact_phone, "
            "encode(ST_AsEWKB(geom), 'hex'), valid_from, valid_to FROM special_grid ORDER BY id"
        )
    ).all()
    audit = conn.execute(sa.text("SELECT count(*), max(id) FROM audit_log")).one()
    return hashlib.sha256(repr((rows, audit)).encode()).hexdigest()


def district(conn):
    wkb = conn.execute(
        sa.text(
            "SELECT ST_AsBinary(ST_Union(geom)) FROM admin_unit_version WHERE level = 'district'"
            " AND valid_from IS NOT NULL AND valid_to IS NULL"
        )
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def metric(geom):
    return gpd.GeoSeries([geom], crs=4326).to_crs(METRIC).iloc[0]


def lonlat(geom):
    return gpd.GeoSeries([geom], crs=METRIC).to_crs(4326).iloc[0]


def square_near(conn, dx_m: float, half_m: float = 40.0) -> MultiPolygon:
    p = metric(district(conn).representative_point())
    return MultiPolygon([lonlat(box(p.x + dx_m - half_m, p.y - half_m, p.x + dx_m + half_m, p.y))])


# -- building the files -----------------------------------------------------------------


def edited_rows(conn) -> gpd.GeoDataFrame:
    """Three live special grids (one kept, one renamed, one reshaped) and a new one."""
    rows = live_rows(conn, limit=3).drop(columns="id").reset_index(drop=True)
    rows.loc[1, "name"] = rows.loc[1, "name"] + "（新校区）"
    shrunk = lonlat(metric(rows.geometry.iloc[2]).buffer(-3.0, join_style="mitre"))
    rows.loc[2, "geometry"] = MultiPolygon([shrunk])
    new = gpd.GeoDataFrame(
        [
            {
                "code": NEW_CODE,
                "name": "测试区实验小学",
                "kind": "school",
                "responsible_unit": "区教育局",
                "contact_name": "王老师",
                "contact_phone": "13800000001",
            }
        ],
        geometry=[square_near(conn, 0.0)],
        crs=4326,
    )
    out = gpd.GeoDataFrame(
        [*rows.to_dict("records"), *new.to_dict("records")], geometry="geometry", crs=4326
    )
    return out


def write_geojson(frame: gpd.GeoDataFrame, path):
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def write_gbk_shapefile(frame: gpd.GeoDataFrame, path):
    """Chinese column names and kind names, GBK, and no .cpg (as desktop GIS leave them)."""
    zh = frame.assign(kind=frame["kind"].map(ZH_KIND)).rename(columns=ZH_COLUMNS)
    zh.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def statuses(report) -> dict[str, str]:
    return {r["code"]: r["status"] for r in report.rows if r["status"] != "kept"}


# -- pure parts -------------------------------------------------------------------------


def test_kind_names_map_to_the_store_kinds():
    table = {
        "学校": "school",
        "医院": "hospital",
        "产业园": "industrial_park",
        "工业园区": "industrial_park",
        "市场": "market",
        "农贸市场": "market",
        "企业": "enterprise",
        "景区": "scenic",
        "高校": "campus",
        "校园": "campus",
        " hospital ": "hospital",
    }
    for raw, kind in table.items():
        assert map_kind(raw) == (kind, True), raw
    assert map_kind("养老院") == ("other", False)
    assert map_kind(None) == ("other", False)


def test_column_detection_and_refusals():
    cols = special_columns(["编码", "名称", "专属网格类型", "主管单位", "负责人", "联系电话", "x"])
    assert cols == {
        "code": "编码",
        "name": "名称",
        "kind": "专属网格类型",
        "responsible_unit": "主管单位",
        "contact_name": "负责人",
        "contact_phone": "联系电话",
    }
    assert special_columns(["代码", "名称", "类别", "负责单位"])["kind"] == "类别"
    with pytest.raises(InvalidInput, match="responsible_unit"):
        special_columns(["编码", "名称", "类型"])
    override = parse_special_column_map("responsible_unit=管理部门")
    assert special_columns(["编码", "名称", "类型", "管理部门"], override)["responsible_unit"] == (
        "管理部门"
    )
    with pytest.raises(InvalidInput, match="parent"):
        parse_special_column_map("parent=上级")


# -- against the database ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["geojson", "gbk_shapefile"])
def test_report_apply_and_reimport(loaded, conn, tmp_path, fmt):
    frame = edited_rows(conn)
    a, b, c = frame["code"].iloc[:3]
    if fmt == "geojson":
        path = write_geojson(frame, tmp_path / "special.geojson")
    else:
        path = write_gbk_shapefile(frame, tmp_path / "special.shp")
        assert not path.with_suffix(".cpg").exists() and detect_encoding(path) == "GBK"
    n_live = len(live_rows(conn))
    before = digest(conn)

    report = import_special_file(conn, path, author="planner")
    assert report.dry_run
    assert statuses(report) == {a: "unchanged", b: "changed", c: "changed", NEW_CODE: "new"}
    changed = {r["code"]: r["changed"] for r in report.rows}
    assert changed[b] == ["name"] and changed[c] == ["geometry"]
    assert report.counts["kept"] == n_live - 3
    assert report.unmapped_kinds == {}
    assert digest(conn) == before  # a dry run writes nothing

    report = import_special_file(conn, path, apply=True, author="planner", reason="年度更新")
    assert not report.dry_run and sorted(report.versions) == sorted([b, c, NEW_CODE])
    hist = {
        code: conn.execute(
            sa.text(
                "SELECT id, name, valid_from, valid_to, author, reason FROM special_grid "
                "WHERE code = :c ORDER BY id"
            ),
            {"c": code},
        ).all()
        for code in (a, b, c, NEW_CODE)
    }
    assert len(hist[a]) == 1 and hist[a][0].valid_to is None  # unchanged: no new version
    for code in (b, c):
        old, new = hist[code]
        assert old.valid_to == new.valid_from and new.valid_to is None
        assert new.author == "planner" and new.reason == "年度更新"
    assert hist[b][1].name == frame["name"].iloc[1]  # the Chinese name, decoded right
    now = live_rows(conn).set_index("code")
    assert shapely.equals_exact(
        shapely.normalize(now.loc[c, "geometry"]),
        shapely.normalize(frame.geometry.iloc[2]),
        1e-9,
    )
    assert now.loc[NEW_CODE, "kind"] == "school" and now.loc[NEW_CODE, "name"] == "测试区实验小学"
    assert now.loc[NEW_CODE, "contact_phone"] == "13800000001"
    assert len(now) == n_live + 1  # nothing else was retired
    audit = conn.execute(
        sa.text(
            "SELECT ref, action, detail->>'source' FROM audit_log WHERE entity = 'special_grid' "
            "AND detail->>'source' = :s ORDER BY ref"
        ),
        {"s": path.name},
    ).all()
    assert [(r[0], r[1]) for r in audit] == sorted(
        [
            (b, "special_grid.update"),
            (c, "special_grid.update"),
            (NEW_CODE, "special_grid.create"),
        ]
    )

    # The same file again changes nothing at all.
    after_apply = digest(conn)
    again = import_special_file(conn, path, apply=True, author="planner", reason="again")
    assert set(statuses(again).values()) == {"unchanged"} and again.versions == {}
    assert digest(conn) == after_apply


def test_a_row_outside_the_district_refuses_the_whole_file(loaded, conn, tmp_path):
    frame = edited_rows(conn)
    d = metric(district(conn))
    far = box(d.bounds[2] + 500, d.bounds[1], d.bounds[2] + 600, d.bounds[1] + 100)
    frame.loc[len(frame)] = {
        **frame.iloc[3].to_dict(),
        "code": "410799S9002",
        "geometry": MultiPolygon([lonlat(far)]),
    }
    assert not district(conn).intersects(frame.geometry.iloc[4])
    path = write_geojson(frame, tmp_path / "special.geojson")
    before = digest(conn)
    for apply in (False, True):
        with pytest.raises(EditRefused) as err:
            import_special_file(conn, path, apply=apply, author="planner", reason="x")
        features = err.value.extra["findings"]["features"]
        assert [(f["properties"]["type"], f["properties"]["codes"]) for f in features] == [
            ("special_outside_district", ["410799S9002"])
        ]
        outside_m2 = metric(frame.geometry.iloc[4]).area
        assert features[0]["properties"]["area_m2"] == pytest.approx(outside_m2, rel=0.01)
        assert digest(conn) == before  # the four good rows were not written either


def test_duplicate_codes_and_missing_values_are_refused(loaded, conn, tmp_path):
    frame = edited_rows(conn)
    frame.loc[len(frame)] = {**frame.iloc[3].to_dict(), "geometry": square_near(conn, 200.0)}
    frame.loc[1, "responsible_unit"] = ""
    path = write_geojson(frame, tmp_path / "special.geojson")
    before = digest(conn)
    with pytest.raises(EditRefused) as err:
        import_special_file(conn, path, apply=True, author="planner", reason="x")
    types = {f["properties"]["type"] for f in err.value.extra["findings"]["features"]}
    assert types == {"duplicate_code"}
    assert err.value.extra["problems"] == [
        f"{frame['code'].iloc[1]}: empty responsible_unit / 责任单位为空"
    ]
    assert digest(conn) == before


def test_retire_missing_closes_the_others(loaded, conn, tmp_path):
    frame = edited_rows(conn)
    path = write_geojson(frame, tmp_path / "special.geojson")
    n_live = len(live_rows(conn))
    report = import_special_file(
        conn, path, apply=True, retire_missing=True, author="planner", reason="全量更新"
    )
    assert report.counts["retired"] == n_live - 3
    assert sorted(live_rows(conn)["code"]) == sorted(frame["code"])
    closed = conn.execute(
        sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'special_grid.delete' "
            "AND detail->>'source' = 'special.geojson'"
        )
    ).scalar_one()
    assert closed == n_live - 3


def test_bad_rings_refuse_unless_make_valid(loaded, conn, tmp_path):
    frame = edited_rows(conn).iloc[[3]].reset_index(drop=True)
    x0, y0, x1, y1 = frame.geometry.iloc[0].bounds
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    assert not bowtie.is_valid
    frame["geometry"] = [bowtie]
    path = write_geojson(frame, tmp_path / "special.geojson")
    before = digest(conn)
    with pytest.raises(EditRefused) as err:
        import_special_file(conn, path, apply=True, author="planner", reason="x")
    assert err.value.extra["findings"]["features"][0]["properties"]["type"] == "invalid_geometry"
    assert digest(conn) == before

    report = import_special_file(
        conn, path, apply=True, make_valid=True, author="planner", reason="修复后导入"
    )
    assert report.repaired == [NEW_CODE] and statuses(report) == {NEW_CODE: "new"}
    stored = live_rows(conn).set_index("code").loc[NEW_CODE, "geometry"]
    assert stored.is_valid and len(stored.geoms) == 2  # the bow-tie's two triangles
    expected = shapely.make_valid(bowtie, method="structure")
    assert metric(stored).area == pytest.approx(metric(expected).area, rel=1e-9)
    written = digest(conn)
    again = import_special_file(
        conn, path, apply=True, make_valid=True, author="planner", reason="again"
    )
    assert statuses(again) == {NEW_CODE: "unchanged"} and digest(conn) == written


def test_export_round_trip_changes_nothing(loaded, conn, tmp_path):
    units = bstore.units_frame(conn)
    special = registers.special_grids_frame(conn)
    gpkg = tmp_path / "live.gpkg"
    export_boundaries(units, gpkg, "gpkg", special=special)
    export_boundaries(units, tmp_path / "shp", "shp", special=special)
    before = digest(conn)
    n_live = len(live_rows(conn))
    for path in (gpkg, tmp_path / "shp" / "special_grid.shp"):
        report = import_special_file(conn, path, apply=True, author="t", reason="round trip")
        assert report.counts["unchanged"] == n_live == len(report.rows), path
        assert report.versions == {}
    assert digest(conn) == before


def test_a_stale_comparison_writes_nothing(loaded, conn):
    row = live_rows(conn, limit=1).iloc[0]
    fields = {f: row[f] for f in ("name", "kind", "responsible_unit")}
    before = digest(conn)
    with pytest.raises(StaleVersion):
        special_edits.save_many(
            conn,
            [{"code": row["code"], "fields": {**fields, "name": "x"}, "geometry": row.geometry}],
            retire=[],
            expected={row["code"]: int(row["id"]) + 1_000_000},
            author="t",
            reason="stale",
        )
    assert digest(conn) == before


def test_cli_dry_run_then_apply(edit_db, tmp_path, monkeypatch):
    settings, engine = edit_db
    monkeypatch.setenv("GRIDMAP_PG_DATABASE", settings.pg_database)
    monkeypatch.setenv("GRIDMAP_PG_PORT", str(settings.local_pg_port()))
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    with engine.connect() as c:
        frame = edited_rows(c).iloc[[3]].reset_index(drop=True)
        frame.loc[0, "code"] = "410799S9101"
        before = digest(c)
    path = write_gbk_shapefile(frame, tmp_path / "cli.shp")
    r = CliRunner().invoke(app, ["import", str(path), "--level", "special"])
    assert r.exit_code == 0, r.output
    assert "410799S9101" in r.output and "dry run" in r.output
    with engine.connect() as c:
        assert digest(c) == before
    r = CliRunner().invoke(
        app, ["import", str(path), "--level", "special", "--apply", "--reason", "新学校"]
    )
    assert r.exit_code == 0, r.output
    with engine.connect() as c:
        now = live_rows(c).set_index("code")
    assert now.loc["410799S9101", "name"] == "测试区实验小学"
    assert now.loc["410799S9101", "kind"] == "school"
