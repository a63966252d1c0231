"""People's accounts and sessions: sign-in, one answer for every failure, lockout,
disable and logout taking effect on the next request, CSRF on cookie-authenticated
changes, the page redirect to /login, and no secret in the audit log or the logs.

Against the real database (the edits database: these tests commit) through the app's
lifespan (TestClient) and a real server process for the log check.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo.errors import InvalidInput
from geo.services import accounts as uc
from geo.settings import PROJECT_ROOT

from tests.server import serve

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def strict(edit_db):
    """An app that requires sign-in (GRIDMAP_REQUIRE_API_KEY=true) on the edits DB."""
    from api.app import create_app

    settings, engine = edit_db
    strict_settings = settings.model_copy(update={"require_api_key": True})
    return create_app(strict_settings), engine


def _account(engine, login, role="planner", **kw):
    # The password is the person's own here; the first-sign-in change is tested apart.
    args = {
        "display_name": f"测试{login}",
        "unit_codes": [],
        "password": PASSWORD,
        "must_change_password": False,
        **kw,
    }
    account_id, _ = uc.create_account(engine, login=login, role=role, actor="test", **args)
    return account_id


def _sign_in(c, login, password=PASSWORD, next_path="/dashboard"):
    return c.post(
        "/login",
        data={"login": login, "password": password, "next": next_path},
        follow_redirects=False,
    )


def _alias_count(engine, alias):
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM place_alias WHERE alias = :a"), {"a": alias}
        ).scalar()


def test_signed_out_pages_go_to_login_and_back(strict):
    app, engine = strict
    _account(engine, "planner_a")
    with TestClient(app) as c:
        for path in ("/", "/dashboard?days=7", "/planner"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303, path
            loc = urlsplit(r.headers["location"])
            assert loc.path == "/login" and parse_qs(loc.query)["next"] == [path]
        page = c.get("/login", params={"next": "/dashboard?days=7"})
        assert page.status_code == 200 and "登录名" in page.text
        assert 'value="/dashboard?days=7"' in page.text
        assert "Login name" in c.get("/login", params={"lang": "en"}).text
        # An API call (not a page) still gets its 401 problem+json.
        assert c.get("/v1/aliases").status_code == 401
        r = _sign_in(c, "planner_a", next_path="/dashboard?days=7")
        assert r.status_code == 303 and r.headers["location"] == "/dashboard?days=7"
        cookie = r.headers.get_list("set-cookie")
        session = next(h for h in cookie if h.startswith("gm_session="))
        assert "HttpOnly" in session and "SameSite=lax" in session and "Secure" not in session
        dash = c.get("/dashboard", params={"days": 7})
        assert dash.status_code == 200 and dash.headers["content-type"].startswith("text/html")
        assert c.get("/planner").status_code == 200
        assert c.get("/v1/aliases").status_code == 200  # the API too, by the cookie


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example", "/\\evil", "x"])
def test_next_goes_nowhere_off_site(strict, target):
    app, engine = strict
    with TestClient(app) as c:
        if "planner_n" not in [a["login"] for a in uc.list_accounts(engine)]:
            _account(engine, "planner_n")
        r = _sign_in(c, "planner_n", next_path=target)
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_unknown_login_and_wrong_password_answer_alike(strict):
    app, engine = strict
    _account(engine, "planner_b")
    with TestClient(app) as c:
        answers, times = [], []
        for login, password in [("planner_b", "wrong password!"), ("nobody_here", PASSWORD)] * 2:
            start = time.perf_counter()
            r = _sign_in(c, login, password)
            times.append(time.perf_counter() - start)
            body = r.text.replace(login, "LOGIN")  # the form keeps the login typed
            answers.append((r.status_code, body))
            assert "gm_session" not in r.headers.get("set-cookie", "")
        assert answers[0] == answers[1] == answers[2] == answers[3]
        for odd in ("nul\x00login", "x" * 5000, ""):  # no input gives a 500
            r = _sign_in(c, odd, "whatever password")
            # 422: the app's input guard refuses a NUL or lone surrogate before us.
            assert r.status_code in (401, 422) and "gm_session" not in r.headers.get(
                "set-cookie", ""
            )
        for body in (b"login=%FF%FE&password=\xff", b"login=%ED%B2%80&password=x", b"%%%"):
            raw = c.post("/login", content=body, follow_redirects=False)
            assert raw.status_code in (401, 422)
        assert answers[0][0] == 401 and "登录名或密码不正确" in answers[0][1]
        # Both paths verify one argon2 hash: within a factor of 3 of each other.
        wrong, unknown = min(times[0], times[2]), min(times[1], times[3])
        assert max(wrong, unknown) < 3 * min(wrong, unknown)


def test_lockout_after_five_failures_is_audited(strict):
    app, engine = strict
    account_id = _account(engine, "planner_c")
    with TestClient(app) as c:
        for _ in range(uc.LOCK_AFTER):
            assert _sign_in(c, "planner_c", "not the password").status_code == 401
        # Locked: the right password is refused too, with the same answer.
        r = _sign_in(c, "planner_c")
        assert r.status_code == 401 and "gm_session" not in r.headers.get("set-cookie", "")
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT failed_logins, locked_until > now() + interval '50 seconds' "
                "FROM account WHERE id = :i"
            ),
            {"i": account_id},
        ).one()
        audit = conn.execute(
            sa.text("SELECT detail FROM audit_log WHERE action = 'account.lock' AND ref = :r"),
            {"r": "planner_c"},
        ).all()
    assert row == (uc.LOCK_AFTER, True)
    assert len(audit) == 1 and audit[0][0]["failures"] == uc.LOCK_AFTER
    assert [uc.lock_seconds(n) for n in (4, 5, 6, 7, 20)] == [None, 60, 120, 240, 3600]
    # An admin's enable lifts the lock.
    uc.set_disabled(engine, "planner_c", False, actor="test")
    with TestClient(app) as c:
        assert _sign_in(c, "planner_c").status_code == 303


def test_disable_and_logout_take_effect_on_the_next_request(strict):
    app, engine = strict
    _account(engine, "planner_d")
    with TestClient(app) as c:
        assert _sign_in(c, "planner_d").status_code == 303
        assert c.get("/v1/aliases").status_code == 200
        uc.set_disabled(engine, "planner_d", True, actor="test")
        assert c.get("/v1/aliases").status_code == 401
        assert c.get("/planner", follow_redirects=False).status_code == 303
        assert _sign_in(c, "planner_d").status_code == 401  # and cannot sign in again
    uc.set_disabled(engine, "planner_d", False, actor="test")
    with TestClient(app) as c:
        assert _sign_in(c, "planner_d").status_code == 303
        token = c.cookies["gm_csrf"]
        assert c.post("/logout", follow_redirects=False).status_code == 403  # no token
        assert c.get("/v1/aliases").status_code == 200
        r = c.post("/logout", headers={"X-CSRF-Token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert "gm_session" not in c.cookies
    with engine.connect() as conn:
        left = conn.execute(
            sa.text(
                "SELECT count(*) FROM account_session s JOIN account a ON a.id = s.account_id "
                "WHERE a.login = 'planner_d'"
            )
        ).scalar()
    assert left == 0


def test_csrf_token_is_required_for_changes_by_cookie(strict):
    app, engine = strict
    _account(engine, "planner_e")
    body = {"target": "410799001001", "alias": "CSRF测试别名"}
    with TestClient(app) as c:
        assert _sign_in(c, "planner_e").status_code == 303
        refused = c.post("/v1/aliases", json=body)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "/problems/csrf" and refused.json()["detail_zh"]
        forged = c.post("/v1/aliases", json=body, headers={"X-CSRF-Token": "x" * 43})
        assert forged.status_code == 403
        assert _alias_count(engine, body["alias"]) == 0  # refused: nothing changed
        done = c.post("/v1/aliases", json=body, headers={"X-CSRF-Token": c.cookies["gm_csrf"]})
        assert done.status_code == 201, done.text
    assert _alias_count(engine, body["alias"]) == 1
    with engine.connect() as conn:
        actor = conn.execute(
            sa.text("SELECT actor FROM audit_log WHERE action LIKE 'alias%' ORDER BY id DESC")
        ).first()[0]
    assert actor == "测试planner_e"  # the person's display name, not "anonymous"


def test_a_supervisor_sees_their_street_only(strict, sample):
    app, engine = strict
    street_a, street_b = sample.streets["code"].iloc[0], sample.streets["code"].iloc[1]
    _account(engine, "super_a", role="supervisor", unit_codes=[street_a])
    with TestClient(app) as c:
        assert _sign_in(c, "super_a").status_code == 303
        assert c.get("/dashboard").status_code == 200  # their own street by default
        assert c.get("/dashboard", params={"street": street_b}).status_code == 403
        assert (
            c.post(
                "/v1/aliases",
                json={"target": street_a, "alias": "监督员别名"},
                headers={"X-CSRF-Token": c.cookies["gm_csrf"]},
            ).status_code
            == 403
        )  # a supervisor holds no edit scope


def test_api_keys_are_not_affected_by_csrf(strict):
    from geo.store import keys as keystore

    app, engine = strict
    with engine.begin() as conn:
        _, key = keystore.create_key(
            conn,
            name="app",
            scopes=["read", "edit"],
            unit_codes=[],
            rate_per_minute=600,
            created_by="test",
        )
    with TestClient(app) as c:
        r = c.post(
            "/v1/aliases",
            json={"target": "410799001", "alias": "密钥别名"},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 201


def test_password_policy_and_account_rules(edit_db):
    _, engine = edit_db
    with pytest.raises(InvalidInput, match="10 characters"):
        uc.create_account(
            engine,
            login="short_pw",
            display_name="x",
            role="planner",
            unit_codes=[],
            password="123456789",
            actor="t",
        )
    with pytest.raises(InvalidInput, match="login name"):
        uc.create_account(
            engine,
            login="samename",
            display_name="x",
            role="planner",
            unit_codes=[],
            password="xxSameName99",
            actor="t",
        )
    with pytest.raises(InvalidInput, match="supervisor"):
        uc.create_account(
            engine,
            login="sup_nounit",
            display_name="x",
            role="supervisor",
            unit_codes=[],
            actor="t",
        )
    _account(engine, "dup_login")
    with pytest.raises(InvalidInput, match="taken"):
        _account(engine, "DUP_LOGIN")  # logins are compared lower-cased
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT password_hash FROM account WHERE login = 'dup_login'")
        ).scalar()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def _cli(settings, *args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(
        GRIDMAP_PG_DATABASE=settings.pg_database,
        GRIDMAP_PG_PORT=str(settings.local_pg_port()),
        COLUMNS="200",
    )
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "users", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
    )


def test_cli_and_no_secret_in_logs_or_audit(edit_db, tmp_path, caplog):
    settings, engine = edit_db
    made = _cli(settings, "create", "cli_user", "--name", "命令行用户", "--role", "planner")
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip().splitlines()[-1]
    assert len(password) >= uc.MIN_PASSWORD_LENGTH
    listed = _cli(settings, "list")
    assert "cli_user" in listed.stdout + listed.stderr
    assert password not in listed.stdout + listed.stderr
    bad = _cli(settings, "create", "x_user", "--name", "x", "--role", "mayor")
    assert bad.returncode != 0 and "role" in bad.stderr
    caplog.set_level(logging.DEBUG)
    with serve(settings, tmp_path, GRIDMAP_REQUIRE_API_KEY="true") as base:
        with httpx.Client(base_url=base) as c:
            r = c.post("/login", data={"login": "cli_user", "password": password, "next": "/"})
            assert r.status_code == 303 and r.headers["location"] == "/password?next=/"
            session_id = c.cookies["gm_session"]
            csrf = c.cookies["gm_csrf"]
            # A generated password must be changed first: every page leads there.
            assert c.get("/dashboard").headers["location"] == "/password?next=/dashboard"
            form = c.get("/password", params={"next": "/dashboard"})
            assert form.status_code == 200 and csrf in form.text
            own = "my own password 2026"
            change = {"current_password": password, "new_password": own, "next": "/dashboard"}
            refused = c.post("/password", data={**change, "repeat_password": own})
            assert refused.status_code == 403  # no CSRF token in the form: nothing changed
            short = {**change, "new_password": "short", "repeat_password": "short"}
            bad = c.post("/password", data={**short, "csrf_token": csrf})
            assert bad.status_code == 400 and "10" in bad.text
            done = c.post("/password", data={**change, "repeat_password": own, "csrf_token": csrf})
            assert done.status_code == 303 and done.headers["location"] == "/dashboard"
            assert c.get("/dashboard").status_code == 200
            c.post("/login", data={"login": "cli_user", "password": password + "x"})
            c.post("/logout", headers={"X-CSRF-Token": csrf})
            assert c.get("/dashboard").status_code == 303  # signed out
        reset = _cli(settings, "reset-password", "cli_user")
        assert reset.returncode == 0
        new_password = reset.stdout.strip().splitlines()[-1]
        assert new_password != password
        assert (
            httpx.post(
                f"{base}/login", data={"login": "cli_user", "password": password}
            ).status_code
            == 401
        )
        assert (
            httpx.post(
                f"{base}/login", data={"login": "cli_user", "password": new_password}
            ).status_code
            == 303
        )
    # The service's own output, and every log record of this process but those of the
    # test's HTTP client (httpx/httpcore print the cookies it receives at DEBUG).
    mine = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    log = (tmp_path / "server.log").read_text() + "\n".join(r.getMessage() for r in mine)
    with engine.connect() as conn:
        audit = conn.execute(sa.text("SELECT audit_log::text FROM audit_log")).scalars().all()
        sessions = conn.execute(sa.text("SELECT id_hash FROM account_session")).scalars().all()
    assert "account.create" in "".join(audit) and "account.reset_password" in "".join(audit)
    assert "account.change_password" in "".join(audit)
    for secret in (password, own, new_password, session_id, csrf):
        assert secret not in log and not any(secret in a for a in audit)
        assert secret not in sessions  # only hashes are stored


def test_idle_and_absolute_timeouts_end_a_session(edit_db):
    from api.app import create_app

    settings, engine = edit_db
    _account(engine, "planner_t")
    idle = settings.model_copy(update={"require_api_key": True, "session_idle_minutes": 0.03})
    with TestClient(create_app(idle)) as c:
        assert _sign_in(c, "planner_t").status_code == 303
        for _ in range(3):  # used within the idle limit: stays alive
            time.sleep(0.8)
            assert c.get("/v1/aliases").status_code == 200
        time.sleep(2.5)  # idle longer than 1.8 s
        assert c.get("/v1/aliases").status_code == 401
    short = settings.model_copy(
        update={"require_api_key": True, "session_max_hours": 2 / 3600, "secure_cookies": True}
    )
    with TestClient(create_app(short)) as c:
        r = _sign_in(c, "planner_t")
        session = next(h for h in r.headers.get_list("set-cookie") if "gm_session=" in h)
        assert "Secure" in session  # the setting says so, though the request was http
        c.cookies.set("gm_session", r.cookies["gm_session"])  # a test client over http
        assert c.get("/v1/aliases").status_code == 200
        time.sleep(1.0)
        assert c.get("/v1/aliases").status_code == 200
        time.sleep(1.5)  # 2 s after sign-in, however busy
        assert c.get("/v1/aliases").status_code == 401


def test_a_session_is_shared_by_two_server_processes(edit_db, tmp_path):
    settings, engine = edit_db
    _account(engine, "planner_two")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        serve(settings, tmp_path / "a", GRIDMAP_REQUIRE_API_KEY="true") as one,
        serve(settings, tmp_path / "b", GRIDMAP_REQUIRE_API_KEY="true") as two,
    ):
        r = httpx.post(f"{one}/login", data={"login": "planner_two", "password": PASSWORD})
        assert r.status_code == 303
        cookies = {"gm_session": r.cookies["gm_session"]}
        token = r.cookies["gm_csrf"]
        assert httpx.get(f"{two}/v1/aliases", cookies=cookies).status_code == 200
        out = httpx.post(f"{two}/logout", cookies=cookies, headers={"X-CSRF-Token": token})
        assert out.status_code == 303
        # Signed out on the second process: the first refuses the cookie at once.
        assert httpx.get(f"{one}/v1/aliases", cookies=cookies).status_code == 401
        page = httpx.get(f"{one}/dashboard", cookies=cookies)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/dashboard"
