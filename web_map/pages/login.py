"""The sign-in page (``/login``) and the change-password page (``/password``): small
HTML documents from ``web_map/templates/login.html`` and ``password.html``, Chinese by
default, English selectable; no map, no script, usable on a phone."""

from __future__ import annotations

from urllib.parse import quote

from web_map.i18n import check_lang, t
from web_map.templating import render

_KEYS = ("title", "heading", "login", "password", "submit", "other_lang", "hint")


def login_page(lang: str, next_path: str, *, error: str | None = None, login: str = "") -> str:
    """The page in ``lang``; after sign-in the browser goes to ``next_path``; ``error``
    is the i18n key of a message to show (the login name typed is kept)."""
    check_lang(lang)
    other = "en" if lang == "zh" else "zh"
    return render(
        "login.html",
        html_lang=t("html.lang", lang),
        lang=lang,
        text={k: t(f"login.{k}", lang) for k in _KEYS},
        error=t(error, lang) if error else None,
        next_path=next_path,
        login=login,
        other_url=f"/login?lang={other}&next={quote(next_path, safe='/')}",
    )


_PASSWORD_KEYS = ("title", "heading", "current", "new", "repeat", "submit", "hint")


def password_page(
    lang: str,
    next_path: str,
    *,
    csrf_token: str,
    error: str | None = None,
    message: str | None = None,
) -> str:
    """The change-password page; ``error`` an i18n key, ``message`` a text to show."""
    check_lang(lang)
    return render(
        "password.html",
        html_lang=t("html.lang", lang),
        lang=lang,
        text={k: t(f"password.{k}", lang) for k in _PASSWORD_KEYS},
        error=t(error, lang) if error else message,
        next_path=next_path,
        csrf_token=csrf_token,
    )
