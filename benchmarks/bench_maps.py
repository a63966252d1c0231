"""Map page size and time to first full render in headless Chromium: the dashboard of
the sample district, and the planner of the sample (611 grids) and of a synthetic
20,000-grid city.

Targets (issue 7): the sample dashboard < 3 MB and < 2 s; the 20,000-grid planner map
first renders in < 5 s. The dashboard is built from the database (``gridmap sample
load`` first) with the default 30-day window; the planner page is
built in-process (no database: the frames come from the sample generator and from
``bench_validate.synthetic_city``), written to a temporary folder next to the vendored
assets and served by a loopback static server, then opened in Debian's Chromium. "First
full render" is the time from navigation start until the planner's script has run (all
grid paths are on the map) and the next animation frame has been painted.

Run: ``uv run python benchmarks/bench_maps.py [--runs 3] [--grids 20000]``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import statistics
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from benchmarks.bench_validate import synthetic_city
from boundaries.sample import generate_sample_district
from web_map.assets import STATIC_DIR
from web_map.pages.planner import build_planner_map

TARGET_S = 5.0
DASHBOARD_TARGET_S = 2.0
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _levels_sample():
    s = generate_sample_district()
    return {
        "district": s.district,
        "street": s.streets,
        "community": s.communities,
        "grid": s.grids,
    }, s.special_grids


def _levels_city(n: int):
    units = synthetic_city(n).to_crs(4326)
    return {
        lvl: units[units["level"] == lvl] for lvl in ("district", "street", "community", "grid")
    }, None


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


PLANNER_READY = "window.gridmapPlanner !== undefined"
# The dashboard's last script builds the KPI table: its rows mean every layer is drawn.
DASHBOARD_READY = "document.querySelectorAll('#dash-kpi tbody tr').length > 0"


def _render_times(url: str, runs: int, ready: str = PLANNER_READY) -> list[float]:
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=False)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url, wait_until="load", timeout=120_000)
            while not page.evaluate(ready):
                page.wait_for_timeout(20)
            t = page.evaluate(
                "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
                "() => r(performance.now()))))"
            )
            times.append(t / 1000.0)
            page.close()
        browser.close()
    return times


def _time_page(html: str, runs: int, ready: str) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="gridmap-bench-maps-") as tmp:
        folder = Path(tmp)
        (folder / "static").symlink_to(STATIC_DIR)
        (folder / "page.html").write_text(html, encoding="utf-8")
        server, base = _serve(folder)
        try:
            return _render_times(f"{base}/page.html", runs, ready)
        finally:
            server.shutdown()


def _report(label: str, html: str, times: list[float], target_s: float, what: str) -> dict:
    size_mb = len(html.encode()) / 1e6
    med = statistics.median(times)
    print(
        f"{label}: {what}, HTML {size_mb:.2f} MB, first full render median {med:.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}), ratio to the {target_s:g} s target "
        f"{med / target_s:.2f}"
    )
    return {"size_mb": size_mb, "median_s": med}


def measure(label: str, levels, special, runs: int) -> dict:
    html = build_planner_map(levels, special, None, static_url="/static").get_root().render()
    times = _time_page(html, runs, PLANNER_READY)
    return _report(label, html, times, TARGET_S, f"{len(levels['grid'])} grids")


def measure_dashboard(runs: int) -> dict:
    from geo.settings import Settings
    from geo.store.dashboard import DashboardFilters
    from geo.store.db import make_engine

    from web_map.pages.dashboard import render_dashboard

    settings = Settings()
    engine = make_engine(settings)
    html = render_dashboard(
        engine, settings, DashboardFilters(days=30), lang="zh", static_url="/static"
    )
    engine.dispose()
    times = _time_page(html, runs, DASHBOARD_READY)
    return _report("sample dashboard", html, times, DASHBOARD_TARGET_S, "30-day window")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--grids", type=int, default=20_000)
    args = parser.parse_args(argv)
    measure_dashboard(args.runs)
    measure("sample district planner", *_levels_sample(), args.runs)
    measure("synthetic city planner", *_levels_city(args.grids), args.runs)


if __name__ == "__main__":
    main()
