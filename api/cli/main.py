"""The ``gridmap`` command line: the Typer app and where each command comes from.

Start-up is what ``gridmap --help`` costs, so nothing heavy is imported before the
arguments are parsed. Two kinds of command modules:

- *light* ones (``db``, ``sample``, ``serve``, ``keys``, ``purge``) import only Typer
  at their top and their dependencies inside each command: they are registered at once;
- the others import geopandas, SQLAlchemy or FastAPI at their top. Their commands are
  listed from :data:`LAZY_COMMANDS` (name and help line, as ``gridmap --help`` shows
  them) and the module is imported only when one of its commands is resolved, i.e. runs
  or shows its own ``--help``. ``tests/api/test_cli_startup.py`` checks the table
  against what each module registers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from api.cli import db, keys, purge, sample, serve
from api.cli.common import console, fail

if TYPE_CHECKING:
    # Typer vendors Click; these are the classes its groups and contexts are made of.
    from typer._click import Command, Context


class LazyCommand(NamedTuple):
    """A command of a lazily imported module, as the root ``--help`` lists it."""

    name: str
    help: str
    group: bool = False


# module -> its commands, in the order `gridmap --help` lists them. A module leaves
# this table once it imports nothing heavy at its top (then register it in `build`).
LAZY_COMMANDS: dict[str, tuple[LazyCommand, ...]] = {
    "api.cli.boundaries": (
        LazyCommand(
            "import",
            "Import a boundary file as a DRAFT set and show its findings. Nothing live changes.",
        ),
        LazyCommand(
            "fix",
            "Apply a fix helper to a DRAFT set (never the live map); shows findings after.",
        ),
        LazyCommand(
            "validate", "Check a draft set (or the live map) for topology and code problems."
        ),
        LazyCommand(
            "publish", "Make a draft live: one transaction; only changed units get new versions."
        ),
        LazyCommand("export", "Write the live (or dated) boundaries and special grids to a file."),
        LazyCommand("sets", "List boundary sets (drafts, active, retired)."),
    ),
    "api.cli.patrol": (
        LazyCommand("ingest", "Bring field data in.", group=True),
        LazyCommand(
            "coverage",
            "Patrol coverage per grid below a unit: share of cells visited, stale grids.",
        ),
    ),
    "api.cli.registers": (
        LazyCommand(
            "ledger",
            "Ledgers (台账) of compounds and grid workers: import, export.",
            group=True,
        ),
        LazyCommand(
            "workload",
            "Workload per grid / 网格工作量: households, compounds, unowned, special grids,\n"
            "incidents per month; the largest first.",
        ),
    ),
    "api.cli.geocode": (
        LazyCommand(
            "geocode",
            "Append grid/community/street/district columns to every row of a CSV/Parquet file.",
        ),
    ),
    "api.cli.map": (
        LazyCommand("map", "Web maps as self-contained HTML files (open offline).", group=True),
    ),
}
_MODULE_OF = {cmd.name: module for module, cmds in LAZY_COMMANDS.items() for cmd in cmds}


class _StubCommand(TyperCommand):
    """Stands in the root group for a lazy command until it is resolved."""


class _StubGroup(TyperGroup):
    """Stands in the root group for a lazy group until it is resolved."""


def _not_loaded() -> None:  # the callback of a stub; a stub is never invoked
    raise RuntimeError("a lazy command ran before its module was imported")


class LazyGroup(TyperGroup):
    """The root group: a stub resolved by name becomes its module's real command.

    Listing (``--help``, shell completion of names) reads the stubs; resolving (running
    a command, its own ``--help``, completing its options) imports the module.
    """

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        name, cmd, rest = super().resolve_command(ctx, args)
        if name is not None and isinstance(cmd, _StubCommand | _StubGroup):
            cmd = self._load(name)
        return name, cmd, rest

    def _load(self, name: str) -> Command:
        module = _MODULE_OF[name]
        scratch = typer.Typer()
        importlib.import_module(module).register(scratch, console, fail)
        self.commands.update(typer.main.get_group(scratch).commands)
        cmd = self.commands[name]
        if isinstance(cmd, _StubCommand | _StubGroup):
            raise RuntimeError(f"{module} registers no {name!r}: update LAZY_COMMANDS")
        return cmd


def _add_module(app: typer.Typer, module: str, lazy: bool) -> None:
    """Register ``module``'s commands, or stubs that import it when resolved."""
    if not lazy:
        importlib.import_module(module).register(app, console, fail)
        return
    for cmd in LAZY_COMMANDS[module]:
        if cmd.group:
            app.add_typer(typer.Typer(help=cmd.help), name=cmd.name, cls=_StubGroup)
        else:
            app.command(cmd.name, help=cmd.help, cls=_StubCommand)(_not_loaded)


def build(lazy: bool = True) -> typer.Typer:
    """The ``gridmap`` app, commands in the order ``gridmap --help`` has always listed.

    Typer lists commands before groups, each in the order they were added. With
    ``lazy=False`` every module is imported now (the reference the tests compare with).
    """
    app = typer.Typer(
        help="网格地图服务 Grid map service for grid-based governance.",
        no_args_is_help=True,
        cls=LazyGroup,
    )
    db.register(app)
    sample.register(app)
    serve.register(app)
    _add_module(app, "api.cli.boundaries", lazy)
    keys.register(app)
    _add_module(app, "api.cli.patrol", lazy)
    _add_module(app, "api.cli.registers", lazy)
    _add_module(app, "api.cli.geocode", lazy)
    purge.register(app)
    _add_module(app, "api.cli.map", lazy)
    return app


app = build()


def main() -> None:
    """The ``gridmap`` entry point."""
    app()
