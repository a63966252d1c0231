"""/v1/boundary-sets and /v1/boundaries/export over HTTP (in-process, real PostGIS)."""

import io
import json
import zipfile

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa

from geo.store import boundaries as bstore

LIVE_COUNT = (
    "SELECT count(*) FROM admin_unit_version WHERE valid_to IS NULL AND valid_from IS NOT NULL"
)


def _grid_file(db_engine, tmp_path, mutate=None) -> bytes:
    with db_engine.connect() as conn:
        live = bstore.units_frame(conn)
    grids = live[live["level"] == "grid"][["code", "name", "parent_code", "geometry"]].copy()
    if mutate:
        grids = mutate(grids)
    path = tmp_path / "grids.geojson"
    grids.to_file(path, engine="pyogrio")
    return path.read_bytes()


def _count(db_engine, sql):
    with db_engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_upload_creates_a_draft_and_reports_findings(client, db_engine, tmp_path):
    def overlap(g):
        g = g.reset_index(drop=True)
        g.loc[0, "name"] = "上传测试"
        g.loc[0, "geometry"] = shapely.MultiPolygon([g.geometry.iloc[0].buffer(0.0003)])
        return g

    live_before = _count(
        db_engine,
        LIVE_COUNT,
    )
    r = client.post(
        "/v1/boundary-sets",
        files={"file": ("grids.geojson", _grid_file(db_engine, tmp_path, overlap))},
        data={"level": "grid", "author": "planner 张"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    set_id = body["boundary_set"]["id"]
    assert body["boundary_set"]["status"] == "draft" and body["boundary_set"]["units"] == 611
    assert body["findings"]["error"] > 0
    # Nothing live changed.
    assert (
        _count(
            db_engine,
            LIVE_COUNT,
        )
        == live_before
    )

    f = client.get(f"/v1/boundary-sets/{set_id}/findings").json()
    assert f["counts"]["error"] == body["findings"]["error"]
    gj = client.get(f"/v1/boundary-sets/{set_id}/findings", params={"format": "geojson"})
    assert gj.headers["content-type"] == "application/geo+json"
    assert len(gj.json()["features"]) == len(f["findings"])

    # Publishing is refused with problem+json; the set stays a draft.
    p = client.post(f"/v1/boundary-sets/{set_id}/publish", json={"author": "planner 张"})
    assert p.status_code == 422
    assert p.headers["content-type"] == "application/problem+json"
    assert p.json()["findings"] and p.json()["detail_zh"]
    assert client.get(f"/v1/boundary-sets/{set_id}").json()["status"] == "draft"
    assert any(s["id"] == set_id for s in client.get("/v1/boundary-sets").json())


def test_bad_uploads_get_clear_errors(client):
    r = client.post(
        "/v1/boundary-sets", files={"file": ("x.geojson", b"{not json")}, data={"level": "grid"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../etc/passwd.shp", b"x")
    r = client.post("/v1/boundary-sets", files={"file": ("evil.zip", evil.getvalue())})
    assert r.status_code == 422 and "unsafe path" in r.json()["detail"]
    r = client.post("/v1/boundary-sets", files={"file": ("g.geojson", b"{}")}, data={"map": "code"})
    assert r.status_code == 422 and "--map" in r.json()["detail"]
    assert client.get("/v1/boundary-sets/999999").status_code == 404
    assert client.post("/v1/boundary-sets/999999/publish", json={"author": "x"}).status_code == 404


def test_exports(client, sample, tmp_path):
    r = client.get("/v1/boundaries/export", params={"format": "gpkg"})
    assert r.status_code == 200
    path = tmp_path / "out.gpkg"
    path.write_bytes(r.content)
    grids = gpd.read_file(path, layer="grid")
    assert sorted(grids["code"]) == sorted(sample.grids["code"])
    special = gpd.read_file(path, layer="special_grid")
    assert len(special) == len(sample.special_grids)

    r = client.get("/v1/boundaries/export", params={"format": "shp"})
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = set(z.namelist())
    assert {"grid.shp", "grid.dbf", "grid.cpg", "grid.prj"} <= names
    assert z.read("grid.cpg").strip().upper() in (b"UTF-8", b"UTF8")

    r = client.get("/v1/boundaries/export", params={"format": "csv"})
    table = pd.read_csv(io.BytesIO(r.content), encoding="utf-8-sig", dtype=str)
    assert set(table["level"]) >= {"district", "street", "community", "grid"}
    assert not table.drop(columns=["wkt"]).apply(lambda c: c.str.match(r"^[=+\-@]")).any().any()

    gj = client.get("/v1/boundaries/export", params={"format": "geojson", "crs": "gcj02"}).json()
    d = next(f for f in gj["features"] if f["properties"]["level"] == "district")
    x0 = d["geometry"]["coordinates"][0][0][0][0]
    wx0 = sample.district.geometry.iloc[0].geoms[0].exterior.coords[0][0]
    assert 0.003 < abs(x0 - wx0) < 0.01  # shifted ~500 m east-ish, as GCJ-02 is

    old = client.get(
        "/v1/boundaries/export", params={"format": "csv", "as_of": "2000-01-01T00:00:00"}
    )
    assert old.status_code == 422
    assert json.loads(old.text)["detail_zh"]


def test_shapefile_export_reimports_with_parents(client, tmp_path, db_engine):
    r = client.get("/v1/boundaries/export", params={"format": "shp"})
    folder = tmp_path / "shp"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(folder)
    from boundaries.importer import normalise_units, read_boundary_file

    units = normalise_units(read_boundary_file(folder / "grid.shp"), level="grid")
    with db_engine.connect() as conn:
        live = bstore.units_frame(conn, levels=("grid",)).set_index("code")
    assert units["parent_code"].tolist() == live.loc[units["code"], "parent_code"].tolist()
    assert units["name"].tolist() == live.loc[units["code"], "name"].tolist()
