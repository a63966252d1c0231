"""POST /v1/boundary-sets/{id}/fixes, make_valid on upload, and POST
/v1/special-grids/import over HTTP (in-process, real PostGIS). Results are checked with
raw SQL and shapely in a metric CRS, not with the service's own answers."""

from __future__ import annotations

import hashlib
import io
import zipfile

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient
from shapely.geometry import MultiPolygon, Polygon, box

from geo.store import boundaries as bstore

METRIC = 4547
DEG_PER_M = 1 / 111_000
PROBLEM = "application/problem+json"


def area(geom) -> float:
    return gpd.GeoSeries([geom], crs=4326).to_crs(METRIC).iloc[0].area


def draft_geoms(engine, set_id: int) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT code, ST_AsBinary(geom) FROM admin_unit_version WHERE boundary_set_id = :s"
            ),
            {"s": set_id},
        ).all()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def special_digest(engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, code, name, encode(ST_AsEWKB(geom), 'hex'), valid_to "
                "FROM special_grid ORDER BY id"
            )
        ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def live_grids(engine) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        live = bstore.units_frame(conn, levels=("grid",))
    return live[["code", "name", "parent_code", "geometry"]].copy().reset_index(drop=True)


def neighbours(grids: gpd.GeoDataFrame) -> tuple[str, str]:
    """Two grids of one community sharing a border longer than 100 m."""
    metric = grids.to_crs(METRIC)
    for community in sorted(set(grids["parent_code"])):
        kids = metric[metric["parent_code"] == community].set_index("code").geometry
        for a in sorted(kids.index):
            for b in sorted(kids.index):
                if (
                    a < b
                    and kids[a].boundary.intersection(kids[b].boundary.buffer(0.01)).length > 100
                ):
                    return a, b
    raise AssertionError("no neighbours")


def multipolygon(g) -> MultiPolygon:
    g = shapely.make_valid(g)
    return MultiPolygon([p for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon)])


def upload(client, frame, tmp_path, name, **data):
    path = tmp_path / name
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    return client.post(
        "/v1/boundary-sets",
        files={"file": (name, path.read_bytes())},
        data={"level": "grid", "author": "planner 张", **data},
    )


@pytest.fixture(scope="module")
def overlap_draft(client, db_engine, tmp_path_factory):
    """A draft uploaded through the API with grid a pushed 15 m into grid b."""
    grids = live_grids(db_engine)
    a, b = neighbours(grids)
    ga, gb = (grids.loc[grids["code"] == x, "geometry"].iloc[0] for x in (a, b))
    grown = multipolygon(ga.union(gb.intersection(ga.buffer(15 * DEG_PER_M))))
    grids.loc[grids["code"] == a, "geometry"] = grown
    grids.loc[grids["code"] == a, "name"] = "修复接口测试"  # content of its own: a new draft
    r = upload(client, grids, tmp_path_factory.mktemp("fixes"), "overlap.geojson")
    assert r.status_code == 201, r.text
    return r.json()["boundary_set"]["id"], a, b, area(shapely.union_all([grown, gb]))


