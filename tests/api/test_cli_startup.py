"""`gridmap --help` starts without the heavy libraries, and still lists every command.

Laziness is checked by the modules a real ``python -m api.cli --help`` process has
loaded, not by timing (benchmarks/bench_cli.py times it), and by what each module
under ``api/cli/`` imports at its top: every command module is registered at start-up,
so each imports its heavy dependencies inside the command bodies.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from geo.settings import PROJECT_ROOT

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
# The project modules a command module may import at its top (they import nothing
# heavy themselves: the `--help` test below loads them all).
LIGHT_PROJECT = ("geo.errors", "geo.vocab", "geo.io.fieldmap", "api.cli")
PROJECT_PACKAGES = ("api", "geo", "boundaries", "web_map")
CLI_MODULES = sorted((PROJECT_ROOT / "api" / "cli").glob("*.py"))

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

# Shows the help of every command and subcommand in one process, then what was loaded.
LOADED_AFTER_EVERY_HELP = """
import json, sys
from typer import _click
from typer.core import TyperGroup
from typer.main import get_group
from typer.testing import CliRunner
from api.cli.main import app

def walk(group, prefix):
    ctx = _click.Context(group)
    for name in group.list_commands(ctx):
        yield [*prefix, name]
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, TyperGroup):
            yield from walk(cmd, [*prefix, name])

runner = CliRunner()
codes = {}
for path in [[], *walk(get_group(app), [])]:
    done = runner.invoke(app, [*path, "--help"], prog_name="gridmap")
    codes[" ".join(path)] = [done.exit_code, done.output]
print("\\nMODULES " + json.dumps({"exit": codes, "modules": sorted(sys.modules)}))
"""


def _run(script: str, *args: str) -> tuple[object, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.rsplit("MODULES ", 1)[1])
    return answer["exit"], answer["modules"]


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if _under(m, HEAVY)]


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["db", "--help"],
        ["keys", "create", "--help"],
        ["import", "--help"],
        ["geocode", "--help"],
        ["ledger", "import", "--help"],
    ],
)
def test_help_loads_no_heavy_library(args):
    code, modules = _run(LOADED_AFTER_HELP, *args)
    assert code == 0
    assert "typer" in modules  # the wrapper really ran the CLI
    assert _heavy(modules) == []


def test_every_command_shows_its_help_without_a_heavy_library():
    codes, modules = _run(LOADED_AFTER_EVERY_HELP)
    assert isinstance(codes, dict)
    top = {path for path in codes if " " not in path}
    assert {"serve", "db", "import", "ingest", "ledger", "geocode", "map"} <= top
    assert {"ledger import", "ingest tracks", "map dashboard", "keys create"} <= set(codes)
    for path, (code, output) in codes.items():
        assert code == 0, (path, output)
        assert "Usage: gridmap" in output, path
    listed = codes[""][1]
    for name in top - {""}:
        assert f" {name} " in listed, name  # the root help lists every command
    assert _heavy(modules) == []


def _top_level_imports(body: list[ast.stmt]) -> list[str]:
    """Modules a module body imports when it runs: not in functions, not under
    ``if TYPE_CHECKING:``; ``from a import b`` counts as ``a.b``."""
    names: list[str] = []
    for node in body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, "use absolute imports"
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            names += _top_level_imports(node.orelse)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        else:  # the bodies of if/try/with/for/class statements run at import
            inner = [*getattr(node, "body", []), *getattr(node, "orelse", [])]
            inner += getattr(node, "finalbody", [])
            for handler in getattr(node, "handlers", []):
                inner += handler.body
            names += _top_level_imports(inner)
    return names


def test_the_top_level_import_reader_sees_what_runs():
    tree = ast.parse(
        "import pandas\n"
        "from geo import topology\n"
        "if TYPE_CHECKING:\n    import sqlalchemy\n"
        "try:\n    import shapely\nexcept ImportError:\n    import pyarrow\n"
        "def f():\n    import geopandas\n"
    )
    assert _top_level_imports(tree.body) == ["pandas", "geo.topology", "shapely", "pyarrow"]


@pytest.mark.parametrize("path", CLI_MODULES, ids=lambda p: p.name)
def test_command_modules_import_nothing_heavy_at_their_top(path: Path):
    names = _top_level_imports(ast.parse(path.read_text(encoding="utf-8")).body)
    assert "typer" in names or path.name in ("__init__.py", "__main__.py")
    assert _heavy(names) == [], f"{path.name}: import these inside the command bodies"
    project = [n for n in names if n.split(".")[0] in PROJECT_PACKAGES]
    assert [n for n in project if not _under(n, LIGHT_PROJECT)] == [], path.name
