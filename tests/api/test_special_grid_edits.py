"""Special grids drawn, changed and closed through the API: inside the district only,
If-Match, history kept, audit, and the geocoder sees the change at once."""

from __future__ import annotations

import geopandas as gpd
import httpx
import shapely
import sqlalchemy as sa
from shapely.geometry import box, mapping

METRIC = 4547


def district(conn):
    wkb = conn.execute(
        sa.text(
            "SELECT ST_AsBinary(ST_Union(geom)) FROM admin_unit_version WHERE level = 'district'"
            " AND valid_from IS NOT NULL AND valid_to IS NULL"
        )
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def square_at(lon, lat, half_m):
    c = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(METRIC).iloc[0]
    sq = box(c.x - half_m, c.y - half_m, c.x + half_m, c.y + half_m)
    return gpd.GeoSeries([sq], crs=METRIC).to_crs(4326).iloc[0]


def rows(conn, code):
    return conn.execute(
        sa.text("SELECT id, name, valid_to FROM special_grid WHERE code = :c ORDER BY id"),
        {"c": code},
    ).all()


def test_special_grid_life_cycle(edit_server, edit_db):
    _settings, engine = edit_db
    http = httpx.Client(base_url=edit_server, timeout=60)
    with engine.connect() as conn:
        d = district(conn)
    inside = d.representative_point()
    shape_in = square_at(inside.x, inside.y, 60)
    assert d.contains(shape_in)
    body = {
        "code": "SP-TEST-001",
        "name": "测试学校",
        "kind": "school",
        "responsible_unit": "测试学校保卫处",
        "geometry": mapping(shape_in),
        "reason": "新建学校",
    }
    r = http.post("/v1/special-grids", json=body)
    assert r.status_code == 201, r.text
    tag = r.headers["etag"]
    with engine.connect() as conn:
        (row,) = rows(conn, "SP-TEST-001")
        assert f'"{row.id}"' == tag and row.valid_to is None
    # The running geocoder knows it at once (its version token covers special grids).
    rev = http.get(
        "/v1/geocode/reverse", params={"lon": inside.x, "lat": inside.y, "crs": "wgs84"}
    ).json()
    assert "SP-TEST-001" in [s["code"] for s in rev["special_grids"]]

    # Stale ETag: 412, nothing changes.
    r = http.put(
        "/v1/special-grids/SP-TEST-001",
        json={"name": "改名", "reason": "x"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 412
    r = http.put(
        "/v1/special-grids/SP-TEST-001",
        json={"name": "测试中学", "reason": "更名"},
        headers={"If-Match": tag},
    )
    assert r.status_code == 200, r.text
    with engine.connect() as conn:
        old, new = rows(conn, "SP-TEST-001")
        assert old.valid_to is not None and new.valid_to is None and new.name == "测试中学"
    r = http.delete(
        "/v1/special-grids/SP-TEST-001",
        params={"reason": "学校撤并"},
        headers={"If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200
    assert http.get("/v1/special-grids/SP-TEST-001").status_code == 404
    audit = http.get("/v1/audit", params={"entity": "special_grid", "ref": "SP-TEST-001"})
    assert [e["action"] for e in audit.json()["entries"]] == [
        "special_grid.delete",
        "special_grid.update",
        "special_grid.create",
    ]


def test_special_grid_outside_the_district_is_refused(edit_server, edit_db):
    _settings, engine = edit_db
    with engine.connect() as conn:
        d = district(conn)
        before = conn.execute(sa.text("SELECT count(*) FROM special_grid")).scalar_one()
    x0, _y0, _x1, y1 = d.bounds
    straddling = square_at(x0, y1, 400)  # a corner of the district's bounding box
    outside_m2 = gpd.GeoSeries([straddling.difference(d)], crs=4326).to_crs(METRIC).area.iloc[0]
    assert outside_m2 > 1000
    r = httpx.post(
        f"{edit_server}/v1/special-grids",
        json={
            "code": "SP-TEST-OUT",
            "name": "界外",
            "kind": "market",
            "responsible_unit": "x",
            "geometry": mapping(straddling),
            "reason": "test",
        },
        timeout=60,
    )
    assert r.status_code == 422
    (f,) = [
        f
        for f in r.json()["findings"]["features"]
        if f["properties"]["type"] == "special_outside_district"
    ]
    assert abs(f["properties"]["area_m2"] - outside_m2) < max(5.0, outside_m2 * 0.01)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM special_grid")).scalar_one() == before
