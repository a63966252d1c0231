"""The supervisor dashboard in a real headless Chromium, against the real server.

Every figure read back from the page is compared with an independent computation
from the raw rows: SQL counts, h3 binning and polygon filling done here, shapely
point-in-polygon on the sample district.
"""

import json
import re
import sqlite3
import struct
import time
import zlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import h3
import httpx
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from geo.crs import wgs84_to_gcj02

from api.app import create_app
from tests.server import serve
from tests.web_map.browser import load_page

pytestmark = pytest.mark.browser

BJ = timezone(timedelta(hours=8))
SHOTS = Path("/tmp/gridmap-dashboard-shots")

KPI_JS = """Object.fromEntries(Array.from(document.querySelectorAll('#dash-kpi tbody tr'))
  .map(r => [r.dataset.code, Array.from(r.cells).map(c => c.dataset.v)]))"""
LAYERS_JS = """Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label span'))
  .map(s => s.textContent.trim())"""
HEAT_JS = """Object.fromEntries(gridmapDash.heat.features.filter(f => f.properties.n > 0)
  .map(f => [f.properties.cell, f.properties.n]))"""
TOGGLE_JS = """Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
  .filter(l => /Patrol coverage|Incident heat/.test(l.textContent))
  .map(l => l.querySelector('input').click()).length"""
COMPOUNDS_JS = """(() => {
  Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
  .filter(l => /楼院（/.test(l.textContent)).forEach(l => l.querySelector('input').click());
  const group = Object.values(window).find(v => v && v._featureGroup && v.getLayers);
  return [document.querySelectorAll('.dash-cluster, .dash-cpd').length,
          group.getLayers().length]; })()"""
MAP_JS = "window[Object.keys(window).find(k => k.startsWith('map_'))]"
SORT_JS = """(() => { document.querySelector('#dash-kpi th[data-key=unowned]').click();
  return Array.from(document.querySelectorAll('#dash-kpi tbody tr'))
    .slice(0, 5).map(r => Number(r.querySelector('td:nth-child(8)').dataset.v)); })()"""
ZOOM_JS = f"""new Promise(done => {{
  const map = {MAP_JS}; const z0 = map.getZoom();
  document.querySelector('#dash-kpi tbody tr').click();
  setTimeout(() => done([z0, map.getZoom(),
    document.querySelectorAll('path[stroke="#000000"][stroke-width="4"]').length]), 1500); }})"""
SLIDER_JS = """(day => { const i = document.getElementById('dash-day');
  i.value = day + 1; i.dispatchEvent(new Event('input'));
  return [document.getElementById('dash-day-label').textContent,
    Array.from(document.querySelectorAll('.leaflet-dash-heat-pane path'))
      .filter(p => Number(p.getAttribute('fill-opacity')) > 0).length]; })(%d)"""

INCIDENTS_SQL = text(
    """
    SELECT v.code, count(i.id) FROM admin_unit_version v
    LEFT JOIN incident i ON i.grid_unit_id = v.unit_id
      AND i.reported_at >= :start AND i.reported_at < :end
    WHERE v.level = 'grid' AND v.valid_from IS NOT NULL AND v.valid_to IS NULL
    GROUP BY v.code
    """
)
GRIDS_SQL = text(
    """
    SELECT g.code, ST_AsBinary(g.geom) AS wkb, s.code AS street
    FROM admin_unit_version g
    JOIN admin_unit_version c ON c.unit_id = g.parent_unit_id
      AND c.valid_from IS NOT NULL AND c.valid_to IS NULL
    JOIN admin_unit_version s ON s.unit_id = c.parent_unit_id
      AND s.valid_from IS NOT NULL AND s.valid_to IS NULL
    WHERE g.level = 'grid' AND g.valid_from IS NOT NULL AND g.valid_to IS NULL
    """
)


def _window(db_engine, days=30):
    with db_engine.connect() as conn:
        newest = conn.execute(text("SELECT max(reported_at) FROM incident")).scalar()
    end_day = newest.astimezone(BJ).date()
    end = datetime.combine(end_day + timedelta(days=1), datetime.min.time(), BJ)
    return end - timedelta(days=days), end


def _grids(db_engine):
    with db_engine.connect() as conn:
        rows = conn.execute(GRIDS_SQL).mappings().all()
    return {r["code"]: (shapely.from_wkb(bytes(r["wkb"])), r["street"]) for r in rows}


