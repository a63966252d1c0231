"""PostGIS goes down and comes back: writes answer 503 + Retry-After, reverse geocoding
keeps answering from memory, the service recovers by itself, and incident intake
never acknowledges a case it has not stored.

The shared test cluster is never touched: this test makes its own cluster in a
temporary folder (on a free port), loads the sample into it, runs the real server
against it in a subprocess, and stops and starts that cluster.
"""

from __future__ import annotations

import json
import shutil
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from geo.settings import Settings
from geo.store import migrate
from geo.store.cluster import LocalCluster
from geo.store.db import make_engine

from tests.server import serve

pytestmark = pytest.mark.db

LON, LAT = 113.894073, 35.368217  # inside the sample district


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("outage")
    settings = Settings(
        database_url=None,
        pg_dir=tmp / "pg",
        pg_database="gridmap",
        data_dir=tmp / "sample",
        refresh_seconds=0.5,
    )
    cluster = LocalCluster(settings)
    cluster.up(log=lambda *_: None)
    settings = settings.model_copy(update={"pg_port": cluster.port})
    try:
        from boundaries.sample_load import load_sample

        migrate.upgrade(settings.sqlalchemy_url())
        engine = make_engine(settings)
        load_sample(engine, settings, step=lambda *_: None)
        engine.dispose()
        yield cluster, settings
    finally:
        cluster.down(log=lambda *_: None)
        shutil.rmtree(cluster.base, ignore_errors=True)


@pytest.fixture(scope="module")
def server(own_cluster, tmp_path_factory):
    _cluster, settings = own_cluster
    log_dir = tmp_path_factory.mktemp("outage-server")
    with serve(settings, log_dir, GRIDMAP_REFRESH_SECONDS="0.5") as base:
        yield base


def _incident(ext: str) -> dict:
    return {
        "source": "hotline_12345",
        "external_id": ext,
        "reported_at": "2026-10-01T08:30:00+08:00",
        "category": "environment",
        "lon": LON,
        "lat": LAT,
        "crs": "wgs84",
    }


class Reporter(threading.Thread):
    """Posts distinct cases one after another and records which were acknowledged."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.acked: set[str] = set()
        self.statuses: dict[int, int] = {}
        self.unavailable: list[httpx.Response] = []

    def run(self) -> None:
        i = 0
        with httpx.Client(timeout=10) as c:
            while not self.stop.is_set():
                ext = f"outage-{i}"
                i += 1
                try:
                    r = c.post(f"{self.base}/v1/incidents", json=_incident(ext))
                except httpx.HTTPError:
                    self.statuses[-1] = self.statuses.get(-1, 0) + 1
                    continue
                self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
                if 200 <= r.status_code < 300:
                    self.acked.add(ext)
                elif r.status_code == 503:
                    self.unavailable.append(r)
                time.sleep(0.02)


def _stored_ids(settings: Settings) -> set[str]:
    engine = make_engine(settings)
    try:
        with engine.connect() as c:
            rows = c.execute(
                text("SELECT external_id FROM incident WHERE external_id LIKE 'outage-%'")
            )
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def test_outage_and_recovery(own_cluster, server):
    cluster, settings = own_cluster
    reverse = {"lon": LON, "lat": LAT}
    before = httpx.get(f"{server}/v1/geocode/reverse", params=reverse)
    assert before.status_code == 200
    grid = before.json()["grid"]["code"]
    # The same answer straight from PostGIS (smallest code on a shared border).
    engine = make_engine(settings)
    with engine.connect() as c:
        expected = c.execute(
            text(
                "SELECT code FROM admin_unit_version WHERE level = 'grid' AND valid_from IS "
                "NOT NULL AND valid_to IS NULL AND ST_Covers(geom, ST_Point(:x, :y, 4326)) "
                "ORDER BY code LIMIT 1"
            ),
            {"x": LON, "y": LAT},
        ).scalar_one()
    engine.dispose()
    assert grid == expected

    reporter = Reporter(server)
    reporter.start()
    time.sleep(1.5)  # some cases stored while the database is up
    cluster.down(log=lambda *_: None)
    try:
        time.sleep(1.0)
        # Reverse geocoding answers from memory while PostGIS is down.
        for _ in range(5):
            r = httpx.get(f"{server}/v1/geocode/reverse", params=reverse, timeout=10)
            assert r.status_code == 200
            assert r.json()["grid"]["code"] == grid
        # A write: 503 with Retry-After, as problem+json.
        w = httpx.post(f"{server}/v1/incidents", json=_incident("outage-probe"), timeout=10)
        assert w.status_code == 503
        assert int(w.headers["retry-after"]) > 0
        assert w.headers["content-type"] == "application/problem+json"
        assert w.json()["detail_zh"]
        o = httpx.post(
            f"{server}/open311/v2/requests.json",
            data={"service_code": "environment", "lat": LAT, "long": LON},
            timeout=10,
        )
        assert o.status_code == 503 and o.headers["retry-after"]
        bulk = "\n".join(json.dumps(_incident(f"outage-bulk-{i}")) for i in range(3))
        b = httpx.post(
            f"{server}/v1/incidents",
            content=bulk.encode(),
            headers={"content-type": "application/x-ndjson"},
            timeout=10,
        )
        assert b.status_code == 503 and b.headers["retry-after"]
        assert httpx.get(f"{server}/healthz", timeout=10).status_code == 503
        time.sleep(1.0)
    finally:
        cluster.up(log=lambda *_: None)

    # The service recovers by itself: writes succeed again within a few seconds.
    deadline = time.monotonic() + 30
    while True:
        r = httpx.post(f"{server}/v1/incidents", json=_incident("outage-after"), timeout=10)
        if r.status_code in (200, 201):
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    time.sleep(1.5)  # and keep reporting for a while after recovery
    reporter.stop.set()
    reporter.join(timeout=30)

    assert httpx.get(f"{server}/healthz", timeout=10).status_code == 200
    assert reporter.statuses.get(503, 0) > 0  # the outage was really seen by intake
    assert reporter.statuses.get(500, 0) == 0
    assert all(r.headers.get("retry-after") for r in reporter.unavailable)
    assert len(reporter.acked) > 0
    # Every acknowledged case is stored, and no other.
    assert _stored_ids(settings) == reporter.acked | {"outage-after"}
