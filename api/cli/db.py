"""``gridmap db up|down|status|reset|migrate``: the PostGIS database.

The project-local cluster (:mod:`geo.store.cluster`) by default, or the PostGIS of
``GRIDMAP_DATABASE_URL``. Settings, the cluster and Alembic are imported inside each
command; ``db status`` reads the schema revision with one psycopg query instead of
loading SQLAlchemy and Alembic for one row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import console, fail

if TYPE_CHECKING:
    from geo.settings import Settings


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` as libpq takes it (``postgresql://…``, no driver)."""
    return re.sub(r"^(postgres(?:ql)?)\+\w+://", r"\1://", sqlalchemy_url)


def schema_revision(sqlalchemy_url: str) -> str | None:
    """The Alembic revision the database is at; None when no migration ever ran.

    The two questions :func:`geo.store.migrate.current_revision` asks (is an
    ``alembic_version`` table visible, which row does it hold), in plain psycopg.
    """
    import psycopg

    with psycopg.connect(libpq_url(sqlalchemy_url)) as conn:
        found = conn.execute("SELECT to_regclass('alembic_version') IS NOT NULL").fetchone()
        if not found or not found[0]:
            return None
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])


def _uses_local_cluster(settings: Settings) -> bool:
    return not settings.database_url


@contextmanager
def _cluster_errors() -> Iterator[None]:
    """A failing ``initdb``/``pg_ctl`` ends the command with its message and exit 1."""
    from geo.store.cluster import ClusterError

    try:
        yield
    except ClusterError as exc:
        fail(str(exc))


def db_up(
    no_migrate: Annotated[bool, typer.Option(help="Do not run migrations.")] = False,
) -> None:
    """Install (if missing), create, start the local PostGIS and migrate. Idempotent."""
    from geo.settings import Settings
    from geo.store.cluster import LocalCluster

    settings = Settings()
    if _uses_local_cluster(settings):
        with _cluster_errors():
            st = LocalCluster(settings).up(log=console.print)
        console.print(f"[green]PostGIS ready[/]: {st.message}")
    else:
        console.print("GRIDMAP_DATABASE_URL is set: using that PostGIS, no local cluster.")
    if not no_migrate:
        db_migrate()


def db_down() -> None:
    """Stop the local PostGIS (data is kept)."""
    from geo.settings import Settings
    from geo.store.cluster import LocalCluster

    with _cluster_errors():
        LocalCluster(Settings()).down(log=console.print)


def db_status() -> None:
    """Show whether the local PostGIS runs and which schema revision it has."""
    from geo.settings import Settings

    settings = Settings()
    if _uses_local_cluster(settings):
        from geo.store.cluster import LocalCluster

        st = LocalCluster(settings).status()
        console.print(f"cluster: {st.message}\ndata:    {st.data_dir}")
        if not st.running:
            raise typer.Exit(1)
    try:
        rev = schema_revision(settings.sqlalchemy_url())
    except Exception as exc:
        fail(f"cannot connect to the database: {exc}")
    console.print(f"schema:  {rev or 'empty (run `gridmap db migrate`)'}")


def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the local cluster with all its data and create it afresh."""
    from geo.settings import Settings
    from geo.store.cluster import LocalCluster

    settings = Settings()
    if not _uses_local_cluster(settings):
        fail("reset only works on the project-local cluster, not on GRIDMAP_DATABASE_URL")
    if not yes and not typer.confirm("Delete every database of the local cluster?"):
        raise typer.Exit(1)
    with _cluster_errors():
        LocalCluster(settings).reset(log=console.print)
    db_migrate()


def db_migrate(revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (Alembic)."""
    from geo.settings import Settings
    from geo.store import migrate

    settings = Settings()
    try:
        migrate.upgrade(settings.sqlalchemy_url(), revision)
    except Exception as exc:
        fail(f"migration failed: {exc}\nIs the database up? Try `gridmap db up`.")
    console.print(f"schema at {migrate.current_revision(settings.sqlalchemy_url())}")


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the ``gridmap`` app."""
    db_app = typer.Typer(help="The PostGIS database (project-local cluster by default).")
    app.add_typer(db_app, name="db")
    db_app.command("up")(db_up)
    db_app.command("down")(db_down)
    db_app.command("status")(db_status)
    db_app.command("reset")(db_reset)
    db_app.command("migrate")(db_migrate)
