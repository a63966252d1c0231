"""``gridmap sample generate|load``: the generated sample district (样例区).

The generator (geopandas, shapely) and the loader (SQLAlchemy) are imported inside
each command, so they cost nothing to other commands.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import console, fail


def sample_generate(
    out: Annotated[Path | None, typer.Option(help="Folder to write to.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Write the sample district's files (GeoPackage, GeoJSON, CSV) without loading them."""
    from geo.settings import Settings

    from boundaries.sample import generate_sample_district, write_sample

    settings = Settings()
    target = out or settings.data_dir
    written = write_sample(generate_sample_district(seed or settings.sample_seed), target)
    for name, path in written.items():
        console.print(f"{name:24} {path}")


def sample_load() -> None:
    """Generate the sample district and load it through the import path (idempotent)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from geo.errors import GridmapError
    from geo.settings import Settings
    from geo.store.db import make_engine

    from boundaries.sample_load import load_sample

    settings = Settings()
    engine = make_engine(settings)
    started = time.monotonic()
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("sample load", total=None)

            def step(msg: str) -> None:
                progress.update(task, description=msg)
                progress.console.print(f"· {msg}")

            summary = load_sample(engine, settings, step)
    except GridmapError as exc:
        fail(exc.message)
    except Exception as exc:
        if "Connection refused" in str(exc) or "connection failed" in str(exc):
            fail("cannot reach the database; run `gridmap db up` first")
        raise
    finally:
        engine.dispose()
    reused = " (already loaded, unchanged)" if summary.boundaries_reused else ""
    console.print(
        f"[green]sample loaded[/] in {time.monotonic() - started:.1f}s: "
        f"{summary.units} boundary units{reused}, {summary.workers} workers, "
        f"{summary.compounds} compounds, {summary.incidents_new} new incidents, "
        f"{summary.tracks_new} new patrol tracks"
    )


def register(app: typer.Typer) -> None:
    """Add the ``sample`` group to the ``gridmap`` app."""
    sample_app = typer.Typer(help="The generated sample district (样例区).")
    app.add_typer(sample_app, name="sample")
    sample_app.command("generate")(sample_generate)
    sample_app.command("load")(sample_load)
