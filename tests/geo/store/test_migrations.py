"""Alembic upgrade/downgrade on an empty database, and the schema's own guards."""

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from geo.store import migrate
from geo.store.cluster import drop_database, ensure_database

EXPECTED_TABLES = {
    "boundary_set",
    "admin_unit",
    "admin_unit_version",
    "special_grid",
    "grid_worker",
    "grid_assignment",
    "compound",
    "incident",
    "patrol_track",
    "patrol_track_purged",
    "patrol_visit",
}


@pytest.fixture()
def empty_db(cluster, test_settings):
    name = f"gridmap_test_migrations_{os.getpid()}"
    drop_database(cluster.admin_dsn(), name)
    ensure_database(cluster.admin_dsn(), name, test_settings.pg_user)
    yield test_settings.sqlalchemy_url(name)
    drop_database(cluster.admin_dsn(), name)


def _tables(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_to_head_and_downgrade_to_base(empty_db):
    assert not (_tables(empty_db) & EXPECTED_TABLES)
    migrate.upgrade(empty_db)
    assert EXPECTED_TABLES <= _tables(empty_db)
    assert migrate.current_revision(empty_db) is not None
    migrate.downgrade(empty_db, "base")
    assert not (_tables(empty_db) & EXPECTED_TABLES)
    assert migrate.current_revision(empty_db) is None
    migrate.upgrade(empty_db)  # and back up again: downgrade left nothing behind
    assert EXPECTED_TABLES <= _tables(empty_db)


def _insert_compound(conn, wkt, srid=4326):
    conn.execute(
        sa.text(
            "INSERT INTO compound (source_key, name, management_type, geom) "
            "VALUES (:k, 'x', 'unowned', ST_GeomFromText(:wkt, :srid))"
        ),
        {"k": wkt, "wkt": wkt, "srid": srid},
    )


@pytest.mark.parametrize(
    ("wkt", "srid"),
    [
        ("POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))", 4326),  # bow-tie: self-intersection
        ("POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))", 4490),  # wrong SRID
        ("POLYGON EMPTY", 4326),
        ("LINESTRING(0 0, 1 1)", 4326),  # not an allowed type
    ],
)
def test_check_constraints_refuse_bad_geometry(db_engine, wkt, srid):
    with db_engine.connect() as conn, pytest.raises((IntegrityError, sa.exc.DataError)):
        with conn.begin():
            _insert_compound(conn, wkt, srid)


def test_good_geometry_is_accepted(conn):
    _insert_compound(conn, "POLYGON((113.9 35.3, 113.901 35.3, 113.901 35.301, 113.9 35.3))")
    assert conn.execute(sa.text("SELECT count(*) FROM compound WHERE name = 'x'")).scalar() == 1


def test_gist_indexes_exist(conn):
    rows = conn.execute(
        sa.text("SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
    ).scalars()
    assert {"admin_unit_version", "special_grid", "compound", "incident", "patrol_track"} <= set(
        rows
    )


def test_migrations_build_exactly_the_models(empty_db):
    """Alembic's autogenerate finds nothing between the migrated schema and the models:
    a model changed without a migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from geoalchemy2 import alembic_helpers

    from geo.store.models import Base

    migrate.upgrade(empty_db)
    engine = sa.create_engine(empty_db)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={"include_object": alembic_helpers.include_object, "compare_type": True},
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
