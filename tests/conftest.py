"""Shared fixtures: a real PostGIS (the project-local cluster), the sample district
loaded into a test database, the app in-process and as a real server on loopback.

Each session gets its own database ``gridmap_test_<pid>``, created afresh and dropped
at the end, so a run never depends on what an earlier run or `make demo` left behind
and two runs at once do not disturb each other.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geo.settings import Settings
from geo.store import migrate
from geo.store.cluster import LocalCluster, drop_database, ensure_database
from geo.store.db import make_engine

from tests.server import serve

TEST_DB = f"gridmap_test_{os.getpid()}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "db_engine" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory) -> Settings:
    # Tests always use the project-local cluster, never GRIDMAP_DATABASE_URL.
    return Settings(
        database_url=None,
        pg_database=TEST_DB,
        data_dir=tmp_path_factory.mktemp("sample"),
        refresh_seconds=0.5,
        key_cache_seconds=0.5,
    )


@pytest.fixture(scope="session")
def cluster(test_settings) -> LocalCluster:
    c = LocalCluster(test_settings.model_copy(update={"pg_database": "gridmap"}))
    c.up(log=lambda *_: None)
    return c


def _drop_stale_test_databases(admin_dsn: str) -> None:
    """Drop test databases of runs that died before their teardown."""
    import psycopg

    pattern = "^gridmap_test(_migrations|_edits|_roles)?_[0-9]+$"
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        names = [
            r[0]
            for r in c.execute("SELECT datname FROM pg_database WHERE datname ~ %s", (pattern,))
        ]
    for name in names:
        pid = int(name.rsplit("_", 1)[1])
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            drop_database(admin_dsn, name)


@pytest.fixture(scope="session")
def db_url(cluster, test_settings):
    _drop_stale_test_databases(cluster.admin_dsn())
    ensure_database(cluster.admin_dsn(), TEST_DB, test_settings.pg_user)
    url = test_settings.sqlalchemy_url()
    migrate.upgrade(url)
    yield url
    drop_database(cluster.admin_dsn(), TEST_DB)


@pytest.fixture(scope="session")
def db_engine(db_url, test_settings):
    engine = make_engine(test_settings)
    yield engine
    engine.dispose()  # before db_url's teardown drops the database


@pytest.fixture(scope="session")
def sample():
    """The sample district in memory: the independent reference for DB/API answers."""
    from boundaries.sample import generate_sample_district

    return generate_sample_district(Settings().sample_seed)


@pytest.fixture(scope="session")
def loaded(db_engine, test_settings):
    """The test database with the sample district loaded through `load_sample`."""
    from boundaries.sample_load import load_sample

    return load_sample(db_engine, test_settings, step=lambda *_: None)


@pytest.fixture()
def conn(db_engine):
    """A connection inside a transaction that is rolled back after the test."""
    with db_engine.connect() as connection:
        trans = connection.begin()
        try:
            yield connection
        finally:
            trans.rollback()


@pytest.fixture(scope="session")
def client(loaded, test_settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(test_settings)) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(loaded, test_settings, tmp_path_factory):
    """The real service on the shared test database."""
    with serve(test_settings, tmp_path_factory.mktemp("server")) as base:
        yield base


@pytest.fixture(scope="session")
def edit_db(cluster, test_settings, db_url, tmp_path_factory):
    """A second database with the sample loaded, for tests that commit edits (so the
    shared test database stays the generated sample). Yields (settings, engine)."""
    from boundaries.sample_load import load_sample

    name = f"gridmap_test_edits_{os.getpid()}"
    settings = test_settings.model_copy(
        update={"pg_database": name, "data_dir": tmp_path_factory.mktemp("edits")}
    )
    ensure_database(cluster.admin_dsn(), name, settings.pg_user)
    migrate.upgrade(settings.sqlalchemy_url())
    engine = make_engine(settings)
    load_sample(engine, settings, step=lambda *_: None)
    yield settings, engine
    engine.dispose()
    drop_database(cluster.admin_dsn(), name)


@pytest.fixture(scope="session")
def edit_server(edit_db, tmp_path_factory):
    """The real service on the edits database (tests there may commit)."""
    settings, _engine = edit_db
    with serve(settings, tmp_path_factory.mktemp("edit-server")) as base:
        yield base