def test_split_overlap_through_the_api(client, db_engine, overlap_draft):
    set_id, a, b, union_before = overlap_draft
    before = draft_geoms(db_engine, set_id)
    assert area(before[a].intersection(before[b])) > 500
    r = client.post(
        f"/v1/boundary-sets/{set_id}/fixes",
        json={"fix": "split_overlap", "codes": [a, b], "author": "planner 张"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) >= {"changed", "before", "after", "findings", "fix"}
    assert sorted(body["changed"]) == sorted([a, b])
    assert body["before"]["by_type"]["overlap"] > body["after"]["by_type"].get("overlap", 0)
    after = draft_geoms(db_engine, set_id)
    assert area(after[a].intersection(after[b])) <= 1.0
    assert area(after[a].union(after[b])) == pytest.approx(union_before, abs=1.0)
    others = [c for c in before if c not in (a, b)]
    assert all(before[c].equals_exact(after[c], 0) for c in others)
    # The findings endpoint agrees with the fix's own "after".
    f = client.get(f"/v1/boundary-sets/{set_id}/findings").json()
    assert f["counts"]["error"] == body["after"]["error"]


def test_fixes_refused(client, db_engine, overlap_draft):
    set_id, a, b, _ = overlap_draft
    with db_engine.connect() as conn:
        active = conn.execute(
            sa.text("SELECT id FROM boundary_set WHERE status = 'active' ORDER BY id LIMIT 1")
        ).scalar_one()
    before = draft_geoms(db_engine, active)
    r = client.post(
        f"/v1/boundary-sets/{active}/fixes", json={"fix": "split_overlap", "codes": [a, b]}
    )
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert r.json()["detail_zh"] and "draft" in r.json()["detail"]
    after = draft_geoms(db_engine, active)
    assert after.keys() == before.keys()
    assert all(before[c].equals_exact(g, 0) for c, g in after.items())
    url = f"/v1/boundary-sets/{set_id}/fixes"
    assert client.post(url, json={"fix": "smooth", "codes": [a]}).status_code == 422
    assert client.post(url, json={"fix": "assign_gap", "codes": []}).status_code == 422
    r = client.post(url, json={"fix": "snap_to_parent", "codes": [a], "tolerance_m": 0})
    assert r.status_code == 422
    r = client.post(url, json={"fix": "split_overlap", "codes": [a, "410799999999999"]})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    r = client.post("/v1/boundary-sets/999999/fixes", json={"fix": "assign_gap", "codes": [a]})
    assert r.status_code == 404


def test_make_valid_form_field(client, db_engine, tmp_path):
    grids = live_grids(db_engine)
    x0, y0, x1, y1 = grids.geometry.iloc[3].bounds
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    grids.loc[3, "geometry"] = MultiPolygon([bowtie])
    grids.loc[3, "name"] = "蝴蝶结网格"
    code = grids["code"].iloc[3]
    r = upload(client, grids, tmp_path, "bowtie.geojson")
    assert r.status_code == 422 and code in r.json()["detail"]
    r = upload(client, grids, tmp_path, "bowtie.geojson", make_valid="true")
    assert r.status_code == 201, r.text
    assert r.json()["repaired"] == [code]
    stored = draft_geoms(db_engine, r.json()["boundary_set"]["id"])[code]
    expected = shapely.make_valid(bowtie, method="structure")
    assert stored.is_valid and area(stored) == pytest.approx(area(expected), rel=1e-9)


# -- special grids ----------------------------------------------------------------------


def live_specials(engine, limit=None) -> gpd.GeoDataFrame:
    sql = (
        "SELECT code, name, kind, responsible_unit, contact_name, contact_phone, "
        "ST_AsBinary(geom) AS wkb FROM special_grid WHERE valid_to IS NULL ORDER BY code"
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql + (f" LIMIT {int(limit)}" if limit else ""))).mappings()
        rows = rows.all()
    return gpd.GeoDataFrame(
        [{k: r[k] for k in r if k != "wkb"} for r in rows],
        geometry=[shapely.from_wkb(bytes(r["wkb"])) for r in rows],
        crs=4326,
    )


def new_special(engine, code: str, dx_m: float, dy_m: float = 0.0) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        wkb = conn.execute(
            sa.text(
                "SELECT ST_AsBinary(ST_PointOnSurface(ST_Union(geom))) FROM admin_unit_version "
                "WHERE level = 'district' AND valid_from IS NOT NULL AND valid_to IS NULL"
            )
        ).scalar_one()
    p = gpd.GeoSeries([shapely.from_wkb(bytes(wkb))], crs=4326).to_crs(METRIC).iloc[0]
    sq = box(p.x + dx_m - 30, p.y + dy_m - 30, p.x + dx_m + 30, p.y + dy_m + 30)
    return gpd.GeoDataFrame(
        [
            {
                "编码": code,
                "名称": "接口测试医院",
                "类型": "医院",
                "负责单位": "区卫健委",
                "联系人": "李医生",
                "联系电话": "13900000002",
            }
        ],
        geometry=[MultiPolygon([gpd.GeoSeries([sq], crs=METRIC).to_crs(4326).iloc[0]])],
        crs=4326,
    )


