"""Reverse geocoding against independent answers: shapely on the generator's own
polygons, and PostGIS ST_Covers on the stored ones."""

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import crs

N = 10_000


def _expected_codes(grids, lon, lat):
    """Per point, the sorted codes of every grid that covers it (shapely STRtree)."""
    tree = shapely.STRtree(grids.geometry.values)
    pts = shapely.points(lon, lat)
    pi, gi = tree.query(pts, predicate="covered_by")
    codes = grids["code"].to_numpy()
    out = [[] for _ in range(len(pts))]
    for p, g in zip(pi, gi, strict=True):
        out[p].append(codes[g])
    return [sorted(c) for c in out]


@pytest.fixture(scope="module")
def random_points(sample):
    rng = np.random.default_rng(20261123)
    minx, miny, maxx, maxy = sample.district.total_bounds
    pad = 0.01  # some points fall outside the district on purpose
    lon = rng.uniform(minx - pad, maxx + pad, N)
    lat = rng.uniform(miny - pad, maxy + pad, N)
    return lon, lat


def _answers(client_app_state, lon, lat):
    geocoder = client_app_state.geocoder
    rows = geocoder.locator.locate_many(lon, lat)
    codes = geocoder.locator.grids["code"].to_numpy()
    return [codes[r] if r >= 0 else None for r in rows]


def test_10000_random_points_agree_with_shapely(client, sample, random_points):
    lon, lat = random_points
    expected = _expected_codes(sample.grids, lon, lat)
    got = _answers(client.app.state.service, lon, lat)
    want = [c[0] if c else None for c in expected]
    assert sum(w is None for w in want) > 100  # the test does exercise "outside"
    assert got == want


def test_10000_random_points_agree_with_postgis(client, conn, random_points):
    lon, lat = random_points
    rows = conn.execute(
        sa.text(
            """
            SELECT p.i, min(v.code) FROM unnest(:lon, :lat) WITH ORDINALITY AS p(x, y, i)
            LEFT JOIN admin_unit_version v
              ON v.level = 'grid' AND v.valid_from IS NOT NULL AND v.valid_to IS NULL
             AND ST_Covers(v.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
            GROUP BY p.i ORDER BY p.i
            """
        ),
        {"lon": lon.tolist(), "lat": lat.tolist()},
    ).all()
    assert [r[1] for r in rows] == _answers(client.app.state.service, lon, lat)


def test_points_on_shared_borders_and_vertices(client, sample):
    # Vertices and edge midpoints of 50 grids: each lies on a border shared with a
    # neighbour (or on the district's edge). The rule: the smallest covering code.
    coords = []
    for geom in sample.grids.geometry.values[::12]:
        ring = np.asarray(geom.geoms[0].exterior.coords)
        coords.append(ring[:-1])
        coords.append((ring[:-1] + ring[1:]) / 2)
    pts = np.vstack(coords)
    expected = _expected_codes(sample.grids, pts[:, 0], pts[:, 1])
    assert sum(len(c) > 1 for c in expected) > 50  # many really are shared
    got = _answers(client.app.state.service, pts[:, 0], pts[:, 1])
    assert got == [c[0] if c else None for c in expected]
    # Same answer through HTTP, every time.
    x, y = pts[0]
    codes = {
        client.get("/v1/geocode/reverse", params={"lon": x, "lat": y}).json()["grid"]["code"]
        for _ in range(3)
    }
    assert codes == {expected[0][0]}


