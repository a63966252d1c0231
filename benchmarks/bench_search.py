"""Gazetteer build time and search latency on the sample district.

Builds the query set of ``tests/geo/test_gazetteer.py`` (sample district + compound
twins, ≥ 60 queries with known answers), times ``Gazetteer(...)`` (best and median of
``--builds``) and every query ``--rounds`` times after one warm-up pass, and reports
median and p95 latency overall and per query family, plus top-1 accuracy (optionally
also on the query sets that ``--extra-seeds`` other seeds give: the same recipe, other
entities and typos).

    uv run python -m benchmarks.bench_search [--rounds 20] [--builds 5]
        [--extra-seeds 20] [--write]

``--write`` replaces ``benchmarks/results_search.md`` with the command and results.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from geo.gazetteer import Gazetteer  # noqa: E402

from boundaries.sample import DEFAULT_SEED, generate_sample_district  # noqa: E402
from tests.geo.test_gazetteer import build_query_set, candidate_identity  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results_search.md"


def _misses(gaz: Gazetteer, queries) -> list:
    """The queries whose best candidate is not their source (or lacks the building)."""
    wrong = []
    for q in queries:
        top = gaz.search(q.text, limit=10)
        if not (
            top
            and candidate_identity(top[0]) == q.key
            and (q.building is None or top[0].building == q.building)
        ):
            wrong.append(q)
    return wrong


def _ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1e3, q))


def run(rounds: int, builds: int, extra_seeds: int) -> dict:
    load_before = os.getloadavg()[0]
    sample = generate_sample_district(DEFAULT_SEED)
    qs = build_query_set(sample)
    build_times = []
    for _ in range(builds):
        start = time.perf_counter()
        gaz = Gazetteer(qs.units, qs.special_grids, qs.compounds)
        build_times.append(time.perf_counter() - start)

    wrong = _misses(gaz, qs.queries)  # also the warm-up pass
    per_family: dict[str, list[float]] = defaultdict(list)
    every: list[float] = []
    every_cpu: list[float] = []  # this thread's CPU time: what other jobs cannot inflate
    for _ in range(rounds):
        for q in qs.queries:
            cpu, start = time.thread_time(), time.perf_counter()
            gaz.search(q.text, limit=10)
            elapsed = time.perf_counter() - start
            every_cpu.append(time.thread_time() - cpu)
            per_family[q.family].append(elapsed)
            every.append(elapsed)
    counts = dict.fromkeys(("district", "street", "community", "grid"), 0)
    for level in qs.units["level"]:
        counts[level] += 1
    # The same recipe with other seeds: other entities, pieces and typos.
    extra, extra_wrong = 0, []
    for seed in range(1, extra_seeds + 1):
        other = build_query_set(sample, seed)
        extra += len(other.queries)
        other_gaz = Gazetteer(other.units, other.special_grids, other.compounds)
        extra_wrong += [(seed, q) for q in _misses(other_gaz, other.queries)]
    return {
        "load": (load_before, os.getloadavg()[0]),
        "extra": (extra_seeds, extra, extra_wrong),
        "entities": len(gaz),
        "counts": counts,
        "special": len(qs.special_grids),
        "compounds": len(qs.compounds),
        "queries": len(qs.queries),
        "accuracy": 1 - len(wrong) / len(qs.queries),
        "wrong": wrong,
        "build_best": min(build_times),
        "build_median": statistics.median(build_times),
        "builds": builds,
        "rounds": rounds,
        "cpu_p50": _ms(every_cpu, 50),
        "cpu_p95": _ms(every_cpu, 95),
        "p50": _ms(every, 50),
        "p95": _ms(every, 95),
        "max": _ms(every, 100),
        "families": {
            f: (len(v) // rounds, _ms(v, 50), _ms(v, 95)) for f, v in sorted(per_family.items())
        },
    }


def report(r: dict, command: str) -> str:
    lines = [
        "# Gazetteer search benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()}; 1-minute load average "
        f"{r['load'][0]:.1f} before and {r['load'][1]:.1f} after the run (other jobs on "
        "the machine inflate the tail).",
        "",
        f"Data: sample district (seed {DEFAULT_SEED}), {r['entities']} entities = "
        + ", ".join(f"{n} {k}" for k, n in r["counts"].items())
        + f", {r['special']} special grids, {r['compounds']} compounds (sample + twins).",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| build, best of {r['builds']} | {r['build_best'] * 1e3:.0f} ms | < ~2 s |",
        f"| build, median | {r['build_median'] * 1e3:.0f} ms | |",
        f"| search median ({r['queries']} queries × {r['rounds']}) | {r['p50']:.3f} ms | < ~2 ms |",
        f"| search p95 | {r['p95']:.3f} ms | |",
        f"| search max | {r['max']:.3f} ms | |",
        f"| search CPU time median / p95 | {r['cpu_p50']:.3f} / {r['cpu_p95']:.3f} ms | |",
        f"| top-1 accuracy on the query set | {r['accuracy']:.1%} | ≥ 95 % |",
    ]
    seeds, extra, extra_wrong = r["extra"]
    if seeds:
        lines.append(
            f"| top-1 accuracy, query sets of seeds 1–{seeds} | "
            f"{1 - len(extra_wrong) / extra:.1%} of {extra} | |"
        )
    lines += [f"| miss | {q.family}: {q.text} | |" for q in r["wrong"]]
    lines += [f"| miss (seed {seed}) | {q.family}: {q.text} | |" for seed, q in extra_wrong]
    lines += [
        "",
        "Per query family (limit = 10):",
        "",
        "| family | queries | median ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for family, (n, p50, p95) in r["families"].items():
        lines.append(f"| {family} | {n} | {p50:.3f} | {p95:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--builds", type=int, default=5)
    parser.add_argument(
        "--extra-seeds", type=int, default=0, help="also check accuracy on N more query sets"
    )
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    args = parser.parse_args(argv)
    result = run(args.rounds, args.builds, args.extra_seeds)
    command = "uv run python -m benchmarks.bench_search " + " ".join(argv or sys.argv[1:])
    text = report(result, command.strip())
    print(text)
    if args.write:
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
