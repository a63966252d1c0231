"""Vector tiles: decoded with GDAL's MVT driver and compared with PostGIS queries of
the units under each tile; versioned URLs, caching headers, refusals."""

import math

import numpy as np
import pyogrio
import pyproj
import shapely
import sqlalchemy as sa

from geo.services.publish import publish
from geo.store import boundaries as bstore
from geo.store import tiles as tstore

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"
MVT = "application/vnd.mapbox-vector-tile"
TO_MERCATOR = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)


def _mercator(xy: np.ndarray) -> np.ndarray:
    return np.column_stack(TO_MERCATOR.transform(xy[:, 0], xy[:, 1]))


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Lon/lat bounds of an XYZ tile (spherical Mercator, computed here, not by PostGIS)."""
    n = 2**z

    def lat(yy):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def _decode(data: bytes, layer: str, z: int, x: int, y: int, tmp_path):
    path = tmp_path / f"{layer}-{z}-{x}-{y}.mvt"
    path.write_bytes(data)
    return pyogrio.read_dataframe(path, layer=layer, X=str(x), Y=str(y), Z=str(z))


def _expected(db_engine, z, x, y, *, special=False) -> dict[str, shapely.Geometry]:
    """code → geometry (lon/lat) of the live units intersecting the tile, by SQL."""
    table = (
        "special_grid WHERE valid_to IS NULL"
        if special
        else (f"admin_unit_version WHERE level = :level AND {LIVE}")
    )
    with db_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                f"SELECT code, ST_AsBinary(geom) AS wkb FROM {table} "
                "AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
            ),
            {"level": "grid", **dict(zip("abcd", _tile_bounds(z, x, y), strict=True))},
        ).all()
    return {r.code: shapely.from_wkb(bytes(r.wkb)) for r in rows}


def _tilejson(client, layer):
    r = client.get(f"/tiles/{layer}.json")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    return r.json()


def test_tile_holds_exactly_the_units_under_it(client, db_engine, tmp_path):
    tj = _tilejson(client, "grid")
    assert tj["tilejson"] == "3.0.0" and tj["vector_layers"][0]["id"] == "grid"
    template = tj["tiles"][0]
    with db_engine.connect() as conn:
        version = tstore.tiles_version(conn)
    assert f"/tiles/v/{version}/grid/" in template
    with db_engine.connect() as conn:
        corner = conn.execute(  # a point inside the westernmost grid: an edge tile
            sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p "
                f"FROM admin_unit_version WHERE level = 'grid' AND {LIVE} "
                "ORDER BY ST_XMin(geom) LIMIT 1) s"
            )
        ).one()
    minx, miny, maxx, maxy = tj["bounds"]
    z = 13
    checked = 0
    for lon, lat in ((minx + maxx) / 2, (miny + maxy) / 2), tuple(corner):
        x, y = _tile_of(lon, lat, z)
        r = client.get(template.format(z=z, x=x, y=y))
        assert r.status_code == 200 and r.headers["content-type"] == MVT
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        got = _decode(r.content, "grid", z, x, y, tmp_path)
        expected = _expected(db_engine, z, x, y)
        assert len(expected) > 3
        assert sorted(got["code"]) == sorted(expected)
        # Geometry: the decoded shape inside the tile matches the DB shape clipped to it
        # (tile units are ~1 m at z13, so the overlap is nearly perfect).
        west, south, east, north = _tile_bounds(z, x, y)
        tile_box = shapely.box(*TO_MERCATOR.transform_bounds(west, south, east, north))
        for row in got.itertuples():
            ref = shapely.transform(expected[row.code], _mercator)
            a = ref.intersection(tile_box)
            b = row.geometry.intersection(tile_box)
            if a.area > 1000:  # slivers at the edge are all quantisation
                assert a.symmetric_difference(b).area / a.area < 0.02, row.code
                checked += 1
    assert checked > 5


def test_other_layers(client, db_engine, tmp_path):
    tj = _tilejson(client, "special-grid")
    minx, miny, maxx, maxy = tj["bounds"]
    z = 12
    x, y = _tile_of((minx + maxx) / 2, (miny + maxy) / 2, z)
    got = _decode(
        client.get(tj["tiles"][0].format(z=z, x=x, y=y)).content, "special-grid", z, x, y, tmp_path
    )
    expected = _expected(db_engine, z, x, y, special=True)
    assert len(expected) > 0 and sorted(got["code"]) == sorted(expected)
    assert set(got["level"]) == {"special_grid"} and got["kind"].notna().all()
    community = _tilejson(client, "community")
    data = client.get(community["tiles"][0].format(z=z, x=x, y=y)).content
    with db_engine.connect() as conn:
        codes = set(
            conn.execute(
                sa.text(
                    f"SELECT code FROM admin_unit_version WHERE level = 'community' AND {LIVE} "
                    "AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"
                ),
                dict(zip("abcd", _tile_bounds(z, x, y), strict=True)),
            ).scalars()
        )
    assert set(_decode(data, "community", z, x, y, tmp_path)["code"]) == codes


def test_unversioned_and_stale_urls(client, db_engine):
    with db_engine.connect() as conn:
        version = tstore.tiles_version(conn)
    live = client.get("/tiles/grid/12/3344/1618.mvt")
    assert live.status_code == 200 and live.headers["cache-control"] == "no-cache"
    assert live.headers["etag"] == f'"{version}"'
    assert (
        client.get(
            "/tiles/grid/12/3344/1618.mvt", headers={"If-None-Match": f'"{version}"'}
        ).status_code
        == 304
    )
    versioned = client.get(f"/tiles/v/{version}/grid/12/3344/1618.mvt")
    assert versioned.content == live.content and len(live.content) > 0
    stale = client.get("/tiles/v/0123456789abcdef/grid/12/3344/1618.mvt", follow_redirects=False)
    assert stale.status_code == 307 and stale.headers["cache-control"] == "no-store"
    assert stale.headers["location"].endswith(f"/tiles/v/{version}/grid/12/3344/1618.mvt")


def test_refusals_are_problem_json(client):
    for url in (
        "/tiles/parks.json",
        "/tiles/parks/1/0/0.mvt",
        "/tiles/grid/23/0/0.mvt",
        "/tiles/grid/2/4/0.mvt",
        "/tiles/grid/2/0/-1.mvt",
        "/tiles/grid/a/0/0.mvt",
        "/tiles/v/x/grid/3/8/0.mvt",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] and r.json()["detail_zh"]


def test_version_moves_with_a_publish_and_tiles_follow(loaded, conn, tmp_path):
    before = tstore.tiles_version(conn)
    units = bstore.units_frame(conn)
    grids = units[units["level"] == "grid"].copy()
    target = grids.iloc[40]
    grids.loc[grids["code"] == target["code"], "name"] = "瓦片测试网格"
    set_id = bstore.create_draft_set(conn, grids, name="tiles", author="test")
    publish(conn, set_id, author="test", reason="tile version test")
    after = tstore.tiles_version(conn)
    assert after != before
    # The tile over the renamed grid carries the new name (decoded by GDAL).
    c = target.geometry.representative_point()
    z = 14
    x, y = _tile_of(c.x, c.y, z)
    data = tstore.tile(conn, tstore.LAYERS["grid"], z, x, y)
    got = _decode(data, "grid", z, x, y, tmp_path)
    assert got.loc[got["code"] == target["code"], "name"].tolist() == ["瓦片测试网格"]
    # A new special grid moves it too.
    conn.execute(
        sa.text(
            "INSERT INTO special_grid (code, name, kind, responsible_unit, geom) VALUES "
            "('T-TILE', '测试', 'school', '测试单位', "
            "ST_Multi(ST_Buffer(ST_SetSRID(ST_MakePoint(113.9, 35.3), 4326), 0.001)))"
        )
    )
    assert tstore.tiles_version(conn) not in (before, after)
