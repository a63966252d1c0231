"""OGC API – Features Part 4 on grids and special grids: the same validation,
concurrency and audit as the edit API, checked with shapely on plain SQL reads."""

from __future__ import annotations

import itertools

import geopandas as gpd
import httpx
import shapely
import sqlalchemy as sa
from shapely.geometry import mapping

METRIC = 4547
LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def frame(conn, level):
    rows = list(
        conn.execute(
            sa.text(
                "SELECT v.id, v.code, v.name, p.code AS parent, ST_AsBinary(v.geom) AS wkb"
                " FROM admin_unit_version v LEFT JOIN admin_unit_version p ON"
                " p.unit_id = v.parent_unit_id AND p.valid_from IS NOT NULL AND p.valid_to IS NULL"
                " WHERE v.level = :l AND v.valid_from IS NOT NULL AND v.valid_to IS NULL"
            ),
            {"l": level},
        ).mappings()
    )
    return gpd.GeoDataFrame(
        [{k: r[k] for k in ("id", "code", "name", "parent")} for r in rows],
        geometry=[shapely.from_wkb(bytes(r["wkb"])) for r in rows],
        crs=4326,
    )


def assert_partition(conn, community):
    kids = frame(conn, "grid").to_crs(METRIC)
    kids = kids[kids["parent"] == community]
    parent = frame(conn, "community").to_crs(METRIC).set_index("code").loc[community].geometry
    union = shapely.union_all(list(kids.geometry))
    assert parent.symmetric_difference(union).area <= 1.0
    for a, b in itertools.combinations(kids.geometry, 2):
        assert a.intersection(b).area <= 1.0


def metric(g):
    return gpd.GeoSeries([g], crs=4326).to_crs(METRIC).iloc[0]


def lonlat(g):
    return gpd.GeoSeries([g], crs=METRIC).to_crs(4326).iloc[0]


def feature(geom, **props):
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def test_post_with_invalid_topology_is_refused_with_findings(edit_server, edit_db):
    _s, engine = edit_db
    with engine.connect() as conn:
        grids = frame(conn, "grid")
        community = frame(conn, "community").iloc[0]
        count = conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar_one()
    x, y = grids.geometry.iloc[0].representative_point().coords[0]
    d = 0.001
    bow_tie = shapely.Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])
    r = httpx.post(
        f"{edit_server}/ogc/collections/grids/items",
        json=feature(bow_tie, name="自相交"),
        timeout=60,
    )
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    kinds = {f["properties"]["type"] for f in body["findings"]["features"]}
    assert "invalid_geometry" in kinds
    # A grid that spills out of its community: refused, the spill located.
    spill_m = metric(community.geometry).buffer(0).envelope.buffer(30)
    r = httpx.post(
        f"{edit_server}/ogc/collections/grids/items",
        json=feature(lonlat(spill_m), parent_code=community["code"], name="越界"),
        timeout=60,
    )
    assert r.status_code == 422
    (out,) = [
        f for f in r.json()["findings"]["features"] if f["properties"]["type"] == "outside_parent"
    ]
    expected = spill_m.difference(metric(community.geometry)).area
    assert abs(out["properties"]["area_m2"] - expected) < max(5.0, expected * 0.01)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar_one() == count
        )


def test_post_put_patch_delete_a_grid(edit_server, edit_db):
    _s, engine = edit_db
    http = httpx.Client(base_url=edit_server, timeout=60)
    with engine.connect() as conn:
        grids = frame(conn, "grid")
    host = grids.iloc[5]
    community = host["parent"]
    centre = metric(host.geometry).representative_point()
    new_m = centre.buffer(40, quad_segs=4)
    assert metric(host.geometry).contains(new_m)
    r = http.post("/ogc/collections/grids/items", json=feature(lonlat(new_m), name="新建网格"))
    assert r.status_code == 201, r.text
    code = r.json()["id"]
    assert r.headers["location"].endswith(f"/ogc/collections/grids/items/{code}")
    assert code.startswith(community) and code not in set(grids["code"])
    with engine.connect() as conn:
        assert_partition(conn, community)
        now = frame(conn, "grid").set_index("code")
        assert metric(now.loc[code].geometry).symmetric_difference(new_m).area < 1.0
    etag = http.get(f"/ogc/collections/grids/items/{code}").headers["etag"]

    # PUT without If-Match: 428; with it: the shape grows, the host grid follows.
    bigger = lonlat(centre.buffer(60, quad_segs=4))
    assert http.put(f"/ogc/collections/grids/items/{code}", json=feature(bigger)).status_code == 428
    r = http.put(
        f"/ogc/collections/grids/items/{code}",
        json=feature(bigger, name="新建网格"),
        headers={"If-Match": etag},
    )
    assert r.status_code == 204, r.text
    etag2 = r.headers["etag"]
    # A client that still holds the old ETag is refused.
    r = http.patch(
        f"/ogc/collections/grids/items/{code}",
        json={"type": "Feature", "properties": {"name": "旧版本"}, "geometry": None},
        headers={"If-Match": etag},
    )
    assert r.status_code == 412
    # PATCH with latitude-first EPSG:4326 coordinates (Part 2 Content-Crs).
    smaller = centre.buffer(50, quad_segs=4)
    swapped = shapely.transform(lonlat(smaller), lambda xy: xy[:, ::-1])
    r = http.patch(
        f"/ogc/collections/grids/items/{code}",
        json=feature(swapped, name="改名网格"),
        headers={"If-Match": etag2, "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/4326>"},
    )
    assert r.status_code == 204, r.text
    with engine.connect() as conn:
        now = frame(conn, "grid").set_index("code")
        assert now.loc[code, "name"] == "改名网格"
        assert metric(now.loc[code].geometry).symmetric_difference(smaller).area < 1.0
        assert_partition(conn, community)
    r = http.delete(f"/ogc/collections/grids/items/{code}", headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 204
    assert http.get(f"/ogc/collections/grids/items/{code}").status_code == 404
    with engine.connect() as conn:
        assert_partition(conn, community)
        host_now = frame(conn, "grid").set_index("code").loc[host["code"]].geometry
        # The host took the whole area back.
        assert metric(host_now).symmetric_difference(metric(host.geometry)).area < 1.0
        actions = (
            conn.execute(
                sa.text("SELECT action FROM audit_log WHERE ref LIKE :c ORDER BY id"),
                {"c": f"%{code}%"},
            )
            .scalars()
            .all()
        )
    assert actions == ["grid.create", "grid.replace", "grid.replace", "grid.delete"]


def test_read_only_collections_refuse_writes(edit_server):
    r = httpx.delete(f"{edit_server}/ogc/collections/streets/items/410799001", timeout=30)
    assert r.status_code in (405, 422)
    opts = httpx.options(f"{edit_server}/ogc/collections/grids/items", timeout=30)
    assert "POST" in opts.headers["allow"]
