"""HTTP single-point reverse geocoding vs a trivial endpoint of the same app, with wrk.

Starts the service with 2 workers on a loopback port (against the local database with
the sample loaded: `gridmap db up && gridmap sample load`), then runs wrk on
``/livez`` (trivial JSON, no DB) and on ``/v1/geocode/reverse`` with the full answer,
alternately, several times each, and prints requests/s, latency percentiles and the
ratio. Target (issue 6): reverse ≥ 50 % of the trivial endpoint's requests/s. wrk
shares the 2 cores with the server, so absolute numbers are low; the ratio is what
counts.

On a machine shared with other work, requests/s moves with everybody else's load. So
each run also reports the CPU time the two server workers spent per request (from
/proc, user + system), which other processes barely disturb: the ratio of those is
the steadier measure of the same thing.

    apt-get install wrk
    uv run python -m benchmarks.bench_http_reverse --runs 5 --seconds 8 [--fields grid]
    uv run python -m benchmarks.bench_http_reverse --runs 5 --seconds 6 --lean-trivial
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

_TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (the uvicorn workers of the server process)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids`` (seconds)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICK


@contextlib.contextmanager
def running_server(
    workers: int = 2, app: str = "api.app:create_app"
) -> Iterator[tuple[str, list[int]]]:
    """The service on a free loopback port: (base URL, pids of its processes)."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
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
        yield base, [server.pid, *_children(server.pid)]
    finally:
        server.terminate()
        server.wait(timeout=20)


def sample_point(base: str) -> tuple[float, float]:
    """The location of the sample's first grid, as the search finds it."""
    point = httpx.get(f"{base}/v1/geocode/search", params={"q": "410799001001001"}).json()[0]
    return point["location"]["lon"], point["location"]["lat"]


def _wrk(url: str, seconds: int, connections: int, pids: list[int]) -> dict:
    cpu0 = cpu_seconds(pids)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = cpu_seconds(pids) - cpu0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    n = int(re.search(r"(\d+) requests in", out).group(1))
    lat = {m[0]: m[1] for m in re.findall(r"\s(50|90|99)%\s+([\d.]+\w+)", out)}
    return {
        "rps": rps,
        "cpu_us": cpu / max(n, 1) * 1e6,
        "lat": f"p50 {lat.get('50')}, p90 {lat.get('90')}, p99 {lat.get('99')}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--fields", help="also measure the reverse with this fields= value")
    ap.add_argument(
        "--lean-trivial",
        action="store_true",
        help="also measure /livez-lean, a trivial endpoint routed like the reverse "
        "(benchmarks/lean_trivial_app.py), and the ratio against it",
    )
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    factory = "benchmarks.lean_trivial_app:create_app" if args.lean_trivial else None
    with running_server(app=factory or "api.app:create_app") as (base, pids):
        lon, lat = sample_point(base)
        reverse = f"{base}/v1/geocode/reverse?lon={lon}&lat={lat}&crs=wgs84"
        assert httpx.get(reverse).status_code == 200
        cases = {"trivial": f"{base}/livez", "reverse": reverse}
        if args.lean_trivial:
            cases = {"trivial": f"{base}/livez", "trivial-lean": f"{base}/livez-lean", **cases}
            assert httpx.get(cases["trivial-lean"]).json() == httpx.get(cases["trivial"]).json()
        if args.fields:
            cases[f"fields={args.fields}"] = f"{reverse}&fields={args.fields}"
            assert httpx.get(cases[f"fields={args.fields}"]).status_code == 200
        results: dict[str, list[dict]] = {name: [] for name in cases}
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        for run in range(args.runs):
            for name, url in cases.items():
                r = _wrk(url, args.seconds, args.connections, pids)
                results[name].append(r)
                print(
                    f"run {run + 1} {name:16} {r['rps']:9,.0f} req/s  "
                    f"{r['cpu_us']:6.0f} µs server CPU/req  {r['lat']}",
                    flush=True,
                )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        med = {
            name: (
                statistics.median(r["rps"] for r in rs),
                statistics.median(r["cpu_us"] for r in rs),
            )
            for name, rs in results.items()
        }
        baselines = [b for b in ("trivial", "trivial-lean") if b in results]
        for name in baselines:
            rps, cpu = med[name]
            print(f"median {name} {rps:,.0f} req/s, {cpu:.0f} µs server CPU/req")
        for name, (rps, cpu) in med.items():
            if name in baselines:
                continue
            print(f"median {name} {rps:,.0f} req/s, {cpu:.0f} µs server CPU/req")
            for base_name in baselines:
                b_rps, b_cpu = med[base_name]
                paired = statistics.median(
                    r["rps"] / t["rps"]
                    for r, t in zip(results[name], results[base_name], strict=True)
                )
                print(
                    f"  vs {base_name}: ratio of medians {rps / b_rps:.2f}, median of "
                    f"per-run ratios {paired:.2f}, CPU ratio {b_cpu / cpu:.2f} (target ≥ 0.50)"
                )


if __name__ == "__main__":
    main()