def _grid_cells(geom) -> set[str]:
    return set(h3.geo_to_cells(geom.__geo_interface__, 10))


def _visited(db_engine, first: date, last: date) -> set[str]:
    with db_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT DISTINCT h3_cell FROM patrol_visit WHERE day BETWEEN :a AND :b"),
            {"a": first, "b": last},
        ).scalars()
        return {h3.int_to_str(int(c)) for c in rows}


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
    live_server, sample, db_engine, page_zh
):
    assert len(page_zh.encode()) < 3_000_000
    shot = SHOTS / "dashboard_zh.png"
    report = load_page(
        f"{live_server}/dashboard",
        screenshot=shot,
        evaluate={
            "kpi": KPI_JS,
            "layers": LAYERS_JS,
            "heat": HEAT_JS,
            "lang": "document.documentElement.lang",
        },
    )
    print(f"screenshot: {shot}")
    assert report.problems == []  # no failed, external or erroring request
    assert all(u.startswith(live_server) or u.startswith("data:") for u in report.requests)
    assert report.results["lang"] == "zh-CN"
    layers = report.results["layers"]
    for name in ("网格边界", "事件热力（H3 单元）", "巡防覆盖率", "距上次巡查天数（网格）"):
        assert name in layers
    for name in ("无主管楼院密度（网格，个/km²）", "无主管楼院（H3 单元）", "楼院（按管理类型）"):
        assert name in layers
    assert any(n.startswith("无网格员网格") for n in layers)

    kpi = report.results["kpi"]
    assert set(kpi) == set(sample.grids["code"])

    # Unowned compounds per grid, counted with shapely from the sample.
    unowned = sample.compounds[sample.compounds["management_type"] == "unowned"]
    points = unowned.geometry.representative_point()
    counts = {r.code: int(points.within(r.geometry).sum()) for r in sample.grids.itertuples()}
    assert {c: int(v[7]) for c, v in kpi.items()} == counts
    assert sum(counts.values()) > 0

    # Incidents per grid in the window, counted in SQL.
    start, end = _window(db_engine)
    with db_engine.connect() as conn:
        expected = dict(conn.execute(INCIDENTS_SQL, {"start": start, "end": end}).all())
    assert {c: int(v[2]) for c, v in kpi.items()} == expected

    # Coverage: the grid's res-10 cells (h3 polygon fill) visited in the window.
    visited = _visited(db_engine, start.date(), (end - timedelta(days=1)).date())
    checked = 0
    for code, (geom, _street) in _grids(db_engine).items():
        cells = _grid_cells(geom)
        if cells:
            share = len(cells & visited) / len(cells)
            assert float(kpi[code][5]) == pytest.approx(share, abs=6e-5), code
            checked += 1
    assert checked > 600

    # Heat cells: h3 binning of the raw incident points.
    with db_engine.connect() as conn:
        pts = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom) FROM incident "
                "WHERE reported_at >= :start AND reported_at < :end"
            ),
            {"start": start, "end": end},
        ).all()
    cells = [h3.latlng_to_cell(y, x, 9) for x, y in pts]
    assert report.results["heat"] == {c: cells.count(c) for c in set(cells)}


def test_figures_equal_the_coverage_and_heat_apis(live_server, db_engine):
    start, end = _window(db_engine, 7)
    last = (end - timedelta(days=1)).date()
    report = load_page(
        f"{live_server}/dashboard?days=7",
        evaluate={
            "kpi": KPI_JS,
            "rising": "gridmapDash.heat.features.filter(f => f.properties.up)"
            ".map(f => f.properties.cell)",
            "rising_drawn": "document.querySelectorAll('.leaflet-dash-rising-pane path').length",
        },
    )
    kpi = report.results["kpi"]
    cov = httpx.get(
        f"{live_server}/v1/coverage/410799",
        params={"start": str(start.date()), "end": str(last)},
        timeout=60,
    ).json()
    api = {g["code"]: g for g in cov["grids"]}
    for code, row in kpi.items():
        share = api[code]["share_visited"]
        assert float(row[5]) == (pytest.approx(share, abs=6e-5) if share is not None else -1)
        since = api[code]["days_since_last_visit"]
        assert int(row[6]) == (since if since is not None else 9999)
    heat = httpx.get(f"{live_server}/v1/incidents/heat", params={"days": 7}, timeout=60).json()
    api_grids = {g["code"]: g for g in heat["grids"]}
    for code, row in kpi.items():
        assert int(row[2]) == api_grids[code]["count"]
        assert int(row[3]) == api_grids[code]["change"]
    rising = {c["cell"] for c in heat["cells"] if c["rising"]}
    assert rising and set(report.results["rising"]) == rising
    assert report.results["rising_drawn"] == len(rising)


