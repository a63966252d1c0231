"""The served pages in a real headless Chromium, against the real server on loopback."""

import httpx
import pytest

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
