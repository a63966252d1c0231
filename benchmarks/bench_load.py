"""Geocoding and incident intake together under load, on loopback (issue 8).

One in five requests reports an incident (a new external id each), the rest are reverse
geocodes of points inside the district; 16 concurrent clients for a bounded time
(default 60 s, at most 2 minutes). Prints requests/s, p50/p99 latency per kind, errors,
and whether the database holds exactly the incidents that were acknowledged. The
incidents it stores are deleted afterwards. ``tests/api/test_load.py`` runs the same
workload for 20 s and asserts zero errors and acknowledged = stored.

Run: ``uv run python -m benchmarks.bench_load [--seconds 60]`` (needs the sample loaded:
``gridmap sample load``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
import numpy as np
import shapely
import sqlalchemy as sa

CONCURRENCY = 16


def points_inside(engine, n: int) -> np.ndarray:
    with engine.connect() as conn:
        wkbs = conn.execute(
            sa.text(
                "SELECT ST_AsBinary(ST_PointOnSurface(geom)) FROM admin_unit_version"
                " WHERE level = 'grid' AND valid_from IS NOT NULL AND valid_to IS NULL"
            )
        ).scalars()
        pts = shapely.get_coordinates(shapely.from_wkb([bytes(w) for w in wkbs]))
    return pts[np.random.default_rng(3).integers(0, len(pts), n)]


async def run_load(base: str, points: np.ndarray, run_id: str, seconds: float) -> dict:
    """Drive the workload; returns counts, latencies (s), errors and acknowledged ids."""
    out = {"geocode": [], "intake": [], "errors": [], "acknowledged": set(), "seconds": seconds}
    deadline = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            k = next(counter)
            lon, lat = (float(v) for v in points[k % len(points)])
            t0 = time.perf_counter()
            try:
                if k % 5 == 0:
                    ext = f"{run_id}-{k}"
                    r = await client.post(
                        "/v1/incidents",
                        json={
                            "source": "other",
                            "external_id": ext,
                            "category": "other",
                            "lon": lon,
                            "lat": lat,
                            "crs": "wgs84",
                            "reported_at": "2026-11-20T08:00:00+08:00",
                        },
                    )
                    if r.status_code == 201:
                        out["acknowledged"].add(ext)
                        out["intake"].append(time.perf_counter() - t0)
                    else:
                        out["errors"].append(f"intake {r.status_code}: {r.text[:200]}")
                else:
                    r = await client.get("/v1/geocode/reverse", params={"lon": lon, "lat": lat})
                    if r.status_code == 200:
                        out["geocode"].append(time.perf_counter() - t0)
                    else:
                        out["errors"].append(f"reverse {r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as e:
                out["errors"].append(f"{type(e).__name__}: {e}")

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return out


def stored_ids(engine, run_id: str) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text(
                    "SELECT external_id FROM incident"
                    " WHERE source = 'other' AND external_id LIKE :p"
                ),
                {"p": f"{run_id}-%"},
            ).scalars()
        )


def summary(out: dict, stored: set[str]) -> str:
    def pct(xs, q):
        return float(np.percentile(xs, q)) * 1000 if xs else float("nan")

    n = len(out["geocode"]) + len(out["intake"])
    return (
        f"{n / out['seconds']:,.0f} req/s over {out['seconds']:.0f} s "
        f"({len(out['geocode']):,} reverse, {len(out['intake']):,} incidents); "
        f"reverse p50 {pct(out['geocode'], 50):.1f} ms p99 {pct(out['geocode'], 99):.1f} ms; "
        f"intake p50 {pct(out['intake'], 50):.1f} ms p99 {pct(out['intake'], 99):.1f} ms; "
        f"errors {len(out['errors'])}; acknowledged {len(out['acknowledged']):,} = stored "
        f"{len(stored):,}: {out['acknowledged'] == stored}"
    )


def main(argv: list[str] | None = None) -> None:
    from geo.settings import Settings
    from geo.store.db import make_engine

    from benchmarks.bench_http_reverse import running_server

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args(argv)
    seconds = min(args.seconds, 120)
    engine = make_engine(Settings())
    run_id = f"bench-load-{uuid.uuid4().hex[:8]}"
    with running_server() as (base, _pids):
        out = asyncio.run(run_load(base, points_inside(engine, 5000), run_id, seconds))
    stored = stored_ids(engine, run_id)
    print(summary(out, stored))
    with engine.begin() as conn:  # leave the demo database as it was
        conn.execute(
            sa.text("DELETE FROM incident WHERE source = 'other' AND external_id LIKE :p"),
            {"p": f"{run_id}-%"},
        )
    engine.dispose()


if __name__ == "__main__":
    main()