def test_street_filter_draws_gaps_and_slider_shows_one_day(live_server, db_engine):
    street = "410799002"
    url = f"{live_server}/dashboard?street={street}&from=2026-10-17&to=2026-10-31&lang=zh"
    shot = SHOTS / "dashboard_street.png"
    report = load_page(
        url,
        screenshot=shot,
        evaluate={
            "kpi": KPI_JS,
            "gaps": "gridmapDash.gaps.features.map(f => f.properties.cell)",
            "slider": SLIDER_JS % 9,
            "street": "document.querySelector('select[name=street]').value",
        },
    )
    print(f"screenshot (street, gaps, slider on 2026-10-26): {shot}")
    assert report.problems == []
    grids = {c: g for c, (g, s) in _grids(db_engine).items() if s == street}
    assert set(report.results["kpi"]) == set(grids)
    assert report.results["street"] == street
    # Gaps: cells of the street's grids not visited from 10-17 to 10-31.
    visited = _visited(db_engine, date(2026, 10, 17), date(2026, 10, 31))
    cells = set().union(*(_grid_cells(g) for g in grids.values()))
    assert set(report.results["gaps"]) == cells - visited and cells - visited
    # The slider on day 10 (2026-10-26) shows that day's cells only.
    label, shown = report.results["slider"]
    assert label == "2026-10-26"
    with db_engine.connect() as conn:
        pts = conn.execute(
            text(
                "SELECT ST_X(i.geom), ST_Y(i.geom) FROM incident i "
                "JOIN admin_unit_version s ON s.unit_id = i.street_unit_id "
                "AND s.valid_from IS NOT NULL AND s.valid_to IS NULL "
                "WHERE s.code = :s AND i.reported_at >= '2026-10-26T00:00:00+08:00' "
                "AND i.reported_at < '2026-10-27T00:00:00+08:00'"
            ),
            {"s": street},
        ).all()
    assert shown == len({h3.latlng_to_cell(y, x, 9) for x, y in pts}) > 0


def test_kpi_table_sorts_and_zooms_and_compounds_cluster(live_server, page_zh, db_engine):
    shot = SHOTS / "dashboard_zoomed.png"
    report = load_page(
        f"{live_server}/dashboard",
        screenshot=shot,
        evaluate={"sorted": SORT_JS, "zoom": ZOOM_JS, "compounds": COMPOUNDS_JS},
    )
    print(f"screenshot (zoomed to the top unowned grid, compounds on): {shot}")
    assert report.problems == []
    icons, markers = report.results["compounds"]
    with db_engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM compound")).scalar()
    assert icons > 0 and markers == n  # every compound is in the cluster group
    top = report.results["sorted"]
    assert top == sorted(top, reverse=True)  # numeric columns sort descending first
    z0, z1, highlighted = report.results["zoom"]
    assert z1 > z0
    assert highlighted == 1  # the clicked grid is outlined


def test_dashboard_in_english(live_server):
    shot = SHOTS / "dashboard_en.png"
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
    assert "Grid governance dashboard" in html and "(7 days)" in html
    assert "巡防覆盖率" not in html


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"days": 0}, 422),
        ({"lang": "fr"}, 422),
        ({"res": 6}, 422),
        ({"category": "nope"}, 422),
        ({"street": "999"}, 404),
        ({"from": "2026-10-20", "to": "2026-10-01"}, 422),
    ],
)
def test_bad_query_is_refused(live_server, params, status):
    assert httpx.get(f"{live_server}/dashboard", params=params).status_code == status


def test_amap_overlays_are_shifted_to_gcj02(loaded, test_settings, db_engine):
    settings = test_settings.model_copy(update={"basemap": "amap"})
    with TestClient(create_app(settings)) as c:
        page = c.get("/dashboard", params={"community": "410799001001"}).text
    data = json.loads(re.search(r"var gridmapDash = (\{.*?\});\n", page).group(1))
    feature = data["grids"]["features"][0]
    with db_engine.connect() as conn:
        x, y = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing("
                "ST_GeometryN(geom, 1)), 1) AS p FROM admin_unit_version WHERE code = :c "
                "AND valid_from IS NOT NULL AND valid_to IS NULL) q"
            ),
            {"c": feature["properties"]["code"]},
        ).one()
    gx, gy = wgs84_to_gcj02(np.array([x]), np.array([y]))
    assert feature["geometry"]["coordinates"][0][0][0] == pytest.approx(
        [float(gx[0]), float(gy[0])], abs=1.1e-6
    )
    assert abs(float(gx[0]) - x) > 1e-3  # the shift is real (hundreds of metres)


