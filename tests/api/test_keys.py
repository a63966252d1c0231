"""API keys: jurisdiction over contacts, revocation, rate limits, scopes, required keys."""

import os
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo.settings import PROJECT_ROOT
from geo.store import keys as keystore


def _key(db_engine, **kw):
    args = {
        "name": "t",
        "scopes": ["geocode", "read"],
        "unit_codes": [],
        "rate_per_minute": 600,
        "created_by": "test",
        **kw,
    }
    with db_engine.begin() as conn:
        return keystore.create_key(conn, **args)


def _point_in_street(sample, street_code):
    comms = set(sample.communities.loc[sample.communities["parent_code"] == street_code, "code"])
    workers = sample.workers[sample.workers["role"] == "worker"]
    for r in workers.itertuples():
        if isinstance(r.grid_code, str) and r.grid_code[:12] in comms:
            g = sample.grids.loc[sample.grids["code"] == r.grid_code].geometry.iloc[0]
            return g.representative_point(), str(r.phone)
    raise AssertionError("no staffed grid in that street")


def test_key_of_street_a_cannot_see_street_b_contacts(client, sample, db_engine):
    street_a, street_b = sample.streets["code"].iloc[0], sample.streets["code"].iloc[1]
    _, key_a = _key(db_engine, name="A街道", unit_codes=[street_a])
    p_a, phone_a = _point_in_street(sample, street_a)
    p_b, phone_b = _point_in_street(sample, street_b)

    def phone(p, key=None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()["grid_workers"][0]["phone"]

    assert phone(p_a, key_a) == phone_a  # own jurisdiction: the full number
    assert phone(p_b, key_a) == phone_b[:3] + "****" + phone_b[-4:]  # street B: masked
    assert phone(p_a) == phone_a[:3] + "****" + phone_a[-4:]  # anonymous: masked
    # A key without the read scope sees masked numbers even in its own street.
    _, geo_only = _key(db_engine, scopes=["geocode"], unit_codes=[street_a])
    assert "****" in phone(p_a, geo_only)


def test_revoked_and_unknown_keys_get_401(client, sample, db_engine):
    key_id, key = _key(db_engine)
    p = sample.grids.geometry.iloc[0].representative_point()
    params = {"lon": p.x, "lat": p.y}
    assert (
        client.get("/v1/geocode/reverse", params=params, headers={"X-API-Key": key}).status_code
        == 200
    )
    with db_engine.begin() as conn:
        keystore.revoke_key(conn, key_id)
    time.sleep(0.7)  # the worker's key cache (0.5 s in tests; 10 s by default)
    r = client.get("/v1/geocode/reverse", params=params, headers={"X-API-Key": key})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail_zh"]
    forged = key[:-4] + "abcd"
    assert (
        client.get(
            "/v1/geocode/reverse", params=params, headers={"Authorization": f"Bearer {forged}"}
        ).status_code
        == 401
    )
    assert (
        client.get(
            "/v1/geocode/reverse", params=params, headers={"X-API-Key": "nonsense"}
        ).status_code
        == 401
    )


def test_rate_limit_gives_429_with_retry_after(client, sample, db_engine):
    _, key = _key(db_engine, rate_per_minute=5)
    p = sample.grids.geometry.iloc[0].representative_point()
    codes = [
        client.get(
            "/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}, headers={"X-API-Key": key}
        ).status_code
        for _ in range(7)
    ]
    assert codes[:5] == [200] * 5 and codes[5] == 429
    r = client.get(
        "/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}, headers={"X-API-Key": key}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_scope_is_enforced(client, sample, db_engine):
    _, key = _key(db_engine, scopes=["geocode"])
    r = client.post("/v1/incidents", json={}, headers={"X-API-Key": key})
    assert r.status_code == 403 and "intake" in r.json()["detail"]
    with db_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM boundary_set")).scalar()
    r = client.post(
        "/v1/boundary-sets", files={"file": ("x.geojson", b"{}")}, headers={"X-API-Key": key}
    )
    assert r.status_code == 403
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM boundary_set")).scalar() == before


def test_required_keys_refuse_anonymous_callers(loaded, test_settings, db_engine, sample):
    from api.app import create_app

    strict = test_settings.model_copy(update={"require_api_key": True})
    p = sample.grids.geometry.iloc[0].representative_point()
    _, key = _key(db_engine)
    with TestClient(create_app(strict)) as c:
        assert c.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}).status_code == 401
        ok = c.get(
            "/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}, headers={"X-API-Key": key}
        )
        assert ok.status_code == 200
        assert c.get("/healthz").status_code == 200  # health stays open for monitoring


def test_cli_shows_the_key_once(test_settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(
        GRIDMAP_PG_DATABASE=test_settings.pg_database,
        GRIDMAP_PG_PORT=str(test_settings.local_pg_port()),
        COLUMNS="200",
    )

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "keys", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    made = cli("create", "--name", "12345热线", "--scope", "geocode", "--scope", "intake")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    assert key.startswith("gm_")
    listed = cli("list")
    assert "12345热线" in listed.stderr and key not in listed.stdout + listed.stderr
    bad = cli("create", "--name", "x", "--scope", "superuser")
    assert bad.returncode != 0 and "scope" in bad.stderr


@pytest.mark.parametrize("header", ["Bearer", "Bearer  ", ""])
def test_empty_credentials_are_anonymous_not_errors(client, sample, header):
    p = sample.grids.geometry.iloc[0].representative_point()
    headers = {"Authorization": header} if header else {}
    r = client.get("/v1/geocode/reverse", params={"lon": p.x, "lat": p.y}, headers=headers)
    assert r.status_code == 200
