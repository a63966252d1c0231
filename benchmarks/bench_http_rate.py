"""Latency of HTTP single reverse geocoding at a fixed request rate (open loop).

wrk keeps N connections busy as fast as the server answers (a closed loop), so its
percentiles say little about a service that receives, say, 2,000 requests per second
whatever happens; wrk2 (which holds a rate) is not packaged in Debian. This script
holds the rate itself: request i is due at ``t0 + i / rate``, is sent on a free
keep-alive connection from a pool, and its latency is counted from the moment it was
due, not from when it was sent, so a slow answer that delays later requests is
charged to them too (no "coordinated omission", as in wrk2).

The client is plain asyncio (uvloop if installed) on raw HTTP/1.1, a few µs per
request, and runs on the same 2 cores as the 2 server workers. Issue 6's target:
p99 < 5 ms at 2,000 requests/s with the full answer.

    uv run python -m benchmarks.bench_http_rate --rate 2000 --seconds 20 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from urllib.parse import urlsplit

from benchmarks.bench_http_reverse import cpu_seconds, running_server, sample_point


class _Client:
    """A pool of keep-alive connections sending one prepared GET."""

    def __init__(self, base: str, target: str, connections: int):
        u = urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.request = (
            f"GET {target} HTTP/1.1\r\nHost: {u.netloc}\r\nAccept: */*\r\n\r\n"
        ).encode()
        self.size = connections
        self.pool: asyncio.Queue = asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.pool.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def close(self) -> None:
        while not self.pool.empty():
            _, writer = self.pool.get_nowait()
            writer.close()

    async def get(self) -> int:
        reader, writer = await self.pool.get()
        try:
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection(self.host, self.port)
            status = 0
        self.pool.put_nowait((reader, writer))
        return status


async def _run(client: _Client, rate: float, seconds: float) -> tuple[list[float], int, float]:
    """Latencies (s) of ``rate * seconds`` requests sent on schedule; errors; span (s)."""
    latencies: list[float] = []
    errors = 0
    n = int(rate * seconds)

    async def one(due: float) -> None:
        nonlocal errors
        status = await client.get()
        latencies.append(time.perf_counter() - due)
        errors += status != 200

    tasks = set()
    t0 = time.perf_counter() + 0.05
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    return latencies, errors, time.perf_counter() - t0


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 10) - 1]


async def _measure(base: str, target: str, args, pids: list[int]) -> dict:
    client = _Client(base, target, args.connections)
    await client.open()
    try:
        await _run(client, args.rate, 2.0)  # warm-up, not counted
        cpu0, own0 = cpu_seconds(pids), time.process_time()
        lat, errors, span = await _run(client, args.rate, args.seconds)
        cpu = cpu_seconds(pids) - cpu0
        own = time.process_time() - own0
    finally:
        await client.close()
    ms = sorted(v * 1e3 for v in lat)
    return {
        "sent": len(ms),
        "achieved": len(ms) / span,
        "errors": errors,
        "p50": _pct(ms, 50),
        "p90": _pct(ms, 90),
        "p99": _pct(ms, 99),
        "p999": _pct(ms, 99.9),
        "max": ms[-1],
        "cpu": cpu / span,
        "client_cpu": own / span,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=float, default=2000.0, help="requests per second")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--fields", help="fields= for the reverse requests (default: all)")
    ap.add_argument("--trivial", action="store_true", help="GET /livez instead (baseline)")
    args = ap.parse_args()
    if args.seconds * args.runs > 60:
        ap.error("keep runs × seconds within 60 s")
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with running_server() as (base, pids):
        lon, lat = sample_point(base)
        target = f"/v1/geocode/reverse?lon={lon}&lat={lat}&crs=wgs84"
        if args.fields:
            target += f"&fields={args.fields}"
        if args.trivial:
            target = "/livez"
        print(f"{target} at {args.rate:,.0f} req/s, {args.connections} connections")
        print(f"load average before: {os.getloadavg()[0]:.1f}")
        p99s = []
        for run in range(args.runs):
            r = asyncio.run(_measure(base, target, args, pids))
            p99s.append(r["p99"])
            print(
                f"run {run + 1}: {r['sent']:,} requests, {r['achieved']:,.0f} req/s, "
                f"{r['errors']} errors; latency ms p50 {r['p50']:.2f}, p90 {r['p90']:.2f}, "
                f"p99 {r['p99']:.2f}, p99.9 {r['p999']:.2f}, max {r['max']:.1f}; "
                f"CPU: server {r['cpu'] * 100:.0f} %, client {r['client_cpu'] * 100:.0f} % "
                "of one core",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"median p99 {statistics.median(p99s):.2f} ms (target < 5 ms)")


if __name__ == "__main__":
    main()
