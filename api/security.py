"""Security headers, CORS and request body limits, installed once by the app factory.

Headers: every answer says ``nosniff``, may not be framed by another site, sends no
full referrer elsewhere, and carries a Content-Security-Policy. The pages (folium
maps at ``/`` and ``/dashboard``, Swagger UI at ``/docs``) load every asset from
``/static`` and use inline scripts and styles (folium writes its map set-up inline;
Swagger UI starts from an inline script), so the policy allows ``'self'`` plus
inline code and nothing from another host — except the basemap's tile servers when
one is configured (``basemap``/``basemap_url``/``tiles_url``), for images only.

CORS: only the origins listed in ``cors_origins`` (none by default).

Body limits: each endpoint family (batch geocoding, incident intake, Open311, patrol
tracks, boundary uploads, ledger imports, geometry edits, everything else) has an
explicit limit in settings. A declared
``Content-Length`` over the limit is refused before the app sees the request; a
streamed (chunked) body is counted as it arrives and cut off at the limit. Either
way the answer is a 413 problem+json that names the limit.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.settings import Settings

from api.errors import problem
from web_map.basemaps import is_tile_folder, resolve_basemap, tile_origins


def _tile_origins(settings: Settings) -> list[str]:
    """Hosts the pages load basemap tiles from (none for tiles the app serves itself):
    the dashboard's ``basemap`` and the overview map's ``tiles_url``."""
    out = []
    specs = [(settings.basemap, settings.basemap_url)]
    if settings.tiles_url and not is_tile_folder(settings.tiles_url):
        specs.append(("local", settings.tiles_url))
    for kind, url in specs:
        try:
            basemap = resolve_basemap(kind, url, settings.tianditu_key, settings.tiles_url)
        except ValueError:  # a misconfigured basemap is not drawn at all
            continue
        out += [o for o in tile_origins(basemap) if o not in out]
    return out


def content_security_policy(settings: Settings) -> str:
    """The CSP header value for ``settings`` (basemap tile hosts, if any, for images)."""
    img = ["'self'", "data:", "blob:", *_tile_origins(settings)]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", "'unsafe-inline'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": img,
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
    return "; ".join(f"{k} {' '.join(v)}" for k, v in directives.items())


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"SAMEORIGIN"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"content-security-policy", content_security_policy(settings).encode()),
    ]


def body_limits(settings: Settings) -> dict[tuple[str, str], int]:
    """Limit in bytes by (method, path) of the upload and bulk endpoints."""
    return {
        ("POST", "/v1/geocode/reverse/batch"): settings.max_body_geocode_batch_bytes,
        ("POST", "/v1/incidents"): settings.max_body_incidents_bytes,
        ("POST", "/open311/v2/requests.json"): settings.max_body_open311_bytes,
        ("POST", "/v1/patrol/tracks"): settings.max_body_patrol_bytes,
        ("POST", "/v1/boundary-sets"): settings.max_body_boundary_upload_bytes,
        ("POST", "/v1/registers/ledgers/import"): settings.max_body_ledger_bytes,
    }


# Geometry edits (OGC API Features transactions from QGIS, grid and special-grid edits).
EDIT_METHODS = frozenset({"POST", "PUT", "PATCH"})
EDIT_PREFIXES = ("/ogc/collections/", "/v1/grids/", "/v1/special-grids")


def limit_for(settings: Settings, method: str, path: str) -> int:
    """The body limit of one request; anything not listed gets ``max_body_bytes``."""
    path = path.rstrip("/") or "/"
    exact = body_limits(settings).get((method, path))
    if exact is not None:
        return exact
    if method in EDIT_METHODS and path.startswith(EDIT_PREFIXES):
        return settings.max_body_edit_bytes
    return settings.max_body_bytes


def _human(n: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    """Pure ASGI: security headers on every HTTP answer, and body size limits."""

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.headers = security_headers(settings)
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method in ("GET", "HEAD", "OPTIONS"):  # the hot paths: no table lookup
            limit = self.settings.max_body_bytes
        else:
            limit = limit_for(self.settings, method, scope["path"])
        started = False
        over = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if over and not started:  # the app answers a body we cut off: a 413 instead
                return
            if message["type"] == "http.response.start":
                started = True
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._too_large(scope, send_with_headers, limit)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send_with_headers)
        except Exception:
            if not over:
                raise
        if over and not started:
            over = False
            await self._too_large(scope, send_with_headers, limit)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        path = scope["path"]
        human = _human(limit)
        response = problem(
            413,
            "payload-too-large",
            f"request body larger than the {human} limit for {path}; split it into "
            "smaller requests (or use the CLI for bulk files)",
            f"请求内容超过 {path} 的 {human} 上限；请拆分为较小的请求（大文件请用命令行）",
            path,
            limit_bytes=limit,
        )
        response.headers["connection"] = "close"
        await response({**scope, "type": "http"}, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.disconnect"}


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add CORS (origins from settings) and the headers/limits middleware."""
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "X-API-Key", "Content-Type", "Accept-Language"],
        expose_headers=["Retry-After", "Location"],
        allow_credentials=False,
        max_age=600,
    )
    # Added last, so it is outermost: the 413 and the headers apply to CORS answers too.
    app.add_middleware(SecurityMiddleware, settings=settings)
