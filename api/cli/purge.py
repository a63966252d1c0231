"""``gridmap purge``: delete raw patrol tracks past ``raw_track_days`` (dry run by default).

Per-cell visits are kept, so coverage figures do not change. Meant to run daily from
cron or a systemd timer, e.g. ``gridmap purge --yes --actor cron``. The store and the
engine are imported when the command runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from api.cli.common import console, fail


def purge_cmd(
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it only count.")] = False,
    days: Annotated[
        int | None,
        typer.Option(min=1, help="Keep this many days (default: GRIDMAP_RAW_TRACK_DAYS)."),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who purges (recorded in the audit log)")] = "cli",
) -> None:
    """Purge raw GPS tracks older than the keeping time; per-cell visits stay."""
    from geo.settings import Settings
    from geo.store import purge
    from geo.store.db import make_engine

    settings = Settings()
    keep = days or settings.raw_track_days
    cutoff = purge.cutoff_for(datetime.now(UTC), keep)
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            found = purge.count_old_tracks(conn, cutoff)
            if yes and found.tracks:
                deleted = purge.purge_old_tracks(conn, cutoff, actor=actor, keep_days=keep)
    except Exception as exc:
        fail(f"cannot purge: {exc}\nIs the database up? Try `gridmap db up`.")
    finally:
        engine.dispose()
    when = cutoff.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    if not yes:
        console.print(
            f"dry run: {found.tracks} track(s) ({found.points} points) ended before "
            f"{when} (kept {keep} days); run with --yes to delete them\n"
            f"试运行：{found.tracks} 条轨迹早于 {when}；加 --yes 删除"
        )
        typer.echo(found.tracks)
        return
    if not found.tracks:
        console.print(f"nothing to purge: no track ended before {when}\n没有需要清理的轨迹")
        typer.echo(0)
        return
    console.print(
        f"[green]purged {deleted} track(s)[/] ({found.points} points) ended before {when}; "
        f"per-cell visits kept\n已删除 {deleted} 条轨迹，网格巡查记录保留"
    )
    typer.echo(deleted)


def register(app: typer.Typer) -> None:
    """Add ``purge`` to the ``gridmap`` app."""
    app.command("purge")(purge_cmd)
