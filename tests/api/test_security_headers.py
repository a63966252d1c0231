"""Security headers, the Content-Security-Policy in a real Chromium, and CORS."""

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from tests.web_map.browser import load_page

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def _csp(headers) -> dict[str, set[str]]:
    out = {}
    for part in headers["content-security-policy"].split(";"):
        name, *values = part.split()
        out[name] = set(values)
    return out


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/livez", 200),
        ("/healthz", 200),
        ("/openapi.json", 200),
        ("/v1/geocode/reverse?lon=100&lat=20", 404),  # a problem+json answer too
        ("/no/such/page", 404),
        ("/static/vendor/leaflet/leaflet.js", 200),
    ],
)
def test_every_answer_carries_the_security_headers(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    for name, value in EXPECTED.items():
        assert r.headers[name] == value
    csp = _csp(r.headers)
    assert csp["default-src"] == {"'self'"}
    assert csp["frame-ancestors"] == {"'self'"}
    assert csp["object-src"] == {"'none'"}
    # Nothing from another host: every source is a keyword or a local scheme.
    for values in csp.values():
        assert all(v.startswith("'") or v in ("data:", "blob:") for v in values), values


@pytest.mark.browser
@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/", "document.querySelectorAll('path.leaflet-interactive').length > 0"),
        ("/dashboard", "document.querySelectorAll('path.leaflet-interactive').length > 0"),
        ("/docs", "document.querySelectorAll('.opblock').length > 0"),
    ],
)
def test_pages_work_under_the_policy_in_chromium(live_server, path, ready):
    head = httpx.get(f"{live_server}{path}", timeout=120)  # builds and caches the page
    assert "script-src 'self' 'unsafe-inline'" in head.headers["content-security-policy"]
    report = load_page(f"{live_server}{path}", wait_for=ready, evaluate={"ok": ready})
    # A CSP violation shows up in Chromium's console as "Refused to …".
    assert report.problems == []
    assert not [m for m in report.console_errors if "Content Security Policy" in m]
    assert report.results["ok"] is True


def test_cors_is_off_by_default(client):
    r = client.options(
        "/v1/geocode/reverse",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    g = client.get("/livez", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in g.headers


def test_cors_allows_only_the_configured_origins(test_settings):
    settings = test_settings.model_copy(update={"cors_origins": ["https://hotline.example.gov"]})
    # No lifespan: CORS and /livez need neither the database nor the index.
    c = TestClient(create_app(settings))
    ok = c.options(
        "/v1/geocode/reverse",
        headers={
            "Origin": "https://hotline.example.gov",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://hotline.example.gov"
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    bad = c.options(
        "/v1/geocode/reverse",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert bad.status_code == 400
    assert "access-control-allow-origin" not in bad.headers
    simple = c.get("/livez", headers={"Origin": "https://hotline.example.gov"})
    assert simple.headers["access-control-allow-origin"] == "https://hotline.example.gov"
    assert simple.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("update", "hosts"),
    [
        (
            {"tiles_url": "http://tiles.intranet.gov.cn:8080/{z}/{x}/{y}.png"},
            ["http://tiles.intranet.gov.cn:8080"],
        ),
        ({"basemap": "amap"}, [f"https://webrd0{i}.is.autonavi.com" for i in "1234"]),
        (
            {"basemap": "tianditu", "tianditu_key": "k"},
            [f"https://t{i}.tianditu.gov.cn" for i in range(8)],
        ),
        ({"basemap": "local", "basemap_url": "/srv/tiles"}, []),  # served by the app
        ({"basemap": "none"}, []),
    ],
    ids=["overview-tiles-url", "amap", "tianditu", "local-folder", "none"],
)
def test_csp_admits_basemap_tile_hosts_for_images_only(test_settings, update, hosts):
    from api.security import content_security_policy

    s = test_settings.model_copy(update={"tiles_url": None, **update})
    parts = dict(p.strip().split(" ", 1) for p in content_security_policy(s).split(";"))
    img = parts["img-src"].split()
    assert sorted(set(img) - {"'self'", "data:", "blob:"}) == sorted(hosts)
    others = " ".join(v for k, v in parts.items() if k != "img-src")
    assert "http" not in others