def test_http_answers_the_whole_chain(client, sample, random_points):
    lon, lat = random_points
    expected = _expected_codes(sample.grids, lon[:300], lat[:300])
    parents = dict(zip(sample.grids["code"], sample.grids["parent_code"], strict=True))
    comm_parent = dict(
        zip(sample.communities["code"], sample.communities["parent_code"], strict=True)
    )
    for x, y, codes in zip(lon[:300], lat[:300], expected, strict=True):
        r = client.get("/v1/geocode/reverse", params={"lon": x, "lat": y, "crs": "wgs84"})
        if not codes:
            assert r.status_code == 404
            assert r.headers["content-type"] == "application/problem+json"
            assert "outside" in r.json()["detail"] and r.json()["detail_zh"]
            continue
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        assert body["grid"]["code"] == codes[0]
        assert body["community"]["code"] == parents[codes[0]]
        assert body["street"]["code"] == comm_parent[parents[codes[0]]]
        assert body["district"]["code"] == sample.district["code"].iloc[0]
        assert body["location"]["crs"] == "wgs84" and body["query"]["crs"] == "wgs84"


def test_gcj02_and_bd09_input_find_the_same_grid(client, sample):
    p = sample.grids.geometry.iloc[100].representative_point()
    want = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}).json()
    for name in ("gcj02", "bd09"):
        x, y = (float(v) for v in crs.from_wgs84(p.x, p.y, name))
        body = client.get("/v1/geocode/reverse", params={"lon": x, "lat": y, "crs": name}).json()
        assert body["grid"] == want["grid"]
        assert abs(body["location"]["lon"] - p.x) < 1e-8
        # The same numbers read as WGS-84 land ~500 m away: a different grid or none.
    gx, gy = (float(v) for v in crs.from_wgs84(p.x, p.y, "gcj02"))
    wrong = client.get("/v1/geocode/reverse", params={"lon": gx, "lat": gy, "crs": "wgs84"})
    assert wrong.status_code == 404 or wrong.json()["grid"] != want["grid"]


def test_worker_is_returned_with_a_masked_phone(client, sample):
    workers = sample.workers[sample.workers["role"] == "worker"]
    row = workers.iloc[0]
    grid = sample.grids[sample.grids["code"] == row["grid_code"]].geometry.iloc[0]
    p = grid.representative_point()
    body = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}).json()
    got = body["grid_workers"]
    assert [w["worker_code"] for w in got] == [row["worker_id"]]
    phone = str(row["phone"])
    assert got[0]["phone"] == phone[:3] + "****" + phone[-4:]
    assert body["grid_leaders"] and body["grid_leaders"][0]["role"] == "leader"


