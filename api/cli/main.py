"""The ``gridmap`` command line: the Typer app and where each command comes from.

Start-up is what ``gridmap --help`` costs, so nothing heavy is imported before the
arguments are parsed: every command module imports only the standard library, Typer,
Rich and light project modules (:mod:`geo.errors`, :mod:`geo.vocab`,
:mod:`geo.io.fieldmap`, :mod:`api.cli.common`) at its top, and its dependencies
(geopandas, SQLAlchemy, the settings, the use cases) inside each command's body.
All of them are registered at once. ``tests/api/test_cli_startup.py`` holds this
(the top-level imports of every module, and what a real ``--help`` loads).
"""

from __future__ import annotations

import typer

from api.cli import boundaries, db, geocode, keys, patrol, purge, registers, sample, serve, users
from api.cli import map as map_
from api.cli.common import console, fail


def build() -> typer.Typer:
    """The ``gridmap`` app, commands in the order ``gridmap --help`` has always listed.

    Typer lists commands before groups, each in the order they were added.
    """
    app = typer.Typer(
        help="网格地图服务 Grid map service for grid-based governance.",
        no_args_is_help=True,
    )
    db.register(app)
    sample.register(app)
    serve.register(app)
    boundaries.register(app, console, fail)
    keys.register(app)
    users.register(app)
    patrol.register(app, console, fail)
    registers.register(app, console, fail)
    geocode.register(app, console, fail)
    purge.register(app)
    map_.register(app, console, fail)
    return app


app = build()


def main() -> None:
    """The ``gridmap`` entry point."""
    app()
