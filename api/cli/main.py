"""The ``gridmap`` command line: database, sample data, serving."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from geo.errors import GridmapError
from geo.settings import Settings
from geo.store import migrate
from geo.store.cluster import ClusterError, LocalCluster
from geo.store.db import make_engine

app = typer.Typer(
    help="网格地图服务 Grid map service for grid-based governance.", no_args_is_help=True
)
db_app = typer.Typer(help="The PostGIS database (project-local cluster by default).")
sample_app = typer.Typer(help="The generated sample district (样例区).")
app.add_typer(db_app, name="db")
app.add_typer(sample_app, name="sample")

console = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _uses_local_cluster(settings: Settings) -> bool:
    return not settings.database_url


@db_app.command("up")
def db_up(
    no_migrate: Annotated[bool, typer.Option(help="Do not run migrations.")] = False,
) -> None:
    """Install (if missing), create, start the local PostGIS and migrate. Idempotent."""
    settings = Settings()
    if _uses_local_cluster(settings):
        try:
            st = LocalCluster(settings).up(log=console.print)
        except ClusterError as exc:
            _fail(str(exc))
        console.print(f"[green]PostGIS ready[/]: {st.message}")
    else:
        console.print("GRIDMAP_DATABASE_URL is set: using that PostGIS, no local cluster.")
    if not no_migrate:
        db_migrate()


@db_app.command("down")
def db_down() -> None:
    """Stop the local PostGIS (data is kept)."""
    LocalCluster(Settings()).down(log=console.print)


@db_app.command("status")
def db_status() -> None:
    """Show whether the local PostGIS runs and which schema revision it has."""
    settings = Settings()
    if _uses_local_cluster(settings):
        st = LocalCluster(settings).status()
        console.print(f"cluster: {st.message}\ndata:    {st.data_dir}")
        if not st.running:
            raise typer.Exit(1)
    try:
        rev = migrate.current_revision(settings.sqlalchemy_url())
    except Exception as exc:
        _fail(f"cannot connect to the database: {exc}")
    console.print(f"schema:  {rev or 'empty (run `gridmap db migrate`)'}")


@db_app.command("reset")
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the local cluster with all its data and create it afresh."""
    settings = Settings()
    if not _uses_local_cluster(settings):
        _fail("reset only works on the project-local cluster, not on GRIDMAP_DATABASE_URL")
    if not yes and not typer.confirm("Delete every database of the local cluster?"):
        raise typer.Exit(1)
    LocalCluster(settings).reset(log=console.print)
    db_migrate()


@db_app.command("migrate")
def db_migrate(revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (Alembic)."""
    settings = Settings()
    try:
        migrate.upgrade(settings.sqlalchemy_url(), revision)
    except Exception as exc:
        _fail(f"migration failed: {exc}\nIs the database up? Try `gridmap db up`.")
    console.print(f"schema at {migrate.current_revision(settings.sqlalchemy_url())}")


@sample_app.command("generate")
def sample_generate(
    out: Annotated[Path | None, typer.Option(help="Folder to write to.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
) -> None:
    """Write the sample district's files (GeoPackage, GeoJSON, CSV) without loading them."""
    from boundaries.sample import generate_sample_district, write_sample

    settings = Settings()
    target = out or settings.data_dir
    written = write_sample(generate_sample_district(seed or settings.sample_seed), target)
    for name, path in written.items():
        console.print(f"{name:24} {path}")


@sample_app.command("load")
def sample_load() -> None:
    """Generate the sample district and load it through the import path (idempotent)."""
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
        _fail(exc.message)
    except Exception as exc:
        if "Connection refused" in str(exc) or "connection failed" in str(exc):
            _fail("cannot reach the database; run `gridmap db up` first")
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


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    access_log: Annotated[
        bool,
        typer.Option(
            help="Log every request (one line each). At thousands of requests/s that line "
            "costs more than a reverse lookup: turn it off behind a proxy that logs."
        ),
    ] = True,
) -> None:
    """Run the HTTP service (map at /, API docs at /docs)."""
    import uvicorn

    settings = Settings()
    host = host or settings.host
    port = port or settings.port
    base = f"http://{host}:{port}"
    # Plain echo, not rich: URLs must never be wrapped, so they can be copied.
    typer.echo(
        "网格地图服务 Grid map service\n"
        f"  map (地图):      {base}/\n"
        f"  API docs:        {base}/docs\n"
        f"  health:          {base}/healthz\n"
        f"  reverse geocode: {base}/v1/geocode/reverse?lon=113.9&lat=35.3&crs=wgs84\n"
        "Press Ctrl+C to stop."
    )
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
    )


from api.cli.boundaries import register as _register_boundaries  # noqa: E402
from api.cli.geocode import register as _register_geocode  # noqa: E402
from api.cli.keys import register as _register_keys  # noqa: E402
from api.cli.map import register as _register_map  # noqa: E402
from api.cli.patrol import register as _register_patrol  # noqa: E402
from api.cli.purge import register as _register_purge  # noqa: E402
from api.cli.registers import register as _register_registers  # noqa: E402

_register_boundaries(app, console, _fail)
_register_keys(app, console, _fail)
_register_patrol(app, console, _fail)
_register_registers(app, console, _fail)
_register_geocode(app, console, _fail)
_register_purge(app, console, _fail)
_register_map(app, console, _fail)


def main() -> None:
    try:
        app()
    except ClusterError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
