"""The served pages in a real headless Chromium, against the real server on loopback."""

import json
import re

import httpx
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo.crs import wgs84_to_gcj02

from tests.web_map.browser import load_page

pytestmark = pytest.mark.browser

PATHS_JS = "document.querySelectorAll('path.leaflet-interactive').length"


def test_overview_map_renders_every_unit_offline(live_server, sample, tmp_path):
    shot = tmp_path / "overview.png"
    report = load_page(
        f"{live_server}/", screenshot=shot, evaluate={"paths": PATHS_JS, "title": "document.title"}
    )
    assert report.problems == []  # no failed, external or erroring request
    # Leaflet draws one SVG path per feature (a MultiPolygon is one path).
    frames = (sample.district, sample.streets, sample.communities, sample.grids)
    assert report.results["paths"] == sum(len(f) for f in frames)
    assert report.results["title"]
    assert all(u.startswith(live_server) or u.startswith("data:") for u in report.requests)
    assert any("/static/vendor/leaflet" in u for u in report.requests)
    assert shot.stat().st_size > 10_000


def test_overview_map_in_english(live_server):
    html = httpx.get(f"{live_server}/", params={"lang": "en"}).text
    assert "Grid" in html and "Community" in html
    zh = httpx.get(f"{live_server}/").text
    assert "网格" in zh and "社区" in zh


def test_api_docs_render_offline(live_server):
    report = load_page(
        f"{live_server}/docs",
        wait_for="document.querySelectorAll('.opblock').length > 0",
        evaluate={"ops": "document.querySelectorAll('.opblock').length"},
    )
    assert report.problems == []
    assert report.results["ops"] >= 2  # /healthz and /v1/geocode/reverse at least


def test_reverse_geocode_over_real_http(live_server, sample):
    p = sample.grids.geometry.iloc[0].representative_point()
    r = httpx.get(f"{live_server}/v1/geocode/reverse", params={"lon": p.x, "lat": p.y})
    assert r.status_code == 200
    assert r.json()["grid"]["code"] == sample.grids["code"].iloc[0]
    outside = httpx.get(f"{live_server}/v1/geocode/reverse", params={"lon": 100, "lat": 20})
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def pages_by_basemap(loaded, test_settings, db_engine):
    """``/``, ``/planner`` and ``/dashboard`` served with each basemap setting."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    updates = {
        "amap": {"basemap": "amap"},
        "none": {"basemap": "none", "tiles_url": None},
        "local": {"basemap": "local", "basemap_url": XYZ},
    }
    out = {}
    for name, update in updates.items():
        with TestClient(create_app(test_settings.model_copy(update=update))) as c:
            out[name] = {
                path: c.get(path, params=params).text
                for path, params in (
                    ("/", {}),
                    ("/planner", {}),
                    ("/dashboard", {"community": "410799001001"}),
                )
            }
    return out


XYZ = "http://tiles.intranet/{z}/{x}/{y}.png"
_ADD = re.compile(r"geo_json_\w+_add\((\{.*\})\);$", re.M)
_WKB = {
    "grid": "SELECT code, ST_AsBinary(geom) FROM admin_unit_version WHERE level = 'grid'"
    " AND valid_from IS NOT NULL AND valid_to IS NULL",
    "special": "SELECT code, ST_AsBinary(geom) FROM special_grid WHERE valid_to IS NULL",
}


def _stored(db_engine, table: str) -> dict[str, tuple[float, float]]:
    """First vertex of every live grid or special grid, as stored (WGS-84)."""
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(_WKB[table])).all()
    return {code: tuple(shapely.get_coordinates(shapely.from_wkb(bytes(w)))[0]) for code, w in rows}


def _drawn(page: str, path: str) -> dict[str, tuple[float, float]]:
    """First vertex of every feature the page draws, by code."""
    if path == "/dashboard":
        data = json.loads(re.search(r"var gridmapDash = (\{.*?\});\n", page).group(1))
        features = data["grids"]["features"]
    else:
        features = [f for blob in _ADD.findall(page) for f in json.loads(blob)["features"]]
    return {
        f["properties"]["code"]: tuple(
            shapely.get_coordinates(shapely.geometry.shape(f["geometry"]))[0]
        )
        for f in features
        if f.get("geometry") and "code" in f["properties"]
    }


@pytest.mark.parametrize("basemap", ["amap", "none", "local"])
@pytest.mark.parametrize(
    ("path", "table"), [("/", "grid"), ("/planner", "special"), ("/dashboard", "grid")]
)
def test_every_page_shifts_overlays_to_a_gcj02_basemap(
    pages_by_basemap, db_engine, path, table, basemap
):
    """The basemap setting reaches every page: on Amap (GCJ-02) each overlay vertex is
    the stored one through geo.crs.wgs84_to_gcj02; on none/local it is the stored one."""
    page = pages_by_basemap[basemap][path]
    stored, drawn = _stored(db_engine, table), _drawn(page, path)
    codes = sorted(set(stored) & set(drawn))
    assert codes  # the page draws them
    x = np.array([stored[c][0] for c in codes])
    y = np.array([stored[c][1] for c in codes])
    want = np.column_stack(wgs84_to_gcj02(x, y) if basemap == "amap" else (x, y))
    got = np.array([drawn[c] for c in codes])
    np.testing.assert_allclose(got, want, rtol=0, atol=1.1e-6)
    assert (np.abs(got[:, 0] - x).min() > 1e-3) == (basemap == "amap")  # ~0.5 km, or none
    assert ("webrd0{s}.is.autonavi.com" in page) == (basemap == "amap")
    assert (XYZ in page) == (basemap == "local")