@pytest.mark.parametrize(
    "params",
    [
        {"lon": "abc", "lat": 35.3},
        {"lat": 35.3},
        {"lon": 113.9, "lat": 35.3, "crs": "mars"},
        {"lon": 200, "lat": 35.3},
    ],
)
def test_bad_input_gets_problem_json(client, params):
    r = client.get("/v1/geocode/reverse", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["detail"] and body["detail_zh"] and body["errors"]


def test_health_reports_database_and_index(client, sample):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok" and body["postgis"].startswith("3.")
    assert body["grids_indexed"] == len(sample.grids)
    n_units = (
        len(sample.district) + len(sample.streets) + len(sample.communities) + len(sample.grids)
    )
    assert body["live_units"] == n_units


def test_border_distance_and_neighbour(client, sample):
    # A point 3 m inside grid A from the middle of an edge it shares with grid B.
    import pyproj

    grids = sample.grids
    tree = shapely.STRtree(grids.geometry.values)
    a = grids.geometry.iloc[50]
    for b_idx in tree.query(a, predicate="touches"):
        shared = shapely.intersection(a.boundary, grids.geometry.iloc[b_idx].boundary)
        if shared.length > 0:
            break
    mid = shapely.line_interpolate_point(shapely.line_merge(shared), 0.5, normalized=True)
    to_m = pyproj.Transformer.from_crs(4326, 4547, always_xy=True)
    to_deg = pyproj.Transformer.from_crs(4547, 4326, always_xy=True)
    a_m = shapely.transform(a, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    mx, my = to_m.transform(mid.x, mid.y)
    # Step 3 m towards A's interior (perpendicular-ish: towards A's nearest inner point).
    inner = shapely.Point(mx, my).buffer(3.0).intersection(a_m)
    target = max(
        (shapely.Point(x, y) for x, y in inner.exterior.coords),
        key=lambda p: a_m.boundary.distance(p),
    )
    lon, lat = to_deg.transform(target.x, target.y)
    want = a_m.boundary.distance(target)  # independent: pyproj + shapely in GK metres
    body = client.get("/v1/geocode/reverse", params={"lon": lon, "lat": lat}).json()
    assert body["grid"]["code"] == grids["code"].iloc[50]
    assert abs(body["border"]["distance_m"] - want) < 0.05
    assert body["border"]["neighbour"]["code"] == grids["code"].iloc[b_idx]
    far = client.get(
        "/v1/geocode/reverse", params={"lon": lon, "lat": lat, "tolerance_m": 0.5}
    ).json()
    assert far["border"]["neighbour"] is None


# -- fields= -------------------------------------------------------------------------


def test_fields_returns_only_what_was_asked(client, sample, test_settings):
    import h3

    grids = sample.grids
    g = grids.iloc[200]
    p = g.geometry.representative_point()
    want_grid = _expected_codes(grids, np.array([p.x]), np.array([p.y]))[0][0]
    parent = dict(zip(grids["code"], grids["parent_code"], strict=True))[want_grid]
    workers = sample.workers[sample.workers["role"] == "worker"]
    r = client.get(
        "/v1/geocode/reverse",
        params={"lon": p.x, "lat": p.y, "fields": "grid, community,people,h3"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {
        "grid",
        "community",
        "grid_workers",
        "grid_leaders",
        "h3",
        "boundary_version",
    }
    assert body["grid"]["code"] == want_grid
    assert body["community"]["code"] == parent
    assert {w["worker_code"] for w in body["grid_workers"]} == set(
        workers.loc[workers["grid_code"] == want_grid, "worker_id"]
    )
    s = test_settings
    res = (s.h3_heatmap_res, s.h3_patrol_res, s.h3_point_res)
    assert body["h3"] == {str(r): h3.latlng_to_cell(p.y, p.x, r) for r in res}
    # `grid` and `boundary_version` always come back; `responsible` with a category.
    only = client.get(
        "/v1/geocode/reverse",
        params={"lon": p.x, "lat": p.y, "fields": "border", "category": "environment"},
    ).json()
    assert set(only) == {"grid", "border", "responsible", "boundary_version"}
    assert only["grid"]["code"] == want_grid and only["border"]["distance_m"] > 0
    special = sample.special_grids
    assert only["responsible"]["code"] in {want_grid, *special.loc[special.covers(p), "code"]}


def test_fields_chain_and_the_full_answer(client, sample):
    p = sample.grids.geometry.iloc[30].representative_point()
    full = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}).json()
    expected = _expected_codes(sample.grids, np.array([p.x]), np.array([p.y]))[0][0]
    assert full["grid"]["code"] == expected
    assert list(full) == [
        "query",
        "location",
        "district",
        "street",
        "community",
        "grid",
        "special_grids",
        "grid_workers",
        "grid_leaders",
        "responsible",
        "border",
        "h3",
        "boundary_version",
        "at",
        "border_rule",
    ]
    chain = client.get(
        "/v1/geocode/reverse", params={"lon": p.x, "lat": p.y, "fields": "chain"}
    ).json()
    assert list(chain) == ["district", "street", "community", "grid", "boundary_version"]
    assert chain["district"]["code"] == sample.district["code"].iloc[0]
    assert chain["grid"]["code"] == expected


@pytest.mark.parametrize("fields", ["grid,colour", "Grid", "grid;h3"])
def test_unknown_fields_get_422_naming_the_allowed_ones(client, sample, fields):
    p = sample.grids.geometry.iloc[0].representative_point()
    r = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y, "fields": fields})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["field"] == "fields" and body["detail_zh"]
    assert "fields" in body["detail"]
    for name in ("grid", "community", "people", "h3", "border", "special_grids"):
        assert name in body["allowed"] and name in body["detail"]


