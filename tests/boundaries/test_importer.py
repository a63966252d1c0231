"""Importing boundary files: Chinese columns, CRS on entry, refusals that change nothing."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import Polygon, box

from geo import crs
from geo.errors import InvalidInput
from geo.services.boundaries import import_units
from geo.store import boundaries as bstore
from geo.units.frames import checksum_units

from boundaries.importer import normalise_units, read_boundary_file


def _file(tmp_path, gdf, name="units.geojson"):
    path = tmp_path / name
    gdf.to_file(path, engine="pyogrio")
    return path


def _district(code="419999"):
    return gpd.GeoDataFrame(
        {"行政区划代码": [code], "区划名称": ["测试区"]},
        geometry=[box(113.0, 35.0, 113.01, 35.01)],
        crs=4326,
    )


def test_chinese_columns_are_detected(tmp_path):
    units = normalise_units(read_boundary_file(_file(tmp_path, _district())), level="district")
    assert units.loc[0, "code"] == "419999" and units.loc[0, "name"] == "测试区"
    assert units.geometry.iloc[0].geom_type == "MultiPolygon"


def test_gcj02_input_is_shifted_to_wgs84(tmp_path):
    wgs = box(113.9, 35.3, 113.91, 35.31)
    # Write the same square as a phone map would give it (GCJ-02).
    gcj = shapely.transform(wgs, lambda c: np.column_stack(crs.wgs84_to_gcj02(c[:, 0], c[:, 1])))
    raw = gpd.GeoDataFrame({"code": ["419999"], "name": ["x"]}, geometry=[gcj], crs=4326)
    units = normalise_units(read_boundary_file(_file(tmp_path, raw)), level="district", crs="gcj02")
    back = units.geometry.iloc[0]
    assert shapely.hausdorff_distance(back, shapely.MultiPolygon([wgs])) < 1e-8
    # Without the shift it would be ~500 m (~0.005°) off.
    assert shapely.hausdorff_distance(gcj, wgs) > 0.004


def test_projected_cgcs2000_input_is_reprojected(tmp_path):
    raw = _district().to_crs(4547)  # CGCS2000 3-degree GK, CM 114°E (northing first)
    units = normalise_units(read_boundary_file(_file(tmp_path, raw, "gk.gpkg")), level="district")
    assert shapely.hausdorff_distance(units.geometry.iloc[0], _district().geometry.iloc[0]) < 1e-7


def test_invalid_geometry_is_refused_and_nothing_is_written(tmp_path, conn):
    bowtie = Polygon([(113, 35), (113.01, 35.01), (113.01, 35), (113, 35.01), (113, 35)])
    raw = gpd.GeoDataFrame({"code": ["419999"], "name": ["坏"]}, geometry=[bowtie], crs=4326)
    before = conn.execute(sa.text("SELECT count(*) FROM boundary_set")).scalar()
    with pytest.raises(InvalidInput) as err:
        normalise_units(read_boundary_file(_file(tmp_path, raw)), level="district")
    assert "419999" in err.value.message and "419999" in err.value.message_zh
    # The refusal carries the topology findings, with where the problem is.
    invalid = [f for f in err.value.extra["findings"] if f["type"] == "invalid_geometry"]
    assert invalid and invalid[0]["codes"] == ["419999"]
    assert conn.execute(sa.text("SELECT count(*) FROM boundary_set")).scalar() == before


def test_missing_columns_and_levels_explain_the_fix(tmp_path):
    raw = gpd.GeoDataFrame({"foo": ["1"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(InvalidInput, match="--map code="):
        normalise_units(read_boundary_file(_file(tmp_path, raw)), level="grid")
    with pytest.raises(InvalidInput, match="--level"):
        normalise_units(read_boundary_file(_file(tmp_path, _district())))
    with pytest.raises(InvalidInput, match="not found"):
        read_boundary_file(tmp_path / "nope.geojson")


def test_unknown_parent_rolls_back_the_whole_import(tmp_path, db_engine):
    raw = gpd.GeoDataFrame(
        {"code": ["419999001"], "name": ["孤儿街道"], "parent_code": ["418888"]},
        geometry=[box(113.0, 35.0, 113.01, 35.01)],
        crs=4326,
    )
    units = normalise_units(read_boundary_file(_file(tmp_path, raw)), level="street")
    with db_engine.connect() as c:
        before = c.execute(sa.text("SELECT count(*) FROM admin_unit")).scalar()
    with pytest.raises(InvalidInput, match="418888"), db_engine.begin() as c:
        import_units(c, units, name="t", author="test")
    with db_engine.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM admin_unit")).scalar() == before
        assert c.execute(sa.text("SELECT count(*) FROM boundary_set WHERE name='t'")).scalar() == 0


def test_draft_is_not_live_until_activated(tmp_path, conn):
    units = normalise_units(
        read_boundary_file(_file(tmp_path, _district("419998"))), level="district"
    )
    result = import_units(conn, units, name="draft test", author="test")
    assert bstore.set_status(conn, result.boundary_set_id) == "draft"
    live_codes = set(bstore.units_frame(conn, levels=("district",))["code"])
    assert "419998" not in live_codes
    draft = bstore.units_frame(conn, boundary_set_id=result.boundary_set_id)
    assert draft["code"].tolist() == ["419998"]
    # Same content again: no second set.
    again = import_units(conn, units, name="draft test", author="test")
    assert again.reused and again.boundary_set_id == result.boundary_set_id
    assert again.checksum == checksum_units(units)


def _gbk_shapefile(tmp_path):
    raw = gpd.GeoDataFrame(
        {"网格编码": ["419997"], "网格名称": ["幸福里社区"]},
        geometry=[box(113.0, 35.0, 113.01, 35.01)],
        crs=4326,
    ).to_crs(4547)
    path = tmp_path / "gbk.shp"
    raw.to_file(path, engine="pyogrio", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # as bureaus send them
    assert "幸福里社区".encode("gbk") in path.with_suffix(".dbf").read_bytes()
    return path


def test_gbk_shapefile_without_cpg_reaches_the_db_decoded(tmp_path, conn):
    from boundaries import sets

    result = sets.import_file(conn, _gbk_shapefile(tmp_path), level="district", author="t")
    names = (
        conn.execute(
            sa.text("SELECT name FROM admin_unit_version WHERE boundary_set_id = :s"),
            {"s": result.boundary_set_id},
        )
        .scalars()
        .all()
    )
    assert names == ["幸福里社区"]


def test_wrong_encoding_is_refused_naming_the_option(tmp_path, conn):
    from boundaries import sets

    before = conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar()
    with pytest.raises(InvalidInput, match="--encoding") as err:
        sets.import_file(
            conn, _gbk_shapefile(tmp_path), level="district", encoding="latin1", author="t"
        )
    assert "--encoding" in err.value.message_zh
    assert conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar() == before
