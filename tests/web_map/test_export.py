"""``gridmap map dashboard --out FILE.html``: one file that opens from file:// offline.

The file is opened in the system Chromium with every request recorded and every
request but the file itself aborted; it must make none, draw its layers and show
the same figures as the database.
"""

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import sync_playwright
from typer.testing import CliRunner

from api.cli import app
from api.cli.map import BUILDERS, export_page
from tests.web_map.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT
from web_map.assets import find_external_urls

pytestmark = pytest.mark.browser

LAYERS_JS = """Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label span'))
  .map(s => s.textContent.trim())"""
KPI_JS = """Object.fromEntries(Array.from(document.querySelectorAll('#dash-kpi tbody tr'))
  .map(r => [r.dataset.code, Array.from(r.cells).map(c => c.dataset.v)]))"""
TOGGLE_JS = """(() => {
  Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
    .filter(l => /Compounds|Patrol coverage/.test(l.textContent))
    .forEach(l => l.querySelector('input').click());
  return [document.querySelectorAll('.leaflet-dash-heat-pane path').length,
          document.querySelectorAll('.leaflet-dash-fill-pane path').length,
          document.querySelectorAll('.dash-cluster, .dash-cpd').length]; })()"""


def open_file(path: Path, evaluate: dict[str, str], screenshot: Path) -> dict:
    """Open ``path`` from file:// and report requests, errors and ``evaluate`` results."""
    url = path.resolve().as_uri()
    seen: list[str] = []
    errors: list[str] = []
    results: dict = {}
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=list(CHROMIUM_ARGS),
            headless=False,
            viewport=VIEWPORT,
        )
        try:
            page = ctx.new_page()

            def route(r):
                if r.request.url == url:
                    r.continue_()
                else:
                    r.abort("blockedbyclient")

            page.route("**/*", route)
            page.on("request", lambda r: seen.append(r.url))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url, wait_until="load")
            page.wait_for_timeout(800)
            for name, js in evaluate.items():
                results[name] = page.evaluate(js)
            page.screenshot(path=str(screenshot))
        finally:
            ctx.close()
    others = [u for u in seen if u != url and not u.startswith("data:")]
    return {"others": others, "errors": errors, "results": results}


@pytest.fixture(scope="module")
def exported(loaded, test_settings, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "dashboard_en.html"
    size = export_page("dashboard", out, settings=test_settings, lang="en", options={"days": 30})
    assert size == out.stat().st_size
    return out


def test_exported_file_is_self_contained(exported):
    page = exported.read_text(encoding="utf-8")
    assert find_external_urls(page) == []
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet", page)
    assert "L.markerClusterGroup" in page and "leaflet-control-layers" in page  # inlined
    assert 'class="dash-filter"' not in page  # no form without a server
    assert "Grid governance dashboard" in page
    assert len(page.encode()) < 3_000_000


def test_exported_file_opens_offline_with_layers_and_true_figures(exported, db_engine, tmp_path):
    shot = tmp_path / "export.png"
    report = open_file(exported, {"layers": LAYERS_JS, "kpi": KPI_JS, "drawn": TOGGLE_JS}, shot)
    shutil.copy(shot, "/tmp/dashboard_export.png")
    assert report["others"] == []  # not a single request besides the file itself
    assert report["errors"] == []
    layers = report["results"]["layers"]
    assert "Incident heat (H3 cells)" in layers and "Grid outlines" in layers
    heat_paths, fill_paths, compounds = report["results"]["drawn"]
    assert heat_paths > 0 and compounds > 0
    kpi = report["results"]["kpi"]
    with db_engine.connect() as conn:
        n_grids = conn.execute(
            sa.text(
                "SELECT count(*) FROM admin_unit_version WHERE level = 'grid' "
                "AND valid_from IS NOT NULL AND valid_to IS NULL"
            )
        ).scalar()
        newest = conn.execute(sa.text("SELECT max(reported_at) FROM incident")).scalar()
        # The window: the 30 Beijing days ending with the newest incident's day.
        expected = dict(
            conn.execute(
                sa.text(
                    """
                    SELECT v.code, count(i.id) FROM admin_unit_version v
                    LEFT JOIN incident i ON i.grid_unit_id = v.unit_id
                      AND i.reported_at >= (date_trunc('day', :t AT TIME ZONE 'Asia/Shanghai')
                           + interval '1 day' - interval '30 days') AT TIME ZONE 'Asia/Shanghai'
                      AND i.reported_at < (date_trunc('day', :t AT TIME ZONE 'Asia/Shanghai')
                           + interval '1 day') AT TIME ZONE 'Asia/Shanghai'
                    WHERE v.level = 'grid' AND v.valid_from IS NOT NULL AND v.valid_to IS NULL
                    GROUP BY v.code
                    """
                ),
                {"t": newest},
            ).all()
        )
    assert len(kpi) == n_grids == fill_paths
    assert {code: int(v[2]) for code, v in kpi.items()} == expected


def test_cli_writes_the_file_and_refuses_bad_options(loaded, test_settings, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDMAP_PG_DATABASE", test_settings.pg_database)
    monkeypatch.setenv("GRIDMAP_PG_PORT", str(test_settings.local_pg_port()))
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    out = tmp_path / "d.html"
    street = "410799002"
    r = CliRunner().invoke(
        app, ["map", "dashboard", "--out", str(out), "--street", street, "--days", "7"]
    )
    assert r.exit_code == 0, r.output
    page = out.read_text(encoding="utf-8")
    data = json.loads(re.search(r"var gridmapDash = (\{.*?\});\n", page).group(1))
    codes = {f["properties"]["code"] for f in data["grids"]["features"]}
    assert codes and all(c.startswith(street) for c in codes)
    assert data["gaps"]["features"]  # a street is chosen: gaps are drawn per cell
    bad = CliRunner().invoke(app, ["map", "dashboard", "--out", str(out), "--category", "nope"])
    assert bad.exit_code != 0
    assert "nope" in bad.output
    with pytest.raises(KeyError, match="atlas"):
        export_page("atlas", out, settings=test_settings, builders=BUILDERS)
