"""The edit API over HTTP: ETags and If-Match, dry runs, refusals, history, diff, audit,
revert. Committing tests run against the separate edits database (edit_server)."""

from __future__ import annotations

import geopandas as gpd
import httpx
import shapely
import sqlalchemy as sa
from shapely.geometry import mapping, shape

from geo.crs import wgs84_to_gcj02

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"
METRIC = 4547


def metric(geom):
    return gpd.GeoSeries([geom], crs=4326).to_crs(METRIC).iloc[0]


def lonlat(geom_m):
    return gpd.GeoSeries([geom_m], crs=METRIC).to_crs(4326).iloc[0]


def live_version(conn, code):
    return conn.execute(
        sa.text(f"SELECT id FROM admin_unit_version WHERE code = :c AND {LIVE}"), {"c": code}
    ).scalar_one()


def live_geometry(conn, code):
    wkb = conn.execute(
        sa.text(f"SELECT ST_AsBinary(geom) FROM admin_unit_version WHERE code = :c AND {LIVE}"),
        {"c": code},
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def adjacent_pair(conn, offset=0):
    return conn.execute(
        sa.text(
            "SELECT a.code, b.code FROM admin_unit_version a JOIN admin_unit_version b"
            " ON a.level = 'grid' AND b.level = 'grid' AND a.code < b.code"
            " AND a.parent_unit_id = b.parent_unit_id AND ST_Intersects(a.geom, b.geom)"
            " WHERE a.valid_from IS NOT NULL AND a.valid_to IS NULL"
            " AND b.valid_from IS NOT NULL AND b.valid_to IS NULL"
            " AND ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))::geography)"
            " > 80 ORDER BY a.code OFFSET :o LIMIT 1"
        ),
        {"o": offset},
    ).one()


def version_count(conn):
    return conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar_one()


def test_grid_feature_carries_its_version_as_etag(client, db_engine):
    with db_engine.connect() as conn:
        a, _ = adjacent_pair(conn)
        vid, geom = live_version(conn, a), live_geometry(conn, a)
    r = client.get(f"/v1/grids/{a}")
    assert r.status_code == 200
    assert r.headers["etag"] == f'"{vid}"'
    assert shape(r.json()["geometry"]).equals_exact(geom, 1e-12)
    r = client.get(f"/v1/grids/{a}", params={"crs": "gcj02"})
    x, y = shapely.get_coordinates(shape(r.json()["geometry"]))[0]
    gx, gy = wgs84_to_gcj02(*shapely.get_coordinates(geom)[0])
    assert abs(x - gx) < 1e-9 and abs(y - gy) < 1e-9


def test_edit_without_if_match_is_428_and_changes_nothing(client, db_engine):
    with db_engine.connect() as conn:
        a, _ = adjacent_pair(conn)
        geom, count = live_geometry(conn, a), version_count(conn)
    body = {"geometry": mapping(geom), "reason": "try"}
    r = client.post(f"/v1/grids/{a}/reshape", json=body)
    assert r.status_code == 428
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "If-Match" in r.json()["detail"]
    with db_engine.connect() as conn:
        assert version_count(conn) == count


def test_dry_run_merge_reports_workload_and_writes_nothing(client, db_engine):
    with db_engine.connect() as conn:
        a, b = adjacent_pair(conn, 1)
        tags = f'"{live_version(conn, a)}", "{live_version(conn, b)}"'
        count = version_count(conn)
        households = conn.execute(
            sa.text(
                "SELECT coalesce(sum(c.households), 0) FROM compound c JOIN admin_unit_version v"
                " ON v.code IN (:a, :b) AND v.valid_from IS NOT NULL AND v.valid_to IS NULL"
                " AND ST_Covers(v.geom, ST_PointOnSurface(c.geom))"
            ).bindparams(a=a, b=b)
        ).scalar_one()
    r = client.post(
        "/v1/grids/merge",
        params={"dry_run": "true"},
        json={"grids": [a, b], "keep": a, "reason": "load too low"},
        headers={"If-Match": tags},
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["dry_run"] and out["retired"] == [b] and out["etags"] == {}
    assert out["impact"]["workload_after"][a]["households"] == households
    with db_engine.connect() as conn:
        assert version_count(conn) == count


def test_refused_edit_is_422_with_findings_geojson(client, db_engine):
    with db_engine.connect() as conn:
        a, _ = adjacent_pair(conn)
        tag, geom = live_version(conn, a), live_geometry(conn, a)
        count = version_count(conn)
    grown = lonlat(metric(geom).buffer(30))
    r = client.post(
        f"/v1/grids/{a}/reshape",
        json={"geometry": mapping(grown), "mode": "refuse", "reason": "grow"},
        headers={"If-Match": f'"{tag}"'},
    )
    assert r.status_code == 422
    findings = r.json()["findings"]
    assert findings["type"] == "FeatureCollection" and findings["features"]
    overlap = [f for f in findings["features"] if f["properties"]["type"] == "overlap"]
    assert overlap and all(shape(f["geometry"]).intersects(grown) for f in overlap)
    with db_engine.connect() as conn:
        assert version_count(conn) == count


def test_bad_geometry_is_a_clear_422(client, db_engine):
    with db_engine.connect() as conn:
        a, _ = adjacent_pair(conn)
        tag = live_version(conn, a)
    ring = [[113.9, 35.3], [113.91, 35.31], [113.91, 35.3], [113.9, 35.31], [113.9, 35.3]]
    bow_tie = {"type": "Polygon", "coordinates": [ring]}
    r = client.post(
        f"/v1/grids/{a}/reshape",
        json={"geometry": bow_tie, "reason": "x"},
        headers={"If-Match": f'"{tag}"'},
    )
    assert r.status_code == 422
    assert "self-intersection" in r.json()["detail"].lower() or "valid" in r.json()["detail"]


def test_move_border_history_diff_audit_revert(edit_server, edit_db):
    _settings, engine = edit_db
    with engine.connect() as conn:
        a, b = adjacent_pair(conn, 2)
        ga, gb = live_geometry(conn, a), live_geometry(conn, b)
        first_version = live_version(conn, a)
    http = httpx.Client(base_url=edit_server, timeout=60)
    tag_a = http.get(f"/v1/grids/{a}").headers["etag"]
    tag_b = http.get(f"/v1/grids/{b}").headers["etag"]
    # Push a's side of the border 20 m into b: draw the new border as a line.
    ma, mb = metric(ga), metric(gb)
    border = shapely.line_merge(ma.boundary.intersection(mb.boundary))
    if border.geom_type != "LineString":
        border = max(border.geoms, key=lambda g: g.length)
    side = 20 if mb.contains(border.offset_curve(1).interpolate(0.5, normalized=True)) else -20
    line = shapely.affinity.scale(border.offset_curve(side), 3, 3, origin="centroid")
    r = http.post(
        "/v1/grids/border",
        json={"grids": [a, b], "line": mapping(lonlat(line)), "reason": "新楼盘交付 new estate"},
        headers={"If-Match": f"{tag_a}, {tag_b}"},
    )
    assert r.status_code == 200, r.text
    new_tag = r.json()["etags"][a]
    assert new_tag != tag_a and http.get(f"/v1/grids/{a}").headers["etag"] == new_tag
    # A second save with the old ETag is stale: 412, nothing changes.
    with engine.connect() as conn:
        count = version_count(conn)
    r = http.post(
        "/v1/grids/border",
        json={"grids": [a, b], "line": mapping(lonlat(line)), "reason": "again"},
        headers={"If-Match": f"{tag_a}, {tag_b}"},
    )
    assert r.status_code == 412
    with engine.connect() as conn:
        assert version_count(conn) == count
        now_a = live_geometry(conn, a)
    versions = http.get(f"/v1/units/{a}/versions").json()["versions"]
    assert [v["version_id"] for v in versions][-2:] == [first_version, int(new_tag.strip('"'))]
    assert versions[-2]["valid_to"] == versions[-1]["valid_from"]
    assert versions[-1]["reason"] == "新楼盘交付 new estate"
    diff = http.get(
        f"/v1/units/{a}/diff", params={"from": first_version, "to": new_tag.strip('"')}
    ).json()
    gained = metric(now_a).difference(metric(ga)).area
    assert abs(diff["gained_m2"] - gained) < max(1.0, gained * 1e-3)
    audit = http.get("/v1/audit", params={"entity": "grid", "ref": a}).json()["entries"]
    assert (
        audit[0]["action"] == "grid.move_border" and audit[0]["reason"] == "新楼盘交付 new estate"
    )
    # Revert: a gets its first shape back, as a new version.
    r = http.post(
        f"/v1/grids/{a}/revert",
        json={"version_id": first_version, "reason": "undo"},
        headers={"If-Match": new_tag},
    )
    assert r.status_code == 200, r.text
    with engine.connect() as conn:
        assert metric(live_geometry(conn, a)).symmetric_difference(ma).area < 1.0
        assert metric(live_geometry(conn, b)).symmetric_difference(mb).area < 1.0
        assert live_version(conn, a) not in (first_version, int(new_tag.strip('"')))