def gbk_zip(frame: gpd.GeoDataFrame, folder) -> bytes:
    folder.mkdir(exist_ok=True)
    frame.to_file(folder / "special.shp", driver="ESRI Shapefile", engine="pyogrio", encoding="GBK")
    (folder / "special.cpg").unlink(missing_ok=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in folder.iterdir():
            z.write(p, p.name)
    return buf.getvalue()


def test_special_import_dry_run_on_the_shared_db(client, db_engine, tmp_path):
    live = live_specials(db_engine, limit=2)
    changed = live.iloc[[1]].copy()
    changed["name"] = changed["name"] + "分院"
    zh = changed.rename(
        columns={
            "code": "编码",
            "name": "名称",
            "kind": "类型",
            "responsible_unit": "负责单位",
            "contact_name": "联系人",
            "contact_phone": "联系电话",
        }
    )
    frame = gpd.GeoDataFrame(
        [*zh.to_dict("records"), *new_special(db_engine, "410799S9201", 0).to_dict("records")],
        geometry="geometry",
        crs=4326,
    )
    before = special_digest(db_engine)
    r = client.post(
        "/v1/special-grids/import",
        files={"file": ("special.zip", gbk_zip(frame, tmp_path / "shp"))},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dry_run"] is True and body["versions"] == {}
    status = {s["code"]: s for s in body["special_grids"]}
    assert status[live["code"].iloc[1]]["status"] == "changed"
    assert status[live["code"].iloc[1]]["changed"] == ["name"]
    assert status["410799S9201"]["status"] == "new"
    with db_engine.connect() as conn:
        n_live = conn.execute(
            sa.text("SELECT count(*) FROM special_grid WHERE valid_to IS NULL")
        ).scalar_one()
    assert body["counts"] == {
        "new": 1,
        "changed": 1,
        "unchanged": 0,
        "retired": 0,
        "kept": n_live - 1,
    }
    assert special_digest(db_engine) == before
    bad = client.post(
        "/v1/special-grids/import",
        files={"file": ("special.zip", gbk_zip(frame, tmp_path / "shp2"))},
        data={"map": "parent=上级"},
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


@pytest.fixture(scope="module")
def edit_client(edit_db):
    from api.app import create_app

    settings, _engine = edit_db
    with TestClient(create_app(settings)) as c:
        yield c


def test_special_import_apply_reimport_and_refusal(edit_client, edit_db, tmp_path):
    _settings, engine = edit_db
    frame = new_special(engine, "410799S9301", 100)
    path = tmp_path / "special.geojson"
    frame.to_file(path, driver="GeoJSON", engine="pyogrio")
    before = special_digest(engine)
    r = edit_client.post(
        "/v1/special-grids/import",
        files={"file": ("special.geojson", path.read_bytes())},
        data={"dry_run": "false", "reason": "新建医院", "author": "planner 李"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["dry_run"] is False and list(r.json()["versions"]) == ["410799S9301"]
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.text(
                    "SELECT id, name, kind, responsible_unit, author, reason, "
                    "ST_AsBinary(geom) AS wkb FROM special_grid WHERE code = '410799S9301'"
                )
            )
            .mappings()
            .one()
        )
    assert (row["name"], row["kind"], row["responsible_unit"]) == (
        "接口测试医院",
        "hospital",
        "区卫健委",
    )
    assert (row["author"], row["reason"]) == ("planner 李", "新建医院")
    assert shapely.equals_exact(
        shapely.normalize(shapely.from_wkb(bytes(row["wkb"]))),
        shapely.normalize(frame.geometry.iloc[0]),
        1e-9,
    )
    assert r.json()["versions"]["410799S9301"] == row["id"]

    # The same file again: nothing changes.
    written = special_digest(engine)
    assert written != before
    r = edit_client.post(
        "/v1/special-grids/import",
        files={"file": ("special.geojson", path.read_bytes())},
        data={"dry_run": "false", "reason": "again"},
    )
    assert r.status_code == 200 and r.json()["counts"]["unchanged"] == 1
    assert special_digest(engine) == written

    # One row outside the district refuses the whole file.
    outside = new_special(engine, "410799S9302", 100_000)
    both = gpd.GeoDataFrame(
        [*new_special(engine, "410799S9303", -100).to_dict("records"), *outside.to_dict("records")],
        geometry="geometry",
        crs=4326,
    )
    path = tmp_path / "bad.geojson"
    both.to_file(path, driver="GeoJSON", engine="pyogrio")
    r = edit_client.post(
        "/v1/special-grids/import",
        files={"file": ("bad.geojson", path.read_bytes())},
        data={"dry_run": "false", "reason": "x"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    features = r.json()["findings"]["features"]
    assert [(f["properties"]["type"], f["properties"]["codes"]) for f in features] == [
        ("special_outside_district", ["410799S9302"])
    ]
    assert special_digest(engine) == written