def test_reverse_parameters_are_documented(client):
    op = client.get("/openapi.json").json()["paths"]["/v1/geocode/reverse"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert set(params) == {
        "lon",
        "lat",
        "crs",
        "at",
        "out_crs",
        "category",
        "tolerance_m",
        "fields",
    }
    assert params["lon"]["required"] and params["lat"]["required"]
    assert not params["fields"]["required"]
    assert all(p["in"] == "query" and p["description"] for p in params.values())
    assert params["lat"]["schema"]["maximum"] == 90
    assert set(params["crs"]["schema"]["enum"]) == {"wgs84", "gcj02", "bd09", "cgcs2000"}
    assert "people" in params["fields"]["description"]
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("ReverseGeocodeResponse")


@pytest.fixture(scope="module")
def framework_routed(loaded, test_settings):
    """The same app without the lean reverse route: requests reach FastAPI's route."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(test_settings)
    routes = app.router.routes
    routes[:] = [r for r in routes if getattr(r, "name", None) != "reverse-lean"]
    with TestClient(app) as c:
        yield c


def test_lean_route_answers_like_the_framework_route(client, framework_routed, sample):
    """The reverse is served by a plain Starlette route (api/routers/geocode.lean_routes)
    ahead of FastAPI's; every answer, errors included, must be the framework route's."""
    assert client.app.router.routes[0].name == "reverse-lean"
    g = sample.grids.geometry.iloc[3].representative_point()
    x, y = crs.wgs84_to_gcj02(np.array([g.x]), np.array([g.y]))
    queries = [
        {"lon": g.x, "lat": g.y},
        {"lon": g.x, "lat": g.y, "crs": "wgs84", "out_crs": "bd09"},
        {"lon": float(x[0]), "lat": float(y[0]), "crs": "gcj02", "fields": "grid,people"},
        {"lon": g.x, "lat": g.y, "category": "campus_safety"},
        {"lon": g.x, "lat": g.y, "category": "no-such-category"},
        {"lon": g.x, "lat": 95},
        {"lon": g.x},
        {"lon": 0.0, "lat": 0.0},
        {"lon": g.x, "lat": g.y, "fields": "nonsense"},
        {"lon": g.x, "lat": g.y, "at": "2026-01-01T00:00:00"},
    ]
    statuses = set()
    for q in queries:
        lean = client.get("/v1/geocode/reverse", params=q)
        framework = framework_routed.get("/v1/geocode/reverse", params=q)
        assert (lean.status_code, lean.json()) == (framework.status_code, framework.json()), q
        assert lean.headers["content-type"] == framework.headers["content-type"]
        assert lean.headers["x-content-type-options"] == "nosniff"  # security headers too
        statuses.add(lean.status_code)
    assert statuses == {200, 404, 422}


def test_heap_is_frozen_after_the_index_is_built(client):
    """A full collection walks every long-lived object (~150 ms on the sample); after
    start-up they sit in the frozen generation, which the collector skips."""
    import gc

    assert gc.get_freeze_count() > 100_000


@given(
    st.lists(
        st.tuples(
            st.text(st.characters(codec="utf-8"), max_size=8),
            st.text(st.characters(codec="utf-8"), max_size=12),
        ),
        max_size=6,
    ),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_reverse_reads_the_query_as_starlette_does(pairs, raw_junk):
    """The lean route parses its query string itself (api/routers/geocode._query_dict);
    it must read every string as Starlette's QueryParams does (last value wins)."""
    from urllib.parse import urlencode

    from starlette.datastructures import QueryParams

    from api.routers.geocode import _query_dict

    raw = urlencode(pairs)
    if raw_junk:  # hand-written strings: bare names, empty pairs, broken escapes
        raw += "&&bare&%zz=1&x=%E5%8C&=v"
    assert _query_dict(raw.encode("latin-1")) == dict(QueryParams(raw))
