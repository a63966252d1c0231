"""PostGIS goes down and comes back: writes answer 503 + Retry-After, reverse geocoding
keeps answering from memory, the service recovers by itself, and incident intake
never acknowledges a case it has not stored. With keys required, a key known from
before the outage keeps geocoding (within its grace period, under its rate limit);
an unknown key gets 503, a revoked or forged one 401.

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
from geo.store import keys as keystore
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


# -- the same outage with keys required -----------------------------------------------

KEY_TTL_S = 0.5  # GRIDMAP_KEY_CACHE_SECONDS: the outage below lasts many times this
GRACE_S = 14.0  # GRIDMAP_KEY_GRACE_SECONDS, short to keep the test quick
E_AGE_AT_OUTAGE_S = 8.0  # key E is last used this long before PostGIS stops


@pytest.fixture(scope="module")
def keyed_server(own_cluster, tmp_path_factory):
    _cluster, settings = own_cluster
    log_dir = tmp_path_factory.mktemp("outage-keyed-server")
    with serve(
        settings,
        log_dir,
        GRIDMAP_REFRESH_SECONDS="0.5",
        GRIDMAP_REQUIRE_API_KEY="true",
        GRIDMAP_KEY_CACHE_SECONDS=str(KEY_TTL_S),
        GRIDMAP_KEY_GRACE_SECONDS=str(GRACE_S),
    ) as base:
        yield base


def _new_key(settings: Settings, name: str, scopes: list[str], rate: int = 6000):
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            return keystore.create_key(
                conn,
                name=name,
                scopes=scopes,
                unit_codes=[],
                rate_per_minute=rate,
                created_by="test_outage",
            )
    finally:
        engine.dispose()


def _revoke(settings: Settings, key_id: int) -> None:
    engine = make_engine(settings)
    try:
        with engine.begin() as conn:
            keystore.revoke_key(conn, key_id)
    finally:
        engine.dispose()


class KeyedGeocoder(threading.Thread):
    """Reverse-geocodes with one key without pause; records (time, status, grid)."""

    def __init__(self, base: str, key: str):
        super().__init__(daemon=True)
        self.base, self.key = base, key
        self.stop = threading.Event()
        self.seen: list[tuple[float, int, str | None]] = []

    def run(self) -> None:
        with httpx.Client(timeout=10, headers={"X-API-Key": self.key}) as c:
            while not self.stop.is_set():
                try:
                    r = c.get(f"{self.base}/v1/geocode/reverse", params={"lon": LON, "lat": LAT})
                except httpx.HTTPError:  # no answer at all (a hang or a dropped connection)
                    self.seen.append((time.monotonic(), -1, None))
                    continue
                grid = r.json()["grid"]["code"] if r.status_code == 200 else None
                self.seen.append((time.monotonic(), r.status_code, grid))
                time.sleep(0.03)


def _get(base: str, path: str, key: str, **params) -> httpx.Response:
    return httpx.get(f"{base}{path}", params=params, headers={"X-API-Key": key}, timeout=10)


def _reverse(base: str, key: str) -> httpx.Response:
    return _get(base, "/v1/geocode/reverse", key, lon=LON, lat=LAT)


def _assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "/problems/database-unavailable" and r.json()["detail_zh"]
    assert int(r.headers["retry-after"]) > 0


def _assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail_zh"]


def test_outage_with_keys_required(own_cluster, keyed_server):
    cluster, settings = own_cluster
    base = keyed_server
    keys = {
        "K": _new_key(settings, "known", ["geocode", "intake", "read"]),  # used throughout
        "E": _new_key(settings, "earlier", ["geocode"]),  # last used well before
        "U": _new_key(settings, "unused", ["geocode"]),  # never used before the outage
        "R": _new_key(settings, "revoked", ["geocode"]),  # revoked before the outage
        "L": _new_key(settings, "limited", ["geocode"], rate=3),  # 3 requests a minute
    }
    k, e, u, r_, lim = (keys[n][1] for n in "KEURL")
    assert _reverse(base, "").status_code == 401  # keys are required
    first = _reverse(base, k)
    assert first.status_code == 200
    grid = first.json()["grid"]
    search_before = _get(base, "/v1/geocode/search", k, q=grid["name"])
    assert search_before.status_code == 200
    assert grid["code"] in [c["code"] for c in search_before.json()]

    poller = KeyedGeocoder(base, k)
    poller.start()
    assert _reverse(base, e).status_code == 200
    e_used = time.monotonic()
    assert _reverse(base, r_).status_code == 200
    _revoke(settings, keys["R"][0])
    time.sleep(KEY_TTL_S + 0.3)
    _assert_refused(_reverse(base, r_))  # the worker's record now says revoked
    assert _reverse(base, lim).status_code == 200  # 2 of its 3 tokens left
    time.sleep(max(0.0, e_used + E_AGE_AT_OUTAGE_S - time.monotonic()))

    cluster.down(log=lambda *_: None)
    try:
        down = time.monotonic()
        _during_outage(base, (k, e, u, r_, lim), grid, search_before.json())
        # E was last confirmed before e_used: past its grace now, it cannot be checked.
        time.sleep(max(0.0, e_used + GRACE_S + 0.5 - time.monotonic()))
        _assert_unavailable(_reverse(base, e))
        up = time.monotonic()
    finally:
        cluster.up(log=lambda *_: None)
    _after_outage(base, settings, poller, keys, grid["code"], (down, up))


def _during_outage(base, keys, grid, search_before) -> None:
    k, e, u, r_, lim = keys
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 503  # really down
    time.sleep(KEY_TTL_S + 0.5)  # every cached record is past its TTL
    # The known key: reverse geocoding (the poller) and search answer from memory.
    search = _get(base, "/v1/geocode/search", k, q=grid["name"])
    assert search.status_code == 200 and search.json() == search_before
    batch = httpx.post(
        f"{base}/v1/geocode/reverse/batch",
        json={"points": [{"lon": LON, "lat": LAT}]},
        headers={"X-API-Key": k},
        timeout=10,
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["results"][0]["grid"]["code"] == grid["code"]
    # E, last used 8 s before the outage, is still within its grace.
    assert _reverse(base, e).status_code == 200
    # A write with the known key: 503, nothing stored (checked after the outage).
    w = httpx.post(
        f"{base}/v1/incidents",
        json=_incident("keyed-outage-probe"),
        headers={"X-API-Key": k},
        timeout=10,
    )
    _assert_unavailable(w)
    # A key this worker never saw, and a well-formed made-up one: we cannot tell.
    _assert_unavailable(_reverse(base, u))
    _assert_unavailable(_reverse(base, "gm_0badc0de_" + "x" * 32))
    # What the last record says is refused stays refused.
    _assert_refused(_reverse(base, r_))  # revoked before the outage
    _assert_refused(_reverse(base, k[:-4] + ("abcd" if k[-4:] != "abcd" else "dcba")))
    _assert_refused(_reverse(base, "not-a-key"))
    # Rate limits hold from memory: 2 tokens (and a little refill) for 6 quick calls.
    statuses = [_reverse(base, lim) for _ in range(6)]
    ok = sum(s.status_code == 200 for s in statuses)
    limited = [s for s in statuses if s.status_code == 429]
    assert 2 <= ok <= 3 and len(limited) == 6 - ok, [s.status_code for s in statuses]
    assert all(int(s.headers["retry-after"]) > 0 for s in limited)


def _after_outage(base, settings, poller, keys, grid_code, outage) -> None:
    down, up = outage
    k, e, u, r_ = (keys[n][1] for n in "KEUR")
    # The service recovers by itself: the key it could not check is checked again.
    deadline = time.monotonic() + 30
    while (r := _reverse(base, u)).status_code != 200:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.5)
    poller.stop.set()
    poller.join(timeout=30)
    # The known key was answered the whole time, before, during and after the outage.
    statuses = {s for _, s, _ in poller.seen}
    assert statuses == {200}, sorted((s, t - down) for t, s, _ in poller.seen if s != 200)
    assert {g for _, _, g in poller.seen} == {grid_code}
    assert len([t for t, _, _ in poller.seen if down <= t <= up]) >= 20
    assert up - down > 10 * KEY_TTL_S
    assert _reverse(base, e).status_code == 200  # confirmed again: a new grace
    _assert_refused(_reverse(base, r_))
    _assert_refused(_reverse(base, "gm_0badc0de_" + "x" * 32))  # known now: it does not exist
    w = httpx.post(
        f"{base}/v1/incidents",
        json=_incident("keyed-outage-after"),
        headers={"X-API-Key": k},
        timeout=10,
    )
    assert w.status_code == 201, w.text
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    engine = make_engine(settings)
    try:
        with engine.connect() as c:
            stored = c.execute(
                text("SELECT external_id FROM incident WHERE external_id LIKE 'keyed-outage-%'")
            ).scalars()
            assert set(stored) == {"keyed-outage-after"}  # the refused write stored nothing
    finally:
        engine.dispose()
