"""The ``gridmap`` command line, one module per group of commands.

:mod:`api.cli.main` builds the Typer app. Each command imports its heavy dependencies
(geopandas, SQLAlchemy, the settings, the use cases) inside its body; a module's top
imports only the standard library, Typer, Rich and light project modules, so
``gridmap --help`` answers at once. Commands call the use cases in
:mod:`geo.services`, never a router.
"""

from api.cli.main import app, main

__all__ = ["app", "main"]
