"""Reverse geocoding as of a date, and special grids in the answer."""

from datetime import UTC, datetime, timedelta

import shapely

from geo.store import boundaries as bstore


def _publish_grids(client, db_engine, tmp_path, rename: dict[str, str]) -> None:
    with db_engine.connect() as conn:
        live = bstore.units_frame(conn, levels=("grid",))
    grids = live[["code", "name", "parent_code", "geometry"]].copy()
    for code, name in rename.items():
        grids.loc[grids["code"] == code, "name"] = name
    path = tmp_path / "grids.geojson"
    grids.to_file(path, engine="pyogrio")
    up = client.post(
        "/v1/boundary-sets",
        files={"file": ("grids.geojson", path.read_bytes())},
        data={"level": "grid", "author": "test"},
    )
    assert up.status_code == 201, up.text
    set_id = up.json()["boundary_set"]["id"]
    pub = client.post(
        f"/v1/boundary-sets/{set_id}/publish", json={"author": "test", "reason": "history test"}
    )
    assert pub.status_code == 200, pub.text
    assert pub.json()["counts"]["changed"] == len(rename)


def test_at_answers_from_history(client, sample, db_engine, tmp_path):
    g = sample.grids.iloc[300]
    p = g.geometry.representative_point()
    params = {"lon": p.x, "lat": p.y}
    before = datetime.now(UTC)
    old_name = client.get("/v1/geocode/reverse", params=params).json()["grid"]["name"]
    _publish_grids(client, db_engine, tmp_path, {g["code"]: "历史测试网格"})
    try:
        now = client.get("/v1/geocode/reverse", params=params).json()
        assert now["grid"]["name"] == "历史测试网格"
        then = client.get("/v1/geocode/reverse", params={**params, "at": before.isoformat()})
        assert then.status_code == 200
        assert then.json()["grid"]["name"] == old_name
        assert then.json()["grid"]["code"] == g["code"] and then.json()["at"]
        long_ago = client.get(
            "/v1/geocode/reverse", params={**params, "at": "2001-01-01T00:00:00+08:00"}
        )
        assert long_ago.status_code == 404 and long_ago.json()["detail_zh"]
        naive = client.get("/v1/geocode/reverse", params={**params, "at": "2026-10-01T00:00:00"})
        assert naive.status_code == 422
    finally:
        _publish_grids(client, db_engine, tmp_path, {g["code"]: old_name})
    restored = client.get("/v1/geocode/reverse", params=params).json()["grid"]["name"]
    assert restored == old_name
    assert datetime.now(UTC) - before < timedelta(minutes=5)


def test_special_grids_in_the_answer(client, sample):
    sg = sample.special_grids.iloc[0]
    p = sg.geometry.representative_point()
    body = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}).json()
    want = sorted(sample.special_grids[sample.special_grids.geometry.covers(p)]["code"].tolist())
    assert [s["code"] for s in body["special_grids"]] == want
    assert sg["code"] in want
    assert shapely.Point(p.x, p.y).within(sg.geometry) or sg.geometry.covers(p)


def test_answer_in_any_crs_and_responsible_by_category(client, sample):
    from geo import crs

    schools = sample.special_grids[sample.special_grids["kind"] == "school"]
    p = schools.geometry.iloc[1].representative_point()
    params = {"lon": p.x, "lat": p.y}
    for name in ("gcj02", "bd09"):
        body = client.get("/v1/geocode/reverse", params={**params, "out_crs": name}).json()
        x, y = (float(v) for v in crs.from_wgs84(p.x, p.y, name))
        assert body["location"]["crs"] == name
        assert abs(body["location"]["lon"] - x) < 1e-9 and abs(body["location"]["lat"] - y) < 1e-9
    covering = sample.special_grids[
        sample.special_grids.geometry.covers(p)
        & sample.special_grids["kind"].isin(["school", "campus"])
    ].sort_values("code")
    campus = client.get("/v1/geocode/reverse", params={**params, "category": "campus_safety"})
    assert campus.json()["responsible"]["code"] == covering["code"].iloc[0]
    road = client.get("/v1/geocode/reverse", params={**params, "category": "road_facility"})
    assert road.json()["responsible"]["kind"] == "grid"
    assert road.json()["responsible"]["code"] == road.json()["grid"]["code"]
    assert client.get("/v1/geocode/reverse", params=params).json()["responsible"] is None
    bad = client.get("/v1/geocode/reverse", params={**params, "category": "nope"})
    assert bad.status_code == 422
