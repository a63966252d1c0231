"""`gridmap --help` starts without the heavy libraries, and still lists every command.

Laziness is checked by the modules a real ``python -m api.cli --help`` process has
loaded, not by timing (benchmarks/bench_cli.py times it). The listing is checked
against the app built with every command module imported (``build(lazy=False)``).
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from typer.core import TyperGroup
from typer.main import get_group
from typer.testing import CliRunner

from geo.settings import PROJECT_ROOT

from api.cli.main import LAZY_COMMANDS, build

HEAVY = (
    "geopandas",
    "pandas",
    "shapely",
    "pyarrow",
    "sqlalchemy",
    "geoalchemy2",
    "psycopg",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "api.routers",
    "geo.store",
    "geo.services",
    "boundaries",
)

# Runs the CLI as `python -m api.cli --help` does, then prints what was loaded.
LOADED_AFTER_HELP = """
import json, runpy, sys
sys.argv = ["gridmap", *sys.argv[1:]]
try:
    runpy.run_module("api.cli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print("\\nMODULES " + json.dumps({"exit": code, "modules": sorted(sys.modules)}))
"""


def _loaded_after(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", LOADED_AFTER_HELP, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.rsplit("MODULES ", 1)[1])
    return answer["exit"], answer["modules"]


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("args", [["--help"], ["db", "--help"], ["keys", "create", "--help"]])
def test_help_loads_no_heavy_library(args):
    code, modules = _loaded_after(*args)
    assert code == 0
    assert "typer" in modules  # the wrapper really ran the CLI
    assert _heavy(modules) == []


def test_a_lazy_command_loads_its_module_only_when_resolved():
    code, modules = _loaded_after("--help")
    assert code == 0 and "api.cli.geocode" not in modules
    code, modules = _loaded_after("geocode", "--help")
    assert code == 0 and "api.cli.geocode" in modules
    assert "api.cli.boundaries" not in modules  # only the module of that command


def _first_paragraph(text: str | None) -> str:
    return inspect.cleandoc(text or "").split("\n\n")[0]


def test_lazy_table_matches_what_each_module_registers():
    eager = get_group(build(lazy=False)).commands
    lazy = get_group(build()).commands
    assert list(lazy) == list(eager)  # same commands, same order
    for module, commands in LAZY_COMMANDS.items():
        for cmd in commands:
            real = eager[cmd.name]
            assert cmd.help == _first_paragraph(real.help), f"{module}: {cmd.name}"
            assert cmd.group == isinstance(real, TyperGroup), f"{module}: {cmd.name}"


def test_help_lists_every_command_as_the_eager_app_does():
    runner = CliRunner()
    eager, lazy = build(lazy=False), build()
    names = list(get_group(eager).commands)
    assert {"serve", "db", "import", "ingest", "ledger", "geocode", "map"} <= set(names)
    for args in [[], *([name] for name in names)]:
        want = runner.invoke(eager, [*args, "--help"], prog_name="gridmap", terminal_width=100)
        got = runner.invoke(lazy, [*args, "--help"], prog_name="gridmap", terminal_width=100)
        assert want.exit_code == got.exit_code == 0, (args, got.output)
        assert got.output == want.output, args
