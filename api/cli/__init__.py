"""The ``gridmap`` command line, one module per group of commands.

:mod:`api.cli.main` builds the Typer app. Each command imports its heavy dependencies
(geopandas, SQLAlchemy, the use cases) inside its body, and the modules that still
import them at their top are imported only when one of their commands runs, so
``gridmap --help`` answers at once. Commands call the use cases in
:mod:`geo.services`, never a router.
"""

from api.cli.main import app, main

__all__ = ["app", "main"]
