"""``gridmap serve``: the HTTP service under uvicorn (imported when the command runs)."""

from __future__ import annotations

from typing import Annotated

import typer


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

    from geo.settings import Settings

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


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``gridmap`` app."""
    app.command("serve")(serve)
