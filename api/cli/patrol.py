"""``gridmap ingest tracks FILE`` and ``gridmap coverage CODE``: the use cases of
:mod:`geo.services.patrol`, as ``POST /v1/patrol/tracks`` and
``GET /v1/coverage/{code}`` run them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from geo.errors import GridmapError, NotFound

from api.cli.common import Fail

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    ingest_app = typer.Typer(help="Bring field data in.")
    app.add_typer(ingest_app, name="ingest")

    @ingest_app.command("tracks")
    def ingest_tracks(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
        worker: Annotated[str | None, typer.Option(help="Worker id for GPX/GeoJSON")] = None,
        crs: Annotated[str | None, typer.Option(help="wgs84|gcj02|bd09|cgcs2000")] = None,
        mode: Annotated[str, typer.Option(help="foot|bicycle|vehicle")] = "foot",
    ) -> None:
        """Clean, path-fill and store patrol tracks (GPX, GeoJSON, CSV pings)."""
        from geo.services import patrol as service
        from geo.services.state import ServiceState
        from geo.settings import Settings
        from geo.store.db import make_engine

        settings = Settings()
        engine = make_engine(settings)
        try:
            state = ServiceState(settings, engine)
            state.refresh()
            if state.geocoder is None:
                fail("no boundaries are loaded; run `gridmap sample load` or import a set")
            console.print(f"· reading {file.name}")
            res = service.ingest_track_file(
                engine,
                state.geocoder.locator,
                file.read_bytes(),
                file.name,
                worker_id=worker,
                crs=crs,
                mode=mode,
                res=settings.h3_patrol_res,
            )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        finally:
            engine.dispose()
        dropped = ", ".join(f"{k} {v}" for k, v in res.dropped.items() if v) or "none"
        console.print(
            f"[green]{res.new_tracks} new track(s)[/] of {res.tracks}; "
            f"{res.fixes_kept} of {res.fixes_received} fixes kept; dropped: {dropped}"
        )

    @app.command("coverage")
    def coverage_cmd(
        code: Annotated[str, typer.Argument(help="Unit code (district … grid)")],
        days: Annotated[int, typer.Option(help="Window length in days, ending --end")] = 7,
        end: Annotated[
            str | None, typer.Option(help="Last day, YYYY-MM-DD (default today)")
        ] = None,
    ) -> None:
        """Patrol coverage per grid below a unit: share of cells visited, stale grids."""
        from geo.services import patrol as service
        from geo.settings import Settings
        from geo.store.db import make_engine

        last = date.fromisoformat(end) if end else date.today()
        first = last - timedelta(days=days - 1)
        engine = make_engine(Settings())
        try:
            cov = service.coverage_of(engine, code, first, last).coverage
        except NotFound:
            fail(f"no live unit has code {code}")
        finally:
            engine.dispose()
        _print_coverage(console, cov.units, code, first, last)


def _print_coverage(
    console: Console, units: pd.DataFrame, code: str, first: date, last: date
) -> None:
    import pandas as pd
    from rich.table import Table

    rows = units[units["code"].str.startswith(code)]
    table = Table("code", "name", "cells", "visited", "share", "days since last visit")
    for r in rows.itertuples():
        table.add_row(
            r.code,
            r.name,
            str(r.cell_count),
            str(r.visited_cells),
            f"{r.share_visited:.0%}",
            "" if pd.isna(r.days_since_last_visit) else str(r.days_since_last_visit),
        )
    console.print(f"coverage {first} – {last}")
    console.print(table)
