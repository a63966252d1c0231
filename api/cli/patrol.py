"""``gridmap ingest tracks FILE`` and ``gridmap coverage CODE``."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from geo.errors import GridmapError
from geo.patrol import coverage
from geo.settings import Settings
from geo.store import activity
from geo.store import boundaries as bstore
from geo.store.db import make_engine


def register(app: typer.Typer, console, fail) -> None:
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
        from geo.services.state import ServiceState

        from api.routers.patrol import ingest_file

        settings = Settings()
        engine = make_engine(settings)
        try:
            state = ServiceState(settings, engine)
            state.refresh()
            console.print(f"· reading {file.name}")
            res = ingest_file(
                state, state.geocoder.locator, file.read_bytes(), file.name, worker, crs, mode
            )
        except GridmapError as exc:
            fail(f"{exc.message}\n{exc.message_zh}")
        finally:
            engine.dispose()
        dropped = ", ".join(f"{k} {v}" for k, v in res["dropped"].items() if v) or "none"
        console.print(
            f"[green]{res['new_tracks']} new track(s)[/] of {res['tracks']}; "
            f"{res['fixes_kept']} of {res['fixes_received']} fixes kept; dropped: {dropped}"
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
        last = date.fromisoformat(end) if end else date.today()
        first = last - timedelta(days=days - 1)
        engine = make_engine(Settings())
        try:
            with engine.connect() as conn:
                units = bstore.units_frame(conn)
                visits = activity.visits_frame(conn, end=last)
        finally:
            engine.dispose()
        if code not in set(units["code"]):
            fail(f"no live unit has code {code}")
        cov = coverage.coverage(units, visits, first, last)
        rows = cov.units[cov.units["code"].str.startswith(code)]
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
