"""Sign in and out of the pages: ``GET /login`` (the form), ``POST /login``, ``POST
/logout``, and ``/password`` (a person's own new password, required at first
sign-in). The forms are plain HTML (they work without scripts); the pages are built
from ``web_map/templates/login.html`` and ``password.html``, in Chinese by default,
English with ``?lang=en``.

A failed sign-in answers one message whatever went wrong (unknown login, wrong
password, disabled or locked account); see :mod:`geo.services.accounts`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from geo.errors import GridmapError
from geo.services import accounts as uc

from api.deps import State
from api.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    clear_session_cookies,
    safe_next,
    session_caller,
    set_session_cookies,
)
from web_map.pages.login import login_page, password_page

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 8192


def _lang(value: str | None, default: str) -> str:
    return value if value in ("zh", "en") else (default if default in ("zh", "en") else "zh")


def _html(body: str, status: int = 200) -> HTMLResponse:
    # A login page is never cached: it may show who is signed in or an error.
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse)
def login_form(
    state: State,
    lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    page = login_page(_lang(lang, state.settings.default_lang), safe_next(next))
    return _html(page)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items() if v}


def _same_site(request: Request) -> bool:
    """A form posted from this site (browsers send Origin on POST; tools may not)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, state: State) -> Response:
    form = await _form(request)
    lang = _lang(form.get("lang") or request.query_params.get("lang"), state.settings.default_lang)
    target = safe_next(form.get("next"))
    login_name = form.get("login", "")[:200]
    if not _same_site(request):
        return _html(login_page(lang, target, error="login.error_site", login=login_name), 403)
    signed = await asyncio.to_thread(uc.sign_in, state.engine, login_name, form.get("password", ""))
    if signed is None:
        page = login_page(lang, target, error="login.error", login=login_name)
        return _html(page, 401)
    if signed.account.must_change_password:  # first sign-in or after a reset
        target = f"/password?next={quote(target, safe='/')}"
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, request, signed.session_id, signed.csrf_token)
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_form(
    request: Request,
    state: State,
    lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Change one's own password (required at first sign-in)."""
    if await session_caller(request) is None:
        return RedirectResponse("/login?next=/password", status_code=303)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    page = password_page(_lang(lang, state.settings.default_lang), safe_next(next), csrf_token=csrf)
    return _html(page)


@router.post("/password", response_class=HTMLResponse)
async def change_password(request: Request, state: State) -> Response:
    form = await _form(request)
    lang = _lang(form.get("lang"), state.settings.default_lang)
    target = safe_next(form.get("next"))
    person = await session_caller(request, csrf_token=form.get("csrf_token"))
    if person is None or person.person_id is None:
        return RedirectResponse("/login?next=/password", status_code=303)
    new = form.get("new_password", "")
    csrf = form.get("csrf_token", "")
    if new != form.get("repeat_password", ""):
        return _html(password_page(lang, target, csrf_token=csrf, error="password.mismatch"), 400)
    try:
        current = form.get("current_password", "")
        await asyncio.to_thread(uc.change_password, state.engine, person.person_id, current, new)
    except GridmapError as exc:
        message = exc.message_zh if lang == "zh" else exc.message
        return _html(password_page(lang, target, csrf_token=csrf, message=message), 400)
    return RedirectResponse(target, status_code=303)


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request, state: State) -> Response:
    """End the session (the token comes as X-CSRF-Token or the form's csrf_token)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        form = await _form(request)  # a plain form sends the token in its body
        person = await session_caller(request, csrf_token=form.get("csrf_token"))
        if person is not None:
            await asyncio.to_thread(uc.sign_out, state.engine, session_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookies(response)
    return response
