"""``gridmap geocode FILE``: batch reverse geocoding of a CSV/Parquet file from the shell.

The same use case as ``POST /v1/geocode/reverse/batch`` (:mod:`geo.services.geocode`:
reader, checks and writer), with the live index built from the database; no row limit
beyond memory for one chunk.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geo.errors import GridmapError

from api.cli.common import Fail

if TYPE_CHECKING:
    from rich.console import Console

    from geo.lookup.locator import GridLocator

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".arrows": "arrow"}


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    """Add ``geocode`` to the ``gridmap`` app."""

    @app.command("geocode")
    def geocode_cmd(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        out: Annotated[
            Path | None, typer.Option(help="Output file (default: FILE.geocoded.<ext>)")
        ] = None,
        crs: Annotated[str, typer.Option(help="wgs84|gcj02|bd09|cgcs2000")] = "wgs84",
        lon_col: Annotated[str, typer.Option(help="Longitude column")] = "lon",
        lat_col: Annotated[str, typer.Option(help="Latitude column")] = "lat",
    ) -> None:
        """Append grid/community/street/district columns to every row of a CSV/Parquet file."""
        fmt = SUFFIXES.get(file.suffix.lower())
        if fmt is None:
            fail(f"unsupported file type {file.suffix!r}; use .csv or .parquet")
        out = out or file.with_name(f"{file.stem}.geocoded{file.suffix}")
        if out.resolve() == file.resolve():
            fail("--out must differ from FILE")
        from geo.services.state import ServiceState
        from geo.settings import Settings
        from geo.store.db import make_engine

        settings = Settings()
        engine = make_engine(settings)
        try:
            state = ServiceState(settings, engine)
            state.refresh()
            if state.geocoder is None or len(state.geocoder.locator) == 0:
                fail("no boundaries are loaded; run `gridmap sample load` or import a set")
            locator = state.geocoder.locator
            try:
                total = _geocode_file(locator, file, out, fmt, crs, lon_col, lat_col, console)
            except (GridmapError, ValueError) as exc:
                out.unlink(missing_ok=True)
                msg = f"{exc.message}\n{exc.message_zh}" if isinstance(exc, GridmapError) else exc
                fail(str(msg))
        finally:
            engine.dispose()
        console.print(f"[green]{total:,} rows → {out}[/]")


def _geocode_file(
    locator: GridLocator,
    file: Path,
    out: Path,
    fmt: str,
    crs: str,
    lon_col: str,
    lat_col: str,
    console: Console,
) -> int:
    """Check, answer and write ``file`` to ``out`` with a progress bar; the row count."""
    import pyarrow as pa
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from geo.crs import parse_crs
    from geo.services import geocode as service

    def opener() -> pa.NativeFile:
        return pa.memory_map(str(file))

    total, answered = service.geocode_table(
        locator,
        opener,
        fmt,
        crs=parse_crs(crs).value,
        lon_col=lon_col,
        lat_col=lat_col,
        max_rows=2**62,
    )
    with Progress(
        TextColumn("geocoding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("rows", total=total)
        service.write_answers(answered, fmt, str(out), lambda n: progress.advance(task, n))
    return total
