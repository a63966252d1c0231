"""OGC API – Features at /ogc: GDAL's OAPIF driver against the real server, paging,
bbox, CRS axis order, OPTIONS and ETags — each checked against PostGIS directly."""

import json
import os
import subprocess

import geopandas as gpd
import shapely
import sqlalchemy as sa

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GEOJSON = "application/geo+json"


def _db_units(db_engine, level: str) -> dict[str, dict]:
    """code → version id, parent code, geometry of the live units, straight from SQL."""
    with db_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT v.code, v.id, p.code AS parent, ST_AsBinary(v.geom) AS wkb "
                "FROM admin_unit_version v LEFT JOIN admin_unit_version p "
                "ON p.unit_id = v.parent_unit_id AND p.valid_from IS NOT NULL "
                "AND p.valid_to IS NULL WHERE v.level = :level "
                "AND v.valid_from IS NOT NULL AND v.valid_to IS NULL"
            ),
            {"level": level},
        ).all()
    return {
        r.code: {"version": r.id, "parent": r.parent, "geom": shapely.from_wkb(bytes(r.wkb))}
        for r in rows
    }


def _ogr(*args: str) -> str:
    # Loopback must never go through a proxy that the environment may name.
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gdal_lists_the_collections(live_server):
    out = _ogr("ogrinfo", "-ro", "-so", f"OAPIF:{live_server}/ogc")
    listed = {line.split(":")[1].split("(")[0].strip() for line in out.splitlines() if ": " in line}
    assert {"districts", "streets", "communities", "grids", "special-grids"} <= listed


def test_gdal_reads_all_611_grids_with_the_db_geometry(live_server, db_engine, tmp_path):
    info = _ogr("ogrinfo", "-ro", "-al", "-so", f"OAPIF:{live_server}/ogc", "grids")
    assert "Feature Count: 611" in info
    out = tmp_path / "grids.geojson"
    _ogr("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live_server}/ogc", "grids")
    got = gpd.read_file(out)
    db = _db_units(db_engine, "grid")
    assert len(db) == 611
    assert len(got) == 611 and set(got["code"]) == set(db)
    for r in got.itertuples():
        ref = db[r.code]
        assert r.version == ref["version"] and r.parent_code == ref["parent"]
        assert shapely.equals_exact(r.geometry, ref["geom"], 1e-9), r.code
        assert abs(r.geometry.area - ref["geom"].area) <= 1e-12


def test_landing_conformance_and_api(client):
    r = client.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    rels = {link["rel"]: link["href"] for link in r.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"].endswith("/openapi.json")
    conf = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf
    api = client.get("/ogc/api", follow_redirects=False)
    assert api.status_code == 303 and api.headers["location"] == "/openapi.json"
    spec = client.get("/ogc/api").json()
    assert "/ogc/collections/{collection_id}/items" in spec["paths"]


def test_collections_extent_and_crs(client, db_engine):
    body = client.get("/ogc/collections").json()
    ids = [c["id"] for c in body["collections"]]
    assert ids == ["districts", "streets", "communities", "grids", "special-grids"]
    with db_engine.connect() as conn:
        ext = conn.execute(
            sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom) e FROM admin_unit_version "
                f"WHERE level = 'grid' AND {LIVE}) s"
            )
        ).one()
    grids = client.get("/ogc/collections/grids").json()
    assert grids["extent"]["spatial"]["bbox"][0] == [float(v) for v in ext]
    assert {CRS84, EPSG4326, EPSG4490} <= set(grids["crs"])
    items_link = next(link for link in grids["links"] if link["rel"] == "items")
    assert items_link["type"] == GEOJSON
    r = client.get("/ogc/collections/parks")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail_zh"]


def test_paging_walks_the_whole_collection(client, db_engine):
    db = _db_units(db_engine, "grid")
    url = "/ogc/collections/grids/items?limit=50"
    codes: list[str] = []
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
        body = r.json()
        assert body["numberMatched"] == len(db)
        assert body["numberReturned"] == len(body["features"]) <= 50
        links = {link["rel"]: link["href"] for link in body["links"]}
        assert ("prev" in links) == (pages > 0)
        codes += [f["id"] for f in body["features"]]
        url = links.get("next")
        pages += 1
    assert pages == -(-len(db) // 50)
    assert len(codes) == len(set(codes)) and set(codes) == set(db)
    # Over the maximum: lowered to 10,000, not refused; default page is 100.
    big = client.get("/ogc/collections/grids/items?limit=20000").json()
    assert big["numberReturned"] == len(db)
    assert "limit=10000" in big["links"][0]["href"]
    assert client.get("/ogc/collections/grids/items").json()["numberReturned"] == 100
    bad_params = (
        "limit=0",
        "offset=-1",
        f"offset={2**70}",
        "bbox=1,2,3",
        "bbox=1,nan,3,4",
        "bbox=3,2,1,4",
        "crs=EPSG:3857",
        "bbox-crs=foo&bbox=1,2,3,4",
    )
    for bad in bad_params:
        r = client.get(f"/ogc/collections/grids/items?{bad}")
        assert r.status_code == 400, bad
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] and r.json()["detail_zh"]


