"""Domain errors → HTTP problem+json (RFC 9457), with messages in Chinese and English."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import (
    Conflict,
    GridmapError,
    InvalidInput,
    NotFound,
    NotReady,
    StaleVersion,
    VersionRequired,
)

from api.auth import Forbidden, TooManyRequests, Unauthorized

PROBLEM_JSON = "application/problem+json"

STATUS = {
    Unauthorized: 401,
    Forbidden: 403,
    TooManyRequests: 429,
    StaleVersion: 412,
    VersionRequired: 428,
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    NotReady: 503,
    GridmapError: 500,
}
TITLES = {
    400: ("Bad request", "请求有误"),
    401: ("Unauthorized", "未授权"),
    403: ("Forbidden", "无权访问"),
    429: ("Too many requests", "请求过于频繁"),
    404: ("Not found", "未找到"),
    405: ("Method not allowed", "不支持该请求方法"),
    409: ("Conflict", "冲突"),
    413: ("Payload too large", "请求内容过大"),
    415: ("Unsupported media type", "不支持的内容类型"),
    412: ("Precondition failed", "版本已变化"),
    428: ("Precondition required", "缺少版本条件"),
    422: ("Invalid input", "输入无效"),
    500: ("Internal error", "内部错误"),
    503: ("Service not ready", "服务尚未就绪"),
}


def problem(
    status: int, slug: str, detail: str, detail_zh: str, instance: str, **extra
) -> JSONResponse:
    title, title_zh = TITLES.get(status, ("Error", "错误"))
    body = {
        "type": f"/problems/{slug}",
        "title": title,
        "title_zh": title_zh,
        "status": status,
        "detail": detail,
        "detail_zh": detail_zh,
        "instance": instance,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _status_for(exc: GridmapError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


async def _domain_error(request: Request, exc: GridmapError) -> JSONResponse:
    response = problem(
        _status_for(exc), exc.slug, exc.message, exc.message_zh, request.url.path, **exc.extra
    )
    if "retry_after" in exc.extra:
        response.headers["Retry-After"] = str(exc.extra["retry_after"])
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) or "body" for e in errors)
    # Rules of api.validation carry their message in both languages (ctx en/zh).
    said = [(e["loc"], e.get("ctx") or {}) for e in exc.errors()]
    en = "".join(f" {_name(loc)} {c['en']}." for loc, c in said if "en" in c and "zh" in c)
    zh = "".join(f"{_name(loc)} {c['zh']}。" for loc, c in said if "en" in c and "zh" in c)
    return problem(
        422,
        "invalid-input",
        f"invalid or missing parameter(s): {fields}.{en} See `errors` for each one.",
        f"参数缺失或无效：{fields}。{zh}详见 errors 字段。",
        request.url.path,
        errors=errors,
    )


def _name(loc) -> str:
    return ".".join(str(p) for p in tuple(loc)[1:]) or "body"


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    title, title_zh = TITLES.get(exc.status_code, ("Error", "错误"))
    return problem(
        exc.status_code,
        title.lower().replace(" ", "-"),
        str(exc.detail) if exc.detail else title,
        title_zh,
        request.url.path,
    )


DB_RETRY_AFTER_S = 5


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is down or restarting: nothing was stored, the client may retry.
    response = problem(
        503,
        "database-unavailable",
        "the database is unavailable right now; nothing was stored. Retry after "
        f"{DB_RETRY_AFTER_S} seconds",
        f"数据库暂时不可用，本次请求未保存任何数据；请 {DB_RETRY_AFTER_S} 秒后重试",
        request.url.path,
    )
    response.headers["Retry-After"] = str(DB_RETRY_AFTER_S)
    return response


E = TypeVar("E", bound=Exception)


def _only(
    kind: type[E], handler: Callable[[Request, E], Awaitable[JSONResponse]]
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    # Starlette types every handler as taking any Exception; it calls each one only
    # with the class it was registered for, which this wrapper states once.
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, kind)
        return await handler(request, exc)

    return handle


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(sqlalchemy.exc.OperationalError, _database_unavailable)
    app.add_exception_handler(sqlalchemy.exc.InterfaceError, _database_unavailable)
    # No free pooled connection within the pool timeout: busy, not broken; retry later.
    app.add_exception_handler(sqlalchemy.exc.TimeoutError, _database_unavailable)
    app.add_exception_handler(GridmapError, _only(GridmapError, _domain_error))
    app.add_exception_handler(
        RequestValidationError, _only(RequestValidationError, _validation_error)
    )
    app.add_exception_handler(StarletteHTTPException, _only(StarletteHTTPException, _http_error))
