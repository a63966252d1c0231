"""Signing in through the real login page in a real Chromium, against a real server
that requires sign-in; screenshots of the page on a desktop and a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from geo.services import accounts as uc

from tests.server import serve
from tests.web_map.browser import load_page, wait_until_true

pytestmark = pytest.mark.browser

PASSWORD = "planner password 1"
SHOTS = Path("/work/tools/shots")  # looked at by hand, kept after the run


@pytest.fixture(scope="module")
def strict_server(edit_db, tmp_path_factory):
    settings, engine = edit_db
    uc.create_account(
        engine,
        login="browser_planner",
        display_name="浏览器规划员",
        role="planner",
        unit_codes=[],
        password=PASSWORD,
        actor="test",
        must_change_password=False,
    )
    log_dir = tmp_path_factory.mktemp("strict-server")
    with serve(settings, log_dir, GRIDMAP_REQUIRE_API_KEY="true") as base:
        yield base, engine


def _sign_in(page, login, password):
    page.fill("#gm-login-name", login)
    page.fill("#gm-login-password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")


def test_a_planner_signs_in_and_opens_the_planner(strict_server, tmp_path):
    base, engine = strict_server
    seen: dict = {}

    def interact(page):
        seen["login_url"] = page.url
        seen["lang"] = page.evaluate("document.documentElement.lang")
        _sign_in(page, "browser_planner", PASSWORD)
        wait_until_true(page, "window.gridmapPlanner !== undefined")
        seen["planner_url"] = page.url
        seen["cookie_has_session"] = "gm_session" in page.evaluate("document.cookie")
        # A change by the cookie alone, without the page's token, is refused.
        seen["no_token"] = page.evaluate(
            """fetch('/v1/aliases', {method: 'POST', headers: {'Content-Type':
               'application/json'}, body: JSON.stringify({target: '410799', alias: '无令牌'})})
               .then(r => r.status)"""
        )

    report = load_page(f"{base}/planner", interact=interact)
    assert seen["login_url"] == f"{base}/login?next=/planner"
    assert seen["lang"] == "zh-CN"
    assert seen["planner_url"] == f"{base}/planner"
    assert seen["cookie_has_session"] is False  # HttpOnly: no script can read it
    assert seen["no_token"] == 403
    assert report.external_requests == [] and report.page_errors == []
    assert [f for f in report.failed_requests if "/v1/aliases" not in f] == []
    with engine.connect() as conn:
        assert not conn.execute(
            sa.text("SELECT count(*) FROM place_alias WHERE alias = '无令牌'")
        ).scalar()


def test_the_planner_previews_a_split_signed_in(strict_server):
    """The editor's own request path: a split drawn with the mouse and previewed (a
    dry-run POST by planner_editor.js) carries the session's X-CSRF-Token and is
    answered with its impact, not refused; nothing is stored."""
    from tests.api.test_planner_browser import _split_and_merge_targets, _to_px, live

    base, engine = strict_server
    with engine.connect() as conn:
        _community, split_code, line, *_ = _split_and_merge_targets(conn)
        before = sorted(live(conn, "grid")["code"])
    (lx0, ly), (lx1, _) = line.coords
    seen: dict = {"posts": []}

    def interact(page):
        _sign_in(page, "browser_planner", PASSWORD)
        wait_until_true(page, "window.gridmapPlanner !== undefined")
        page.on(
            "request",
            lambda r: (
                seen["posts"].append((r.url, r.headers.get("x-csrf-token")))
                if r.method == "POST"
                else None
            ),
        )
        page.on(
            "response",
            lambda r: seen.setdefault("status", r.status) if r.request.method == "POST" else None,
        )
        page.evaluate(
            f"""async () => {{
                const p = window.gridmapPlanner;
                p.map.fitBounds(p.byCode({split_code!r}).getBounds(), {{animate: false}});
                await p.select(p.byCode({split_code!r}));
            }}"""
        )
        page.click("#gm-split")
        page.mouse.click(*_to_px(page, lx0, ly))
        page.mouse.dblclick(*_to_px(page, lx1, ly))
        page.fill("#gm-reason", "登录后预览分割")
        page.click("#gm-preview")
        wait_until_true(page, "document.getElementById('gm-impact').innerHTML !== ''", 60)
        seen["csrf"] = page.evaluate(
            "document.cookie.split('; ').find(c => c.startsWith('gm_csrf=')).slice(8)"
        )

    report = load_page(f"{base}/planner", interact=interact)
    assert report.page_errors == [] and report.failed_requests == []
    posts = [p for p in seen["posts"] if "/v1/grids/" in p[0]]
    assert posts and all("dry_run=true" in u for u, _ in posts)
    assert all(token == seen["csrf"] for _, token in posts) and seen["csrf"]
    assert seen["status"] == 200
    with engine.connect() as conn:
        assert sorted(live(conn, "grid")["code"]) == before  # a preview stores nothing


@pytest.mark.parametrize(
    ("name", "viewport", "lang"),
    [
        ("login-1280x800", {"width": 1280, "height": 800}, "zh"),
        ("login-390x844", {"width": 390, "height": 844}, "zh"),
        ("login-390x844-en", {"width": 390, "height": 844}, "en"),
    ],
)
def test_login_page_fits_desktop_and_phone(strict_server, name, viewport, lang):
    base, _engine = strict_server
    shot = SHOTS / f"{name}.png"
    fits = (
        "(() => { const f = document.querySelector('form').getBoundingClientRect();"
        " const b = document.querySelector('button').getBoundingClientRect();"
        " return f.left >= 0 && f.right <= window.innerWidth && b.bottom <= window.innerHeight"
        " && b.height >= 40 && document.documentElement.scrollWidth <= window.innerWidth; })()"
    )
    report = load_page(
        f"{base}/login?lang={lang}&next=/planner",
        viewport=viewport,
        screenshot=shot,
        evaluate={"fits": fits, "heading": "document.querySelector('h1').textContent"},
    )
    assert report.problems == []
    assert report.results["fits"] is True
    want = "登录网格地图服务" if lang == "zh" else "Sign in to the grid map service"
    assert report.results["heading"] == want
    assert shot.stat().st_size > 5_000


def test_wrong_password_in_the_browser_keeps_the_login_and_says_why(strict_server):
    base, _engine = strict_server
    seen: dict = {}

    def interact(page):
        _sign_in(page, "browser_planner", "not my password")
        seen["alert"] = page.text_content("[role=alert]")
        seen["login"] = page.input_value("#gm-login-name")
        seen["url"] = page.url

    load_page(f"{base}/login?next=/dashboard", interact=interact)
    assert "登录名或密码不正确" in seen["alert"]
    assert seen["login"] == "browser_planner"
    assert seen["url"] == f"{base}/login"
