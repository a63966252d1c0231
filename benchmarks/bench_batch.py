"""Batch reverse geocoding throughput: over HTTP end to end, and in-process.

Starts the service under uvicorn on a loopback port (settings from the environment,
so the local database with the sample district: ``uv run gridmap db up && uv run
gridmap sample load``), mounts nothing itself: the server must serve
``POST /v1/geocode/reverse/batch`` (the script adds the router through a tiny factory
if ``api.app`` does not mount it yet). Then, for N random points in the grids'
bounding box:

* HTTP: POST an N-row Parquet (id, lon, lat) and read the whole Parquet answer back;
  points/s = N / wall time from the first byte sent to the last byte received;
* in-process: ``geo.lookup.batch.reverse_frame`` on the same points.

Median of ``--runs`` runs after a warm-up. Target (issue): ≥ 1,000,000 points/s over HTTP.

Run: ``uv run python -m benchmarks.bench_batch [--points 2000000] [--runs 5] [--write]``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from geo.lookup.batch import reverse_frame
from geo.services.state import ServiceState
from geo.settings import PROJECT_ROOT, Settings
from geo.store.db import make_engine

URL = "/v1/geocode/reverse/batch"
FACTORY = "benchmarks.bench_batch:app_with_batch"


def app_with_batch():
    """``create_app()`` plus the batch router when app.py does not mount it yet."""
    from api.app import create_app
    from api.routers import geocode_batch

    app = create_app()
    if not any(getattr(r, "path", None) == URL for r in app.routes):
        app.include_router(geocode_batch.router)
    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", FACTORY, "--factory", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "warning"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _time_http(body: bytes, runs: int, points: int, frame) -> tuple[list[float], bytes]:
    """Seconds per upload of ``body`` to a fresh server (after a warm-up), and the last
    answer, checked equal to the in-process ``frame``."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_batch_{os.getpid()}.log"
    proc, base = _start_server(log)
    http = []
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            headers = {"content-type": "application/vnd.apache.parquet"}
            for i in range(runs + 1):
                t = time.perf_counter()
                r = client.post(URL, content=body, headers=headers)
                data = r.content
                elapsed = time.perf_counter() - t
                r.raise_for_status()
                if i:
                    http.append(elapsed)
            out = pq.read_table(io.BytesIO(data))
            assert out.num_rows == points
            got = out.column("grid_code").to_pandas().to_numpy(dtype=object, na_value=None)
            want = frame["grid_code"].to_numpy(dtype=object, na_value=None)
            assert (got == want).all(), "HTTP and in-process answers differ"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return http, data


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write", action="store_true", help="write benchmarks/results_batch.md")
    args = ap.parse_args(argv)

    settings = Settings()
    engine = make_engine(settings)
    state = ServiceState(settings, engine)
    state.refresh()
    engine.dispose()
    locator = state.geocoder.locator
    minx, miny, maxx, maxy = locator.grids.total_bounds
    rng = np.random.default_rng(20261123)
    lon = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)
    table = pa.table({"id": np.arange(args.points), "lon": lon, "lat": lat})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    body = buf.getvalue()

    local = []
    for i in range(args.runs + 1):
        t = time.perf_counter()
        frame = reverse_frame(locator, lon, lat, "wgs84")
        if i:
            local.append(time.perf_counter() - t)
    found = float(frame["grid_code"].notna().mean())

    http, data = _time_http(body, args.runs, args.points, frame)

    n = args.points
    mh, ml = statistics.median(http), statistics.median(local)
    lines = [
        "# Batch reverse geocoding throughput",
        "",
        f"Command: `uv run python -m benchmarks.bench_batch --points {n} --runs {args.runs}"
        + (" --write`" if args.write else "`"),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, pyarrow {pa.__version__}; 1-minute load average "
        f"{os.getloadavg()[0]:.1f} at the end. Data: {len(locator)} live grids, {n:,} uniform "
        f"random points in their bounding box, {found:.1%} of them in a grid; request body "
        f"{len(body) / 2**20:.1f} MiB Parquet (id, lon, lat), answer {len(data) / 2**20:.1f} MiB.",
        "",
        f"Median of {args.runs} runs after a warm-up run (HTTP answers checked equal to the "
        "in-process ones).",
        "",
        "| what | median | points/s | target |",
        "|---|---|---|---|",
        f"| HTTP `POST {URL}`, Parquet in → Parquet out, one uvicorn worker on loopback | "
        f"{mh * 1000:.0f} ms | {n / mh / 1e6:.2f} M | ≥ 1 M |",
        f"| in-process `geo.lookup.batch.reverse_frame` (CRS wgs84, no H3) | {ml * 1000:.0f} ms | "
        f"{n / ml / 1e6:.2f} M | |",
        "",
        f"All HTTP runs (s): {', '.join(f'{v:.3f}' for v in http)}; "
        f"in-process (s): {', '.join(f'{v:.3f}' for v in local)}.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (PROJECT_ROOT / "benchmarks" / "results_batch.md").write_text(text)


if __name__ == "__main__":
    main()
