"""Start-up time of the ``gridmap`` command line, against bare Python in the same run.

Runs ``gridmap --help`` and ``gridmap db status`` (the latter needs the database up)
``--runs`` times each as real processes, round-robin with two baselines on the same
interpreter: ``python -c pass`` and ``python -c "import typer"`` (the floor of any Typer
CLI). Prints each median and its ratio to both baselines; exits 1 when a target of
issue 14 is missed: ``--help`` median ≤ 0.5 s, ``db status`` median ≤ 1.5 s.

Processes inherit the environment: with ``PYTHONDONTWRITEBYTECODE=1`` (as on the
project's CI machine) every module is compiled from source at each start, the worst
case. ``--warm-bytecode`` measures the usual case instead: bytecode cached (in a
temporary ``PYTHONPYCACHEPREFIX``, so the tree stays clean) by one run before timing.

    uv run python -m benchmarks.bench_cli --runs 15
    uv run python -m benchmarks.bench_cli --runs 15 --warm-bytecode
    git archive HEAD~1 | tar -x -C /tmp/old && GRIDMAP_PG_DIR=$PWD/var/pg \
        uv run python -m benchmarks.bench_cli --tree /tmp/old   # the same, before
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"gridmap --help": 0.5, "gridmap db status": 1.5}


def _gridmap(tree: Path | None) -> list[str]:
    """The installed ``gridmap`` script next to this interpreter, else ``-m api.cli``."""
    script = Path(sys.executable).with_name("gridmap")
    if tree is None and script.exists():
        return [str(script)]
    return [sys.executable, "-m", "api.cli"]


def commands(tree: Path | None = None) -> dict[str, list[str]]:
    gridmap = _gridmap(tree)
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "gridmap --help": [*gridmap, "--help"],
        "gridmap db status": [*gridmap, "db", "status"],
    }


def time_once(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def measure(runs: int, env: dict[str, str], tree: Path | None) -> dict[str, list[float]]:
    """Seconds per run of each command; round-robin so machine noise hits all alike."""
    cmds = commands(tree)
    for argv in cmds.values():  # warm the page cache (and the bytecode cache if kept)
        time_once(argv, env, tree)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(runs):
        for name, argv in cmds.items():
            times[name].append(time_once(argv, env, tree))
    return times


def report(times: dict[str, list[float]]) -> bool:
    """Print medians and ratios; True when every target is met."""
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    bare, typer_floor = medians["python -c pass"], medians["python -c 'import typer'"]
    print(f"{'command':28} {'median s':>9} {'min s':>7} {'× pass':>7} {'× typer':>8}  target")
    met = True
    for name, ts in times.items():
        target = TARGETS.get(name)
        verdict = ""
        if target is not None:
            ok = medians[name] <= target
            met = met and ok
            verdict = f"≤ {target} s {'met' if ok else 'MISSED'}"
        print(
            f"{name:28} {medians[name]:9.3f} {min(ts):7.3f} "
            f"{medians[name] / bare:7.1f} {medians[name] / typer_floor:8.2f}  {verdict}"
        )
    return met


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="timed runs per command")
    ap.add_argument(
        "--warm-bytecode",
        action="store_true",
        help="cache bytecode in a temporary PYTHONPYCACHEPREFIX (the usual install)",
    )
    ap.add_argument(
        "--tree",
        type=Path,
        help="run `python -m api.cli` in this checkout instead (e.g. an older commit "
        "unpacked with `git archive`; set GRIDMAP_PG_DIR to reach the cluster)",
    )
    args = ap.parse_args()
    env = {**os.environ, "COLUMNS": "100"}
    with tempfile.TemporaryDirectory(prefix="bench_cli_pyc_") as pycache:
        if args.warm_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
        cached = "PYTHONDONTWRITEBYTECODE" not in env
        print(
            f"{args.runs} runs each, round-robin; bytecode "
            f"{'cached' if cached else 'compiled at every start (PYTHONDONTWRITEBYTECODE)'}; "
            f"load average before: {os.getloadavg()[0]:.2f}"
        )
        met = report(measure(args.runs, env, args.tree))
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
