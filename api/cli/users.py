"""``gridmap users create|list|disable|enable|reset-password``: people who sign in to
the pages (accounts; see geo/services/accounts.py).

Like ``keys``, the use cases and the engine are imported inside each command, so
``gridmap --help`` does not load SQLAlchemy. A generated password is printed once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import console, fail

Login = Annotated[str, typer.Argument(help="The account's login name")]
Author = Annotated[str, typer.Option(help="Who does this (recorded in the audit log)")]


def _engine():
    from geo.settings import Settings
    from geo.store.db import make_engine

    return make_engine(Settings())


def _run(action):
    """Run ``action(engine)``; a domain error ends the command with its message."""
    from geo.errors import GridmapError

    engine = _engine()
    try:
        return action(engine)
    except GridmapError as exc:
        fail(f"{exc.message}\n{exc.message_zh}")
    finally:
        engine.dispose()


def create(
    login: Login,
    name: Annotated[str, typer.Option(help="Display name, e.g. 张三")],
    role: Annotated[str, typer.Option(help="admin | planner | supervisor | grid_worker")],
    unit: Annotated[
        list[str], typer.Option(help="Unit code the person may see (repeat); none: all")
    ] = [],  # noqa: B006 - typer needs a literal default
    worker: Annotated[
        str | None, typer.Option(help="The grid worker's code (role grid_worker)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of generating")
    ] = False,
    author: Author = "cli",
) -> None:
    """Create an account; a generated password is printed ONCE (changed at first use)."""
    from geo.services import accounts as uc

    given = typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else None
    account_id, password = _run(
        lambda engine: uc.create_account(
            engine,
            login=login,
            display_name=name,
            role=role,
            unit_codes=unit,
            worker_code=worker,
            password=given,
            actor=author,
        )
    )
    console.print(f"account {account_id} created for {name} ({login}, {role})")
    if not password_stdin:
        console.print("initial password, shown this once:")
        typer.echo(password)


def list_users() -> None:
    """List accounts (never their passwords)."""
    from rich.table import Table

    from geo.services import accounts as uc

    rows = _run(uc.list_accounts)
    table = Table("id", "login", "name", "role", "units", "disabled", "failed", "locked until")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["login"],
            r["display_name"],
            r["role"] + (f" ({r['worker_code']})" if r["worker_code"] else ""),
            str(len(r["unit_ids"]) or "all"),
            "yes" if r["disabled"] else "",
            str(r["failed_logins"] or ""),
            f"{r['locked_until']:%Y-%m-%d %H:%M}" if r["locked_until"] else "",
        )
    console.print(table)


def disable(login: Login, author: Author = "cli") -> None:
    """Disable an account: its sessions end now, sign-in is refused."""
    from geo.services import accounts as uc

    _run(lambda engine: uc.set_disabled(engine, login, True, actor=author))
    console.print(f"account {login} disabled")


def enable(login: Login, author: Author = "cli") -> None:
    """Enable an account again (and lift a lock)."""
    from geo.services import accounts as uc

    _run(lambda engine: uc.set_disabled(engine, login, False, actor=author))
    console.print(f"account {login} enabled")


def reset_password(login: Login, author: Author = "cli") -> None:
    """Give the account a new generated password, printed ONCE; its sessions end."""
    from geo.services import accounts as uc

    password = _run(lambda engine: uc.reset_password(engine, login, actor=author))
    console.print(f"new password for {login}, shown this once:")
    typer.echo(password)


def register(app: typer.Typer) -> None:
    """Add the ``users`` group to the ``gridmap`` app."""
    users_app = typer.Typer(help="People who sign in to the pages (accounts).")
    app.add_typer(users_app, name="users")
    users_app.command("create")(create)
    users_app.command("list")(list_users)
    users_app.command("disable")(disable)
    users_app.command("enable")(enable)
    users_app.command("reset-password")(reset_password)