def _tiles(west, south, east, north, zooms):
    """XYZ (z, x, y) of the web-Mercator tiles covering a lon/lat box."""

    def xy(lon, lat, z):
        n = 2**z
        lat_r = np.radians(lat)
        return (
            int((lon + 180) / 360 * n),
            int((1 - np.log(np.tan(lat_r) + 1 / np.cos(lat_r)) / np.pi) / 2 * n),
        )

    for z in zooms:
        (xa, ya), (xb, yb) = xy(west, north, z), xy(east, south, z)
        for x in range(xa, xb + 1):
            for y in range(ya, yb + 1):
                yield z, x, y


def _png(rgb=(230, 236, 240)) -> bytes:
    """A 256×256 single-colour PNG, written by hand (no imaging library needed)."""
    raw = b"".join(b"\x00" + bytes(rgb) * 256 for _ in range(256))

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + (chunk(b"IEND", b""))
    )


@pytest.fixture(scope="module")
def tile_server(loaded, test_settings, tmp_path_factory, sample):
    """A second server with ``basemap=local`` and a tile folder around the district."""
    folder = tmp_path_factory.mktemp("tiles")
    x0, y0, x1, y1 = sample.grids.total_bounds
    png = _png()
    for z, x, y in _tiles(x0 - 0.6, y0 - 0.4, x1 + 0.6, y1 + 0.4, range(9, 15)):
        path = folder / str(z) / str(x) / f"{y}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    with serve(
        test_settings, folder, GRIDMAP_BASEMAP="local", GRIDMAP_BASEMAP_URL=str(folder)
    ) as base:
        yield base, folder, png


def test_local_tile_folder_is_served_by_the_app(tile_server):
    base, folder, png = tile_server
    tile = next(p for p in folder.rglob("*.png"))
    z, x, y = tile.parts[-3], tile.parts[-2], tile.stem
    r = httpx.get(f"{base}/basemap/{z}/{x}/{y}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content == png
    assert httpx.get(f"{base}/basemap/3/0/0.png").status_code == 404
    shot = SHOTS / "dashboard_local_tiles.png"
    # Warm the page cache first: the second server builds it from scratch, and on a
    # busy 2-core machine that plus ~40 tile requests can outlast the default wait.
    assert httpx.get(f"{base}/dashboard", params={"lang": "en"}, timeout=120).status_code == 200
    report = load_page(f"{base}/dashboard?lang=en", screenshot=shot, timeout_s=90)
    print(f"screenshot (local tiles): {shot}")
    # Leaflet cancels tiles it no longer needs when the view settles (fitBounds): those
    # show as ERR_ABORTED and are not failures; anything else is.
    problems = [
        p for p in report.problems if not ("/basemap/" in p and p.endswith("net::ERR_ABORTED"))
    ]
    assert problems == []
    tiles = [u for u in report.requests if "/basemap/" in u]
    assert tiles and all(u.startswith(base) for u in report.requests if not u.startswith("data:"))


def test_mbtiles_basemap_is_served_by_the_app(loaded, test_settings, tmp_path):
    path = tmp_path / "base.mbtiles"
    png = _png((200, 210, 220))
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE tiles (zoom_level int, tile_column int, tile_row int, tile_data blob)"
        )
        # XYZ tile 12/3392/1623 is TMS row 2**12 - 1 - 1623.
        db.execute("INSERT INTO tiles VALUES (12, 3392, ?, ?)", (4095 - 1623, png))
    settings = test_settings.model_copy(update={"basemap": "local", "basemap_url": str(path)})
    with TestClient(create_app(settings)) as c:
        r = c.get("/basemap/12/3392/1623.png")
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.content == png
        missing = c.get("/basemap/12/3392/1624.png")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        page = c.get("/dashboard", params={"community": "410799001001"}).text
    assert '"/basemap/{z}/{x}/{y}.png"' in page
