"""HTTP single-point reverse geocoding vs a trivial endpoint of the same app, with wrk.

Starts the service with 2 workers on a loopback port (against the local database with
the sample loaded: `gridmap db up && gridmap sample load`), then runs wrk on
``/livez`` (trivial JSON, no DB) and on ``/v1/geocode/reverse`` with the full answer,
several times each, and prints requests/s, latency percentiles and the ratio.
Target (issue 6): reverse ≥ 50 % of the trivial endpoint's requests/s. wrk shares the
2 cores with the server, so absolute numbers are low; the ratio is what counts.

    apt-get install wrk
    uv run python -m benchmarks.bench_http_reverse --runs 3 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrk(url: str, seconds: int, connections: int) -> tuple[float, str]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {m[0]: m[1] for m in re.findall(r"\s(50|90|99)%\s+([\d.]+\w+)", out)}
    return rps, f"p50 {lat.get('50')}, p90 {lat.get('90')}, p99 {lat.get('99')}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).json().get("grids_indexed"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.5)
        time.sleep(3)  # both workers up
        point = httpx.get(f"{base}/v1/geocode/search", params={"q": "410799001001001"}).json()[0]
        reverse = (
            f"{base}/v1/geocode/reverse?lon={point['location']['lon']}"
            f"&lat={point['location']['lat']}&crs=wgs84"
        )
        assert httpx.get(reverse).status_code == 200
        results = {"trivial": [], "reverse": []}
        for run in range(args.runs):
            for name, url in (("trivial", f"{base}/livez"), ("reverse", reverse)):
                rps, lat = _wrk(url, args.seconds, args.connections)
                results[name].append(rps)
                print(f"run {run + 1} {name:8} {rps:9,.0f} req/s  {lat}")
        t, r = statistics.median(results["trivial"]), statistics.median(results["reverse"])
        print(
            f"median trivial {t:,.0f} req/s, reverse {r:,.0f} req/s, "
            f"ratio {r / t:.2f} (target ≥ 0.50)"
        )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
