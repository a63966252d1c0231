"""People signed in to the pages: the session cookie, the CSRF check and the page guard.

A signed-in person is a :class:`api.auth.Caller` like a key's holder: role and units
come from their account through the same jurisdiction code (geo/store/keys.py), and
``get_caller`` asks :func:`session_caller` when no key is presented.

- Cookie ``gm_session``: an opaque random id (HttpOnly, SameSite=Lax, Secure over https
  or with ``GRIDMAP_SECURE_COOKIES``); the database keeps only its SHA-256. Every
  request looks the session up, so a logout or a disable counts from the next request.
- CSRF: a request that changes something and is authenticated by the cookie must send
  the session's token in ``X-CSRF-Token`` (or a form field ``csrf_token``). The token
  reaches the page's scripts in the ``gm_csrf`` cookie (readable by the page, sent
  anywhere by nobody else: another site can neither read it nor set the header).
  Requests with an API key are not affected.
- Pages: :data:`PageCallerDep` sends a signed-out visitor to ``/login?next=…`` when
  sign-in is required (``GRIDMAP_REQUIRE_API_KEY``) instead of a 401 JSON, and a person
  who must change their password (first sign-in, after a reset) to ``/password``.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from geo.services import accounts as uc
from geo.store.keys import ROLE_SCOPES
from geo.store.models import API_SCOPES

from api.auth import Caller, Unauthorized, get_caller
from api.errors import problem

SESSION_COOKIE = "gm_session"
CSRF_COOKIE = "gm_csrf"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Exception):
    """A cookie-authenticated change without the session's CSRF token."""


class SignInRedirect(Exception):
    """A page asked for by a signed-out visitor while sign-in is required."""

    def __init__(self, next_path: str, to: str = "/login"):
        super().__init__(next_path)
        self.next_path = next_path
        self.to = to


def person_caller(account) -> Caller:
    """The one identity type for a person: scopes of the role, units of the account."""
    scopes = API_SCOPES if account.role == "admin" else ROLE_SCOPES[account.role]
    return Caller(
        None,
        account.display_name,
        frozenset(scopes),
        account.unit_ids,
        account.role,
        account.worker_code,
        person_id=account.id,
        login=account.login,
    )


def _csrf_presented(request: Request) -> str | None:
    for name, value in request.scope["headers"]:
        if name == CSRF_HEADER:
            return value.decode("latin-1")
    return None


async def session_caller(request: Request, csrf_token: str | None = None) -> Caller | None:
    """The signed-in person of this request, or None (no cookie, or a dead session).
    Raises :class:`CsrfRefused` for a change without the session's token (the header,
    or ``csrf_token`` when a form carried it)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    cached = getattr(request.state, "gm_person", None)
    if cached is not None:
        return cached
    state = request.app.state.service
    settings = state.settings
    found = await asyncio.to_thread(
        uc.session_account,
        state.engine,
        session_id,
        idle_s=settings.session_idle_minutes * 60,
        max_s=settings.session_max_hours * 3600,
    )
    if found is None:
        return None
    account, expected = found
    if request.method not in SAFE_METHODS:
        sent = csrf_token or _csrf_presented(request) or ""
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRefused
    caller = person_caller(account)
    request.state.gm_person = caller
    request.state.gm_must_change = account.must_change_password
    return caller


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 or c == "\\" for c in target):
        return default
    parts = urlsplit(target)
    return default if parts.scheme or parts.netloc else target


async def get_page_caller(request: Request) -> Caller:
    """The caller of a page; a signed-out visitor goes to the login page when sign-in
    is required (a wrong key still gets its 401)."""
    try:
        caller = await get_caller(request)
    except Unauthorized:
        if request.headers.get("authorization") or request.headers.get("x-api-key"):
            raise
        raise SignInRedirect(_target(request)) from None
    if getattr(request.state, "gm_must_change", False):  # first sign-in: a new password
        raise SignInRedirect(_target(request), to="/password")
    return caller


def _target(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


PageCallerDep = Annotated[Caller, Depends(get_page_caller)]


def set_session_cookies(
    response: Response, request: Request, session_id: str, csrf_token: str
) -> None:
    settings = request.app.state.service.settings
    secure = request.url.scheme == "https" or settings.secure_cookies
    max_age = int(settings.session_max_hours * 3600)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    # Read by the pages' scripts (sent back as X-CSRF-Token): not HttpOnly.
    response.set_cookie(
        CSRF_COOKIE, csrf_token, max_age=max_age, path="/", secure=secure, samesite="lax"
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return problem(
        403,
        "csrf",
        "this change came without the page's security token: reload the page and try "
        "again (scripts send it as the X-CSRF-Token header)",
        "请求缺少页面的安全令牌：请刷新页面后重试（脚本须在 X-CSRF-Token 请求头中携带）",
        request.url.path,
    )


async def _sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRedirect)
    return RedirectResponse(f"{exc.to}?next=" + quote(exc.next_path, safe="/"), status_code=303)


def install_sessions(app: FastAPI) -> None:
    """The login pages and the answers of a refused CSRF check or a signed-out page."""
    from api.routers import login

    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(SignInRedirect, _sign_in_redirect)
    app.include_router(login.router)
