"""``gridmap keys create|list|revoke``: API keys for other apps.

Settings, the engine and the key store are imported inside each command, so
``gridmap --help`` does not load SQLAlchemy.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import console, fail


def create(
    name: Annotated[str, typer.Option(help="Who the key is for, e.g. 12345热线")],
    scope: Annotated[
        list[str],
        typer.Option(help="geocode|intake|read|edit|admin (repeat)"),
    ] = ["geocode"],  # noqa: B006 - typer needs a literal default
    unit: Annotated[
        list[str], typer.Option(help="Unit code the key may see people of (repeat)")
    ] = [],  # noqa: B006
    rate: Annotated[int, typer.Option(help="Requests per minute")] = 600,
    author: Annotated[str, typer.Option(help="Who creates it (recorded)")] = "cli",
    role: Annotated[
        str,
        typer.Option(
            help="app (the scopes given) | planner | supervisor (needs --unit) | "
            "grid_worker (needs --worker)"
        ),
    ] = "app",
    worker: Annotated[
        str | None, typer.Option(help="The grid worker's code (role grid_worker)")
    ] = None,
) -> None:
    """Create a key and print it ONCE (only its hash is stored)."""
    from geo.errors import GridmapError
    from geo.settings import Settings
    from geo.store import keys as keystore
    from geo.store.db import make_engine

    engine = make_engine(Settings())
    try:
        with engine.begin() as conn:
            key_id, key = keystore.create_key(
                conn,
                name=name,
                scopes=scope,
                unit_codes=unit,
                rate_per_minute=rate,
                created_by=author,
                role=role,
                worker_code=worker,
            )
    except GridmapError as exc:
        fail(f"{exc.message}\n{exc.message_zh}")
    finally:
        engine.dispose()
    console.print(f"key {key_id} created for {name}; store it now, it is not shown again:")
    typer.echo(key)


def list_keys() -> None:
    """List keys (never their secrets)."""
    from rich.table import Table

    from geo.settings import Settings
    from geo.store import keys as keystore
    from geo.store.db import make_engine

    engine = make_engine(Settings())
    try:
        with engine.connect() as conn:
            rows = keystore.list_keys(conn)
    finally:
        engine.dispose()
    table = Table("id", "name", "prefix", "scopes", "units", "rate/min", "created", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["name"],
            r["prefix"],
            ",".join(r["scopes"]),
            str(len(r["unit_ids"]) or "all"),
            str(r["rate_per_minute"]),
            f"{r['created_at']:%Y-%m-%d}",
            f"{r['revoked_at']:%Y-%m-%d}" if r["revoked_at"] else "",
        )
    console.print(table)


def revoke(key_id: Annotated[int, typer.Argument(help="Key id from `gridmap keys list`")]) -> None:
    """Revoke a key (running services refuse it within 10 s)."""
    from geo.errors import GridmapError
    from geo.settings import Settings
    from geo.store import keys as keystore
    from geo.store.db import make_engine

    engine = make_engine(Settings())
    try:
        with engine.begin() as conn:
            keystore.revoke_key(conn, key_id)
    except GridmapError as exc:
        fail(exc.message)
    finally:
        engine.dispose()
    console.print(f"key {key_id} revoked")


def register(app: typer.Typer) -> None:
    """Add the ``keys`` group to the ``gridmap`` app."""
    keys_app = typer.Typer(help="API keys for other apps (12345 hotline, police …).")
    app.add_typer(keys_app, name="keys")
    keys_app.command("create")(create)
    keys_app.command("list")(list_keys)
    keys_app.command("revoke")(revoke)
