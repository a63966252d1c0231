"""Idempotent intake under concurrency, against the real server process with keys
required: any number of concurrent duplicates (same source + external_id) store ONE
incident and all get an answer within seconds; the service stays healthy after.

And re-posting a known source + external_id reads nothing: a caller whose jurisdiction
does not cover the stored case gets an id-free "already received" (409), as GET gives
it a 404.

Every request has a bounded timeout, so a regression (the old intake hung the server
for good on 8 concurrent duplicates) fails here instead of hanging the suite.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from geo.store import keys as keystore

from tests.server import serve

pytestmark = pytest.mark.db

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)  # per request: a hang fails, never blocks
ALL_ANSWERED_S = 10.0  # 100 answers took 3 s on 2 shared cores; the old code never answered


def _key(db_engine, name: str, **kw) -> str:
    args = {"scopes": ["intake"], "unit_codes": [], "rate_per_minute": 60_000}
    with db_engine.begin() as conn:
        return keystore.create_key(conn, name=name, created_by="test", **{**args, **kw})[1]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def keyed_server(loaded, test_settings, tmp_path_factory):
    """The real service with API keys required, as the outside tester ran it."""
    with serve(
        test_settings, tmp_path_factory.mktemp("intake-concurrency"), GRIDMAP_REQUIRE_API_KEY="1"
    ) as base:
        yield base


@pytest.fixture(scope="module")
def two_streets(db_engine, sample, loaded):
    """Two streets and a point inside a grid of each (the generator's polygons)."""
    with db_engine.connect() as conn:
        a, b = (
            conn.execute(
                sa.text(
                    f"SELECT code FROM admin_unit_version WHERE level = 'street' AND {LIVE}"
                    " ORDER BY code LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
    grids = sample.grids.set_index("code").geometry
    in_a = grids[sorted(c for c in grids.index if c.startswith(a))[0]].representative_point()
    in_b = grids[sorted(c for c in grids.index if c.startswith(b))[0]].representative_point()
    return {a: in_a, b: in_b}


def _case(ext: str, p, description: str | None = None) -> dict:
    return {
        "source": "hotline_12345",
        "external_id": ext,
        "reported_at": "2026-11-20T09:30:00+08:00",
        "category": "road_facility",
        "lon": p.x,
        "lat": p.y,
        "crs": "wgs84",
        "description": description,
    }


def _stored(db_engine, ext: str, source: str = "hotline_12345") -> list[tuple]:
    """The stored incidents with this key, straight from PostGIS."""
    with db_engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT id, street_unit_id, description, ST_X(geom), ST_Y(geom) FROM incident"
                " WHERE source = :s AND external_id = :e"
            ),
            {"s": source, "e": ext},
        ).all()


def _all_at_once(n: int, send) -> tuple[list, float]:
    """``send(client)`` from n threads released together; (answers or exceptions,
    seconds until the last one came back)."""
    barrier = threading.Barrier(n)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    with httpx.Client(timeout=TIMEOUT, limits=limits) as client:

        def one(_):
            barrier.wait(timeout=30)
            try:
                return send(client)
            except httpx.HTTPError as exc:  # a timeout is a result: the test fails on it
                return exc

        t0 = time.monotonic()
        with ThreadPoolExecutor(n) as pool:
            answers = list(pool.map(one, range(n)))
        return answers, time.monotonic() - t0


def _still_serving(base: str, db_engine, point, incident_id: int) -> None:
    """Right after the burst: health, a fresh key (not in any cache) reads the case and
    reports a new one."""
    fresh = _auth(_key(db_engine, "after the burst", scopes=["intake", "read"]))
    with httpx.Client(base_url=base, timeout=httpx.Timeout(10.0)) as c:
        assert c.get("/healthz").status_code == 200
        got = c.get(f"/v1/incidents/{incident_id}", headers=fresh)
        assert got.status_code == 200, got.text
        ext = f"after-{uuid.uuid4()}"
        new = c.post("/v1/incidents", json=_case(ext, point), headers=fresh)
        assert new.status_code == 201, new.text
    assert len(_stored(db_engine, ext)) == 1


def test_100_concurrent_duplicates_store_one_and_all_answer(keyed_server, db_engine, two_streets):
    point = next(iter(two_streets.values()))
    key = _auth(_key(db_engine, "hotline, whole district"))
    ext = f"dup-{uuid.uuid4()}"
    case = _case(ext, point)
    answers, took = _all_at_once(
        100, lambda c: c.post(f"{keyed_server}/v1/incidents", json=case, headers=key)
    )
    failed = [a for a in answers if not isinstance(a, httpx.Response)]
    assert not failed, f"{len(failed)} of 100 got no answer: {failed[:3]!r}"
    assert took < ALL_ANSWERED_S, f"100 answers took {took:.1f} s"
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 99 + [201], {c: codes.count(c) for c in set(codes)}
    ids = {a.json()["id"] for a in answers}
    stored = _stored(db_engine, ext)
    assert len(stored) == 1 and ids == {stored[0][0]}
    assert all(a.json()["external_id"] == ext for a in answers)
    _still_serving(keyed_server, db_engine, point, stored[0][0])


def test_8_concurrent_open311_duplicates_store_one(keyed_server, db_engine, two_streets):
    point = next(iter(two_streets.values()))
    key = _auth(_key(db_engine, "open311 hotline"))
    ext = f"o311-{uuid.uuid4()}"
    form = {
        "service_code": "road_facility",
        "lat": str(point.y),
        "long": str(point.x),
        "external_id": ext,
    }
    answers, took = _all_at_once(
        8, lambda c: c.post(f"{keyed_server}/open311/v2/requests.json", data=form, headers=key)
    )
    failed = [a for a in answers if not isinstance(a, httpx.Response)]
    assert not failed, f"{len(failed)} of 8 got no answer: {failed[:3]!r}"
    assert took < ALL_ANSWERED_S
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    stored = _stored(db_engine, ext)
    assert len(stored) == 1
    assert {a.json()[0]["service_request_id"] for a in answers} == {str(stored[0][0])}
    _still_serving(keyed_server, db_engine, point, stored[0][0])


def test_repost_does_not_read_a_case_outside_the_jurisdiction(keyed_server, db_engine, two_streets):
    (a, in_a), (b, in_b) = two_streets.items()
    district = _auth(_key(db_engine, "district hotline", scopes=["intake", "read"]))
    street_a = _auth(_key(db_engine, "street A hotline", unit_codes=[a]))
    ext = f"private-{uuid.uuid4()}"
    secret = "住户张三 13800000000 反映楼道堆物"
    with httpx.Client(base_url=keyed_server, timeout=TIMEOUT) as c:
        first = c.post("/v1/incidents", json=_case(ext, in_b, secret), headers=district)
        assert first.status_code == 201, first.text
        case_id = first.json()["id"]
        assert first.json()["street"]["code"] == b
        # The street-A key may not read it ...
        assert c.get(f"/v1/incidents/{case_id}", headers=street_a).status_code == 404
        # ... and re-posting its source + external_id from inside A reads nothing either.
        before = _stored(db_engine, ext)
        again = c.post("/v1/incidents", json=_case(ext, in_a), headers=street_a)
        assert again.status_code == 409, again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        body = again.json()
        assert body["type"] == "/problems/already-received"
        assert body["detail"] and body["detail_zh"]
        assert "id" not in body and str(case_id) not in again.text
        assert secret not in again.text and b not in again.text
        # The same through Open311: no request id.
        o311 = {"service_code": "road_facility", "lat": str(in_b.y), "long": str(in_b.x)}
        ext311 = f"private-311-{uuid.uuid4()}"
        made = c.post(
            "/open311/v2/requests.json", data={**o311, "external_id": ext311}, headers=district
        )
        assert made.status_code == 200, made.text
        o311_id = made.json()[0]["service_request_id"]
        o311_again = c.post(
            "/open311/v2/requests.json",
            data={**o311, "lat": str(in_a.y), "long": str(in_a.x), "external_id": ext311},
            headers=street_a,
        )
        assert o311_again.status_code == 409, o311_again.text
        assert o311_again.json()["type"] == "/problems/already-received"
        assert o311_id not in o311_again.text
        # The caller who may read it gets the stored case, as GET gives it.
        mine = c.post("/v1/incidents", json=_case(ext, in_a), headers=district)
        assert mine.status_code == 200 and mine.json()["id"] == case_id
        assert mine.json() == c.get(f"/v1/incidents/{case_id}", headers=district).json()
    # Nothing changed by the refused re-posts: still one case each, where it was.
    assert _stored(db_engine, ext) == before
    assert len(before) == 1
    assert len(_stored(db_engine, ext311)) == 1


def _hold_key(holder, ext: str) -> None:
    """Store a copy of some incident under ``ext`` in ``holder``'s open transaction, as
    an upload does before it commits (plain SQL; every column but id and the key)."""
    cols = holder.execute(
        sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'incident'"
            " AND column_name NOT IN ('id', 'external_id') ORDER BY ordinal_position"
        )
    ).scalars()
    names = ", ".join(cols)
    holder.execute(
        sa.text(
            f"INSERT INTO incident (external_id, {names})"
            f" SELECT :e, {names} FROM incident ORDER BY id LIMIT 1"
        ),
        {"e": ext},
    )


def test_a_key_held_by_an_unfinished_upload_answers_busy_in_bounded_time(
    keyed_server, db_engine, two_streets
):
    """Another transaction holds the key (an upload not committed yet): concurrent
    reports of it get 503 busy + Retry-After within seconds and store nothing, while
    the service keeps answering; once that transaction ends the case is stored."""
    point = next(iter(two_streets.values()))
    key = _auth(_key(db_engine, "hotline during an upload"))
    ext = f"held-{uuid.uuid4()}"
    with db_engine.connect() as holder:
        tx = holder.begin()
        source = holder.execute(sa.text("SELECT source FROM incident ORDER BY id LIMIT 1"))
        held_source = source.scalar_one()
        _hold_key(holder, ext)
        case = {**_case(ext, point), "source": held_source}
        with ThreadPoolExecutor(8) as pool, httpx.Client(timeout=TIMEOUT) as c:
            t0 = time.monotonic()
            waiting = [
                pool.submit(c.post, f"{keyed_server}/v1/incidents", json=case, headers=key)
                for _ in range(8)
            ]
            # Meanwhile health and a fresh key's read answer, not queued behind them.
            time.sleep(0.3)
            fresh = _auth(_key(db_engine, "reader during an upload", scopes=["read"]))
            assert c.get(f"{keyed_server}/healthz").status_code == 200
            some = holder.execute(sa.text("SELECT min(id) FROM incident")).scalar_one()
            read = c.get(f"{keyed_server}/v1/incidents/{some}", headers=fresh)
            assert read.status_code == 200, read.text
            assert any(not f.done() for f in waiting), "the read waited for the busy ones"
            answers = [f.result() for f in waiting]  # httpx timeouts bound each
            took = time.monotonic() - t0
        tx.rollback()
    assert took < ALL_ANSWERED_S, f"busy answers took {took:.1f} s"
    for a in answers:
        assert a.status_code == 503, a.text
        assert a.headers["content-type"].startswith("application/problem+json")
        assert a.json()["type"] == "/problems/busy" and a.json()["detail_zh"]
        assert int(a.headers["Retry-After"]) > 0
    assert _stored(db_engine, ext, held_source) == []
    # The holder gave up: now the case is stored, once.
    r = httpx.post(f"{keyed_server}/v1/incidents", json=case, headers=key, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    assert [row[0] for row in _stored(db_engine, ext, held_source)] == [r.json()["id"]]


def test_concurrent_uploads_and_reports_of_the_same_cases_store_each_once(
    keyed_server, db_engine, two_streets
):
    """8 NDJSON uploads of the same 50 cases and 8 single reports of one of them, all at
    once: each case stored once, every request answered, none with a server error."""
    point = next(iter(two_streets.values()))
    key = _auth(_key(db_engine, "hotline, bulk"))
    run = uuid.uuid4()
    cases = [_case(f"bulk-{run}-{i}", point) for i in range(50)]
    ndjson = "\n".join(json.dumps(c) for c in cases).encode()
    headers = {**key, "Content-Type": "application/x-ndjson"}

    def send(c: httpx.Client, i: int) -> httpx.Response:
        if i % 2:
            return c.post(f"{keyed_server}/v1/incidents", json=cases[7], headers=key)
        return c.post(f"{keyed_server}/v1/incidents", content=ndjson, headers=headers)

    counter = iter(range(16))
    lock = threading.Lock()

    def next_send(c: httpx.Client) -> httpx.Response:
        with lock:
            i = next(counter)
        return send(c, i)

    answers, took = _all_at_once(16, next_send)
    failed = [a for a in answers if not isinstance(a, httpx.Response)]
    assert not failed, f"{len(failed)} of 16 got no answer: {failed[:3]!r}"
    assert took < ALL_ANSWERED_S
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
    uploads = [a.json() for a in answers if a.status_code == 200 and "received" in a.json()]
    singles = [a for a in answers if "received" not in a.json()]
    assert len(uploads) == 8 and len(singles) == 8
    assert all(u["received"] == 50 and u["stored"] + u["duplicates"] == 50 for u in uploads)
    created = sum(a.status_code == 201 for a in singles)
    assert all(a.status_code in (200, 201) for a in singles)
    assert sum(u["stored"] for u in uploads) + created == 50
    assert len({a.json()["id"] for a in singles}) == 1
    with db_engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT external_id) FROM incident"
                " WHERE external_id LIKE :p"
            ),
            {"p": f"bulk-{run}-%"},
        ).one()
    assert tuple(stored) == (50, 50)