def test_bbox_equals_postgis_intersects(client, db_engine):
    box = (113.88, 35.28, 113.92, 35.31)
    with db_engine.connect() as conn:
        expected = set(
            conn.execute(
                sa.text(
                    f"SELECT code FROM admin_unit_version WHERE level = 'grid' AND {LIVE} "
                    "AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
                ),
                dict(zip("abcd", box, strict=True)),
            ).scalars()
        )
    assert 5 < len(expected) < 611
    r = client.get("/ogc/collections/grids/items", params={"bbox": ",".join(map(str, box))})
    body = r.json()
    assert body["numberMatched"] == len(expected)
    assert {f["id"] for f in body["features"]} == expected
    # The same box with a latitude-first bbox-crs: lat,lon order.
    lat_lon = f"{box[1]},{box[0]},{box[3]},{box[2]}"
    for crs in (EPSG4326, "EPSG:4490"):
        r = client.get("/ogc/collections/grids/items", params={"bbox": lat_lon, "bbox-crs": crs})
        assert {f["id"] for f in r.json()["features"]} == expected
    # The box and crs are carried into the paging links.
    small = client.get(
        "/ogc/collections/grids/items",
        params={"bbox": ",".join(map(str, box)), "limit": 2, "crs": EPSG4326},
    ).json()
    nxt = next(link["href"] for link in small["links"] if link["rel"] == "next")
    assert "bbox=" in nxt and "crs=" in nxt and "offset=2" in nxt


def _swap(geom):
    return shapely.transform(geom, lambda xy: xy[:, ::-1])


def test_crs_axis_order(client, db_engine):
    db = _db_units(db_engine, "grid")
    responses = {}
    for crs in (None, EPSG4326, EPSG4490):
        params = {"limit": 20} | ({"crs": crs} if crs else {})
        r = client.get("/ogc/collections/grids/items", params=params)
        assert r.status_code == 200
        assert r.headers["content-crs"] == f"<{crs or CRS84}>"
        responses[crs] = {
            f["id"]: shapely.geometry.shape(f["geometry"]) for f in r.json()["features"]
        }
    for code, geom in responses[None].items():
        assert shapely.equals_exact(geom, db[code]["geom"], 1e-9)  # lon/lat
        lat_lon = responses[EPSG4326][code]
        assert shapely.equals_exact(_swap(lat_lon), db[code]["geom"], 1e-9)
        assert lat_lon.bounds[0] > 30 and lat_lon.bounds[1] > 100  # latitude comes first
        # CGCS2000 and WGS-84 coincide at this scale (and in PROJ): same numbers, lat/lon.
        assert shapely.equals_exact(_swap(responses[EPSG4490][code]), db[code]["geom"], 1e-7)


def test_options_announce_the_methods(client):
    read_only = {"GET", "HEAD", "OPTIONS"}
    for cid in ("districts", "streets", "communities", "grids", "special-grids"):
        items = client.options(f"/ogc/collections/{cid}/items")
        item = client.options(f"/ogc/collections/{cid}/items/any-code")
        assert items.status_code == item.status_code == 204
        allow_items = {m.strip() for m in items.headers["allow"].split(",")}
        allow_item = {m.strip() for m in item.headers["allow"].split(",")}
        if cid in ("grids", "special-grids"):
            assert allow_items == read_only | {"POST"}
            assert allow_item == read_only | {"PUT", "PATCH", "DELETE"}
        else:
            assert allow_items == allow_item == read_only
    assert client.options("/ogc/collections/nope/items").status_code == 404
    head = client.head("/ogc/collections/grids/items?limit=1")
    assert head.status_code == 200 and head.headers["content-type"] == GEOJSON


def test_item_etag_is_the_live_version(client, db_engine):
    with db_engine.connect() as conn:
        grid = conn.execute(
            sa.text(
                f"SELECT code, id, name FROM admin_unit_version WHERE level='grid' AND {LIVE} "
                "ORDER BY code OFFSET 17 LIMIT 1"
            )
        ).one()
        special = conn.execute(
            sa.text(
                "SELECT code, id, kind, responsible_unit FROM special_grid "
                "WHERE valid_to IS NULL ORDER BY code LIMIT 1"
            )
        ).one()
        n_special = conn.execute(
            sa.text("SELECT count(*) FROM special_grid WHERE valid_to IS NULL")
        ).scalar()
    r = client.get(f"/ogc/collections/grids/items/{grid.code}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    assert r.headers["etag"] == f'"{grid.id}"'
    body = r.json()
    assert body["id"] == grid.code and body["properties"]["name"] == grid.name
    assert body["properties"]["version"] == grid.id and body["properties"]["level"] == "grid"
    again = client.get(
        f"/ogc/collections/grids/items/{grid.code}", headers={"If-None-Match": f'"{grid.id}"'}
    )
    assert again.status_code == 304
    r = client.get(f"/ogc/collections/special-grids/items/{special.code}")
    assert r.headers["etag"] == f'"{special.id}"'
    props = r.json()["properties"]
    assert (props["kind"], props["responsible_unit"]) == (special.kind, special.responsible_unit)
    all_special = client.get("/ogc/collections/special-grids/items?limit=10000").json()
    assert all_special["numberMatched"] == n_special == len(all_special["features"])
    head = client.head(f"/ogc/collections/grids/items/{grid.code}")
    assert head.status_code == 200 and head.headers["etag"] == f'"{grid.id}"'
    # A NUL in the path is refused at the edge (issue 15), as problem+json, not a 500.
    nul = client.get("/ogc/collections/grids/items/a%00b")
    assert nul.status_code == 422
    assert nul.headers["content-type"] == "application/problem+json"
    missing = client.get("/ogc/collections/grids/items/000000000000000")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert json.loads(missing.text)["detail_zh"]
