"""The supervisor dashboard in a real headless Chromium, against the real server."""

import shutil
import time

import httpx
import pytest
from sqlalchemy import text

from tests.web_map.browser import load_page

pytestmark = pytest.mark.browser

KPI_JS = """Object.fromEntries(Array.from(document.querySelectorAll('#dash-kpi tbody tr'))
  .map(r => [r.dataset.code, Array.from(r.cells).map(c => c.dataset.v)]))"""
LAYERS_JS = """Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label span'))
  .map(s => s.textContent.trim())"""
TOGGLE_JS = """Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
  .filter(l => /Patrol coverage|Incident heat/.test(l.textContent))
  .map(l => l.querySelector('input').click()).length"""
COMPOUNDS_JS = """(() => {
  Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
  .filter(l => /楼院（/.test(l.textContent)).forEach(l => l.querySelector('input').click());
  return document.querySelectorAll('.leaflet-dash-compounds-pane path').length; })()"""
MAP_JS = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
SORT_JS = """(() => { document.querySelector('#dash-kpi th[data-key=unowned]').click();
  return Array.from(document.querySelectorAll('#dash-kpi tbody tr'))
    .slice(0, 5).map(r => Number(r.cells[4].dataset.v)); })()"""
ZOOM_JS = f"""new Promise(done => {{
  const map = {MAP_JS}; const z0 = map.getZoom();
  document.querySelector('#dash-kpi tbody tr').click();
  setTimeout(() => done([z0, map.getZoom(),
    document.querySelectorAll('path[stroke="#000000"][stroke-width="4"]').length]), 1500); }})"""

# Incidents in the 30 days up to the newest one, per grid code: counted straight
# from the tables, independently of geo/store/dashboard.py.
INCIDENTS_SQL = text(
    """
    SELECT count(*) FROM incident i
    JOIN admin_unit_version v ON v.unit_id = i.grid_unit_id
      AND v.valid_from IS NOT NULL AND v.valid_to IS NULL
    WHERE v.code = :code
      AND i.reported_at > (SELECT max(reported_at) FROM incident) - interval '30 days'
    """
)


@pytest.fixture(scope="module")
def page_zh(live_server):
    t0 = time.perf_counter()
    r = httpx.get(f"{live_server}/dashboard", timeout=120)
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    cached = httpx.get(f"{live_server}/dashboard", timeout=120)
    print(
        f"\n/dashboard: {len(r.content) / 1e6:.2f} MB, first (render) {elapsed:.2f} s, "
        f"cached {time.perf_counter() - t1:.3f} s"
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert cached.text == r.text
    return r.text


def test_dashboard_loads_offline_with_layers_and_true_figures(
    live_server, sample, db_engine, page_zh, tmp_path
):
    assert len(page_zh.encode()) < 3_000_000
    shot = tmp_path / "dashboard.png"
    report = load_page(
        f"{live_server}/dashboard",
        screenshot=shot,
        evaluate={"kpi": KPI_JS, "layers": LAYERS_JS, "lang": "document.documentElement.lang"},
    )
    shutil.copy(shot, "/tmp/dashboard.png")
    print(f"screenshot: {shot} (copied to /tmp/dashboard.png)")
    assert report.problems == []  # no failed, external or erroring request
    assert all(u.startswith(live_server) or u.startswith("data:") for u in report.requests)
    assert report.results["lang"] == "zh-CN"
    layers = report.results["layers"]
    for name in (
        "网格边界",
        "事件热力（H3 单元）",
        "巡防覆盖率",
        "无主管楼院数",
        "楼院（按管理类型）",
    ):
        assert name in layers
    assert any(n.startswith("无网格员网格") for n in layers)

    kpi = report.results["kpi"]
    assert set(kpi) == set(sample.grids["code"])

    # Unowned compounds of the grid with the most, counted with shapely from the sample.
    unowned = sample.compounds[sample.compounds["management_type"] == "unowned"]
    points = unowned.geometry.representative_point()
    counts = {r.code: int(points.within(r.geometry).sum()) for r in sample.grids.itertuples()}
    top = max(counts, key=counts.get)
    assert counts[top] > 0
    assert int(kpi[top][4]) == counts[top]
    assert sum(int(v[4]) for v in kpi.values()) == sum(counts.values())

    # Incidents in the window for the grid with the most, counted in SQL.
    busiest = max(kpi, key=lambda c: int(kpi[c][2]))
    with db_engine.connect() as conn:
        expected = conn.execute(INCIDENTS_SQL, {"code": busiest}).scalar()
    assert expected > 0 and int(kpi[busiest][2]) == expected

    # Coverage is a share.
    shares = [float(v[3]) for v in kpi.values() if float(v[3]) >= 0]
    assert shares and all(0 <= s <= 1 for s in shares) and max(shares) > 0


def test_kpi_table_sorts_and_zooms(live_server, page_zh, tmp_path):
    shot = tmp_path / "dashboard_zoomed.png"
    report = load_page(
        f"{live_server}/dashboard",
        screenshot=shot,
        evaluate={"sorted": SORT_JS, "zoom": ZOOM_JS, "compounds": COMPOUNDS_JS},
    )
    print(f"screenshot (zoomed to the top unowned grid, compounds on): {shot}")
    assert report.problems == []
    assert report.results["compounds"] > 0  # circle markers drawn
    top = report.results["sorted"]
    assert top == sorted(top, reverse=True)  # numeric columns sort descending first
    z0, z1, highlighted = report.results["zoom"]
    assert z1 > z0
    assert highlighted == 1  # the clicked grid is outlined


def test_dashboard_in_english(live_server, tmp_path):
    shot = tmp_path / "dashboard_en.png"
    report = load_page(
        f"{live_server}/dashboard?lang=en&days=7",
        screenshot=shot,
        evaluate={
            "layers": LAYERS_JS,
            "lang": "document.documentElement.lang",
            # Show the coverage choropleth instead of the heat for the screenshot.
            "toggled": TOGGLE_JS,
        },
    )
    print(f"screenshot (en, coverage layer): {shot}")
    assert report.problems == []
    assert report.results["lang"] == "en"
    assert report.results["toggled"] == 2
    assert "Incident heat (H3 cells)" in report.results["layers"]
    assert "Patrol coverage" in report.results["layers"]
    html = httpx.get(f"{live_server}/dashboard", params={"lang": "en", "days": 7}).text
    assert "Grid governance dashboard" in html and "last 7 days" in html
    assert "巡防覆盖率" not in html


def test_bad_query_is_refused(live_server):
    assert httpx.get(f"{live_server}/dashboard", params={"days": 0}).status_code == 422
    assert httpx.get(f"{live_server}/dashboard", params={"lang": "fr"}).status_code == 422
