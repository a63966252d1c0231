"""Reverse lookups, point → grid: ``GridLocator.locate_many`` against its baselines.

On the live grids of the database (the sample district after ``gridmap sample load``),
for N random points in the grids' bounding box, the median of several runs of:

* ``GridLocator.locate_many`` (lattice + exact border test), the thing measured;
* shapely 2 ``STRtree.query(points, predicate="covered_by")`` on the same polygons
  (query only: building the point objects is timed apart and not charged to it);
* PostGIS ``ST_Contains`` join with GiST on the same polygons, points in a fresh
  temporary table (loaded and analysed before the clock starts, GiST on both sides;
  ``count(*)`` so no rows travel back: PostGIS's best case).

Answers are cross-checked (locator = STRtree with the smallest code = PostGIS counts)
before any time is reported. Targets (issue): ≥ 10× STRtree and ≥ 40× PostGIS.
Also reported: build time and memory of the locator, and h3-py's per-point cell
rate, which is why the locator uses a lon/lat lattice rather than H3 cells.

Run: ``uv run gridmap db up && uv run gridmap sample load``, then
``uv run python -m benchmarks.bench_reverse [--points 1000000] [--runs 5] [--write]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa

from geo import hexgrid
from geo.lookup.locator import GridLocator
from geo.lookup.raster import orientation
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store.db import make_engine

RESULTS = Path(__file__).with_name("results_reverse.md")
TARGET_VS_STRTREE = 10.0
TARGET_VS_POSTGIS = 40.0

LIVE_GRIDS = "v.level = 'grid' AND v.valid_from IS NOT NULL AND v.valid_to IS NULL"


def _median_s(fn, runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up, not counted
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def _postgis(engine, lon: np.ndarray, lat: np.ndarray, runs: int) -> tuple[float, int, str]:
    with engine.connect() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS bench_pts"))
        conn.execute(
            sa.text(
                "CREATE TEMP TABLE bench_pts AS SELECT i::int AS i, "
                "ST_SetSRID(ST_MakePoint(x, y), 4326)::geometry(Point, 4326) AS geom "
                "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) "
                "WITH ORDINALITY AS t(x, y, i)"
            ),
            {"x": lon.tolist(), "y": lat.tolist()},
        )
        conn.execute(sa.text("CREATE INDEX ON bench_pts USING gist (geom)"))
        conn.execute(sa.text("ANALYZE bench_pts"))
        join = (
            "SELECT count(*) FROM bench_pts p JOIN admin_unit_version v "
            f"ON {LIVE_GRIDS} AND ST_Contains(v.geom, p.geom)"
        )
        plan = "\n".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + join)))
        hits = conn.execute(sa.text(join)).scalar_one()  # warm-up
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            conn.execute(sa.text(join)).scalar_one()
            times.append(time.perf_counter() - t)
        conn.execute(sa.text("DROP TABLE bench_pts"))
        conn.commit()
    return statistics.median(times), int(hits), plan


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--cell-m", type=float, default=None, help="lattice cell size (m)")
    ap.add_argument("--no-postgis", action="store_true", help="skip the PostGIS baseline")
    ap.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()[0]
    settings = Settings()
    engine = make_engine(settings)
    with engine.connect() as conn:
        units = bstore.units_frame(conn)
    if not (units["level"] == "grid").any():
        print("no live grids: run `uv run gridmap sample load` first", file=sys.stderr)
        return 1
    m = _measure(args, settings, units)
    if m is None:
        return 2
    m["t_pg"] = m["pg_hits"] = m["plan"] = None
    if not args.no_postgis:
        m["t_pg"], m["pg_hits"], m["plan"] = _postgis(engine, m["lon"], m["lat"], args.runs)
        if m["pg_hits"] != m["pairs"]:  # ST_Contains: border points count once per grid
            print(f"note: PostGIS ST_Contains pairs {m['pg_hits']} vs covered_by {m['pairs']}")
    engine.dispose()
    text = _report(args, settings, m, load0)
    print(text)
    if args.write:
        RESULTS.write_text(text)
        print(f"written to {RESULTS}")
    return 0


def _measure(args: argparse.Namespace, settings: Settings, units) -> dict | None:
    """Build the locator and time it against STRtree and h3; None on a mismatch."""
    kw = {} if args.cell_m is None else {"cell_m": args.cell_m}
    # Python and numpy allocations (GEOS's own, e.g. prepared-geometry indexes, are
    # not traced; the geometries themselves come with the units frame).
    gc.collect()
    tracemalloc.start()
    locator = GridLocator(units, "bench", **kw)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    builds = [GridLocator(units, "bench", **kw).build_seconds for _ in range(args.runs)]

    geoms = np.asarray(locator.grids.geometry.values, dtype=object)
    rng = np.random.default_rng(args.seed)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    lon = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)

    rows = locator.locate_many(lon, lat)
    t_loc, _ = _median_s(lambda: locator.locate_many(lon, lat), args.runs)

    tree = shapely.STRtree(shapely.from_wkb(shapely.to_wkb(geoms)))  # unprepared copies
    t = time.perf_counter()
    points = shapely.points(lon, lat)
    t_points = time.perf_counter() - t
    pi, gi = tree.query(points, predicate="covered_by")
    t_tree, _ = _median_s(lambda: tree.query(points, predicate="covered_by"), args.runs)
    want = np.full(args.points, -1, dtype=np.int64)
    order = np.lexsort((-gi, pi))  # rows are in code order: smallest written last
    want[pi[order]] = gi[order]
    if not np.array_equal(rows, want):
        print(f"MISMATCH with STRtree on {(rows != want).sum()} points", file=sys.stderr)
        return None

    n_h3 = min(args.points, 200_000)
    t = time.perf_counter()
    hexgrid.cells_of_each(lon[:n_h3], lat[:n_h3], settings.h3_point_res)
    h3_rate = n_h3 / (time.perf_counter() - t)
    in_border, to_geos = _path_shares(locator, lon, lat)
    return {
        "lon": lon,
        "lat": lat,
        "rows": rows,
        "pairs": len(pi),
        "stats": locator.stats(),
        "held": held,
        "peak": peak,
        "builds": builds,
        "t_loc": t_loc,
        "t_tree": t_tree,
        "t_points": t_points,
        "h3_rate": h3_rate,
        "in_border": in_border,
        "to_geos": to_geos,
    }


def _report(args: argparse.Namespace, settings: Settings, m: dict, load0: float) -> str:
    """The results as Markdown (what --write stores in results_reverse.md)."""
    n, stats, t_loc, t_tree, t_pg = args.points, m["stats"], m["t_loc"], m["t_tree"], m["t_pg"]
    lines = [
        "# Reverse lookup benchmark (point → grid)",
        "",
        f"Command: `uv run python -m benchmarks.bench_reverse --points {n} --runs {args.runs}"
        + (f" --cell-m {args.cell_m}" if args.cell_m else "")
        + (" --write`" if args.write else "`"),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}, shapely {shapely.__version__} "
        f"(GEOS {shapely.geos_version_string}); 1-minute load average {load0:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after (other work on the machine slows all rows alike).",
        "",
        f"Data: the live grids of `{settings.pg_database}` ({stats['grids']} grids), "
        f"{n:,} uniform random points in their bounding box (seed {args.seed}), "
        f"{(m['rows'] >= 0).mean():.1%} of them in a grid. Median of {args.runs} runs after a "
        "warm-up run.",
        "",
        "| method | median | points/s | locator is faster by | target |",
        "|---|---|---|---|---|",
        f"| `GridLocator.locate_many` | {t_loc * 1e3:.1f} ms | {n / t_loc / 1e6:.1f} M | | |",
        f'| shapely STRtree `query(points, predicate="covered_by")` | {t_tree * 1e3:.0f} ms | '
        f"{n / t_tree / 1e6:.2f} M | **{t_tree / t_loc:.0f}×** | ≥ {TARGET_VS_STRTREE:.0f}× |",
    ]
    if t_pg is not None:
        lines.append(
            f"| PostGIS `ST_Contains` join, GiST | {t_pg * 1e3:.0f} ms | {n / t_pg / 1e6:.2f} M | "
            f"**{t_pg / t_loc:.0f}×** | ≥ {TARGET_VS_POSTGIS:.0f}× |"
        )
    h3_rate = m["h3_rate"]
    lines += [
        "",
        f"Not charged to STRtree: building the {n:,} shapely points, {m['t_points'] * 1e3:.0f} ms.",
        f"h3-py `latlng_to_cell` (res {settings.h3_point_res}, through"
        f" `geo.hexgrid.cells_of_each`): {h3_rate / 1e6:.2f} M points/s: the cells alone would"
        f" take {n / h3_rate / t_loc:.0f}× as long as the whole locator lookup, hence the"
        " lon/lat lattice.",
        "",
        "Locator build and size:",
        "",
        "| measure | value |",
        "|---|---|",
        f"| build, median of {args.runs} | {statistics.median(m['builds']) * 1e3:.0f} ms |",
        f"| lattice | {stats['nx']} × {stats['ny']} = {stats['cells']:,} cells of "
        f"{stats['cell_dx_deg']:.2e}° × {stats['cell_dy_deg']:.2e}° |",
        f"| border cells | {stats['border_cells']:,} ({stats['border_share']:.1%}), "
        f"{stats['single_line_cells']:,} of them cut by one edge only |",
        f"| points in border cells / sent to the GEOS test | {m['in_border']:.1%} / "
        f"{m['to_geos']:.2%} |",
        f"| index arrays | {stats['index_bytes'] / 1e6:.1f} MB |",
        f"| held by the locator after the build (tracemalloc) | {m['held'] / 1e6:.1f} MB |",
        f"| peak during the build (tracemalloc) | {m['peak'] / 1e6:.1f} MB |",
    ]
    if m["plan"]:
        lines += ["", "PostGIS plan:", "", "```", m["plan"], "```"]
    return "\n".join(lines) + "\n"


def _path_shares(locator: GridLocator, lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """Share of points in border cells, and share that needed the GEOS test."""
    idx = locator._index
    u = ((lon - idx.x0) * idx.inv_dx).astype(np.int64)
    v = ((lat - idx.y0) * idx.inv_dy).astype(np.int64)
    ok = (u >= 0) & (u < idx.nx) & (v >= 0) & (v < idx.ny)
    val = idx.table[(v * idx.nx + u)[ok]]
    hard = val < -1
    hp = idx.hp_cell[-2 - val[hard]]
    line = idx.hp_line[hp[hp >= 0]]
    _, sure = orientation(*line.T, lon[ok][hard][hp >= 0], lat[ok][hard][hp >= 0])
    return hard.sum() / len(lon), ((hp < 0).sum() + (~sure).sum()) / len(lon)


if __name__ == "__main__":
    raise SystemExit(main())
