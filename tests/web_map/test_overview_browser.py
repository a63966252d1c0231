"""The rendered overview map, opened in headless Chromium over real HTTP on
loopback, loads only local assets, raises no error and draws every feature."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.web_map.browser import load_page
from tests.web_map.test_overview import EN_LAYERS, ZH_LAYERS, synthetic_levels
from web_map.assets import STATIC_DIR
from web_map.pages.overview import build_overview_map

pytestmark = pytest.mark.browser

PATHS_JS = "document.querySelectorAll('path.leaflet-interactive').length"
OVERLAYS_JS = (
    "[...document.querySelectorAll('.leaflet-control-layers-overlays label span span')]"
    ".map(e => e.textContent.trim())"
)
# Hover the first grid and read the tooltip Leaflet opens for it.
HOVER_GRID_JS = """(() => {
    const path = document.querySelector('.leaflet-gridmap-grid-pane path');
    const box = path.getBoundingClientRect();
    const at = {bubbles: true, clientX: box.x + box.width / 2, clientY: box.y + box.height / 2};
    path.dispatchEvent(new MouseEvent('mouseover', at));
    path.dispatchEvent(new MouseEvent('mousemove', at));
    const tip = document.querySelector('.leaflet-tooltip');
    return tip ? tip.innerText : null;
})()"""


class _Handler(SimpleHTTPRequestHandler):
    """Serves ``/static/...`` from web_map/static and everything else from ``pages``."""

    def __init__(self, *args, pages: Path, **kwargs) -> None:
        self.pages = pages
        super().__init__(*args, directory=str(pages), **kwargs)

    def translate_path(self, path: str) -> str:
        url_path = urlsplit(path).path
        if url_path.startswith("/static/"):
            self.directory = str(STATIC_DIR)
            path = path.removeprefix("/static")
        else:
            self.directory = str(self.pages)
        return super().translate_path(path)

    def guess_type(self, path) -> str:
        # Like Starlette's StaticFiles: text types are declared UTF-8. Without it
        # Chromium decodes swagger-ui-bundle.js (non-ASCII inside) as
        # windows-1252 and fails with a syntax error.
        media_type = super().guess_type(path)
        return f"{media_type}; charset=utf-8" if media_type.startswith("text/") else media_type

    def log_message(self, format: str, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture()
def serve(tmp_path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server; yields its base URL and the directory it serves."""
    pages = tmp_path / "pages"
    pages.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, pages=pages))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", pages
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.parametrize(("lang", "layer_names"), [("zh", ZH_LAYERS), ("en", EN_LAYERS)])
def test_overview_page_in_chromium(serve, tmp_path, lang, layer_names):
    base, pages = serve
    levels = synthetic_levels()
    build_overview_map(levels, lang=lang).save(str(pages / "overview.html"))
    shot = tmp_path / f"overview-{lang}.png"

    report = load_page(
        f"{base}/overview.html",
        screenshot=shot,
        evaluate={"paths": PATHS_JS, "overlays": OVERLAYS_JS, "tooltip": HOVER_GRID_JS},
    )

    assert not report.failed_requests
    assert not report.external_requests
    assert not report.console_errors
    assert not report.page_errors
    assert report.problems == []
    assert all(url.startswith(base) for url in report.requests), report.requests
    assert f"{base}/static/vendor/leaflet/leaflet.js" in report.requests
    assert f"{base}/static/vendor/leaflet/leaflet.css" in report.requests
    # One SVG path per feature: polygons are drawn, none silently dropped.
    assert report.results["paths"] == sum(len(frame) for frame in levels.values())
    assert report.results["overlays"] == layer_names
    first_grid = levels["grid"].iloc[0]
    tooltip = report.results["tooltip"]
    assert first_grid["code"] in tooltip and first_grid["name"] in tooltip
    assert ("编码" if lang == "zh" else "Code") in tooltip
    assert "红旗区" in report.title
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # a blank page compresses to far less


def test_vendored_swagger_ui_in_chromium(serve):
    """The vendored Swagger UI (FastAPI's /docs) renders without the internet."""
    from fastapi.openapi.docs import get_swagger_ui_html

    from web_map.assets import OFFLINE_SWAGGER_UI_PARAMETERS, swagger_ui_urls

    base, pages = serve
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "网格服务 gridmap", "version": "0"},
        "paths": {"/healthz": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    (pages / "openapi.json").write_text(json.dumps(spec), encoding="utf-8")
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="docs",
        swagger_ui_parameters=OFFLINE_SWAGGER_UI_PARAMETERS,
        **swagger_ui_urls("/static"),
    )
    (pages / "docs.html").write_bytes(page.body)

    report = load_page(
        f"{base}/docs.html",
        wait_for="document.querySelector('.opblock-summary-path')",
        evaluate={
            "title": "document.querySelector('.info .title').textContent",
            "path": "document.querySelector('.opblock-summary-path').textContent",
        },
    )

    assert report.problems == []
    assert report.results["title"].startswith("网格服务 gridmap")
    assert report.results["path"] == "/healthz"
