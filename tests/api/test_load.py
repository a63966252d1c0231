"""A bounded load test on loopback: reverse geocoding and incident intake together for
20 s against the real server — zero errors, and afterwards the database holds exactly
the incidents that were acknowledged (no more, no fewer)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import numpy as np
import shapely
import sqlalchemy as sa

SECONDS = 20
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


async def _run(base: str, points: np.ndarray, run_id: str) -> dict:
    results = {"geocode": 0, "intake": 0, "errors": [], "acknowledged": set()}
    deadline = time.monotonic() + SECONDS
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            k = next(counter)
            lon, lat = (float(v) for v in points[k % len(points)])
            try:
                if k % 5 == 0:  # one in five requests reports an incident
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
                        results["acknowledged"].add(ext)
                        results["intake"] += 1
                    else:
                        results["errors"].append(f"intake {r.status_code}: {r.text[:200]}")
                else:
                    r = await client.get("/v1/geocode/reverse", params={"lon": lon, "lat": lat})
                    if r.status_code == 200:
                        results["geocode"] += 1
                    else:
                        results["errors"].append(f"reverse {r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as e:
                results["errors"].append(f"{type(e).__name__}: {e}")

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return results


def test_geocoding_and_intake_under_load(edit_server, edit_db):
    _settings, engine = edit_db
    run_id = f"load-{uuid.uuid4().hex[:8]}"
    out = asyncio.run(_run(edit_server, points_inside(engine, 5000), run_id))
    assert out["errors"] == []
    assert out["geocode"] > 100 and out["intake"] > 20  # it really ran under load
    with engine.connect() as conn:
        stored = set(
            conn.execute(
                sa.text(
                    "SELECT external_id FROM incident"
                    " WHERE source = 'other' AND external_id LIKE :p"
                ),
                {"p": f"{run_id}-%"},
            ).scalars()
        )
    assert stored == out["acknowledged"]
