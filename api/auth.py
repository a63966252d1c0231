"""Who is calling: API keys (``Authorization: Bearer gm_…`` or ``X-API-Key``), scopes,
jurisdiction, and per-key rate limits. Enforced here, in one place.

Without a key a caller is anonymous: allowed only while ``GRIDMAP_REQUIRE_API_KEY`` is
off (the local demo), and never shown personal contacts unmasked. Rate limits are
counted per worker process (a token bucket per key).
"""

from __future__ import annotations

import asyncio
import hmac
import math
import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from geo.errors import Forbidden, GridmapError, NotFound
from geo.store import keys as keystore


class Unauthorized(GridmapError):
    slug = "unauthorized"


class TooManyRequests(GridmapError):
    slug = "rate-limited"


@dataclass(frozen=True)
class Caller:
    key_id: int | None
    name: str
    scopes: frozenset[str]
    unit_ids: frozenset[int]  # empty with a key: the whole district
    role: str = "app"  # app | planner | supervisor | grid_worker (keys.ROLE_SCOPES)
    worker_code: str | None = None  # a grid worker's own code

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    def sees_unit(self, chain_unit_ids) -> bool:
        """The caller's jurisdiction covers something in this chain of units (a key
        without units covers the whole district)."""
        return not self.unit_ids or any(u in self.unit_ids for u in chain_unit_ids if u)

    def sees_contacts_of(self, chain_unit_ids: list[int]) -> bool:
        """Unmasked phones only for keys with the read scope and jurisdiction here."""
        if self.anonymous or "read" not in self.scopes:
            return False
        return not self.unit_ids or any(u in self.unit_ids for u in chain_unit_ids)


# Keys not required (local demo): anonymous may do what a planner does, but never sees
# personal contacts unmasked (sees_contacts_of).
ANONYMOUS = Caller(None, "anonymous", frozenset({"geocode", "intake", "read", "edit"}), frozenset())


class KeyCache:
    def __init__(self, ttl_s: float = 10.0):
        # A revoked key stops working within ttl_s in every worker.
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._records: dict[str, tuple[float, keystore.KeyRecord | None]] = {}
        self._buckets: dict[int, tuple[float, float]] = {}

    def cached(self, prefix: str) -> tuple[bool, keystore.KeyRecord | None]:
        """(fresh, record) from memory, without touching the database."""
        hit = self._records.get(prefix)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def lookup(self, engine, prefix: str) -> keystore.KeyRecord | None:
        now = time.monotonic()
        fresh, rec = self.cached(prefix)
        if fresh:
            return rec
        with engine.connect() as conn:
            rec = keystore.get_by_prefix(conn, prefix)
        with self._lock:
            self._records[prefix] = (now, rec)
        return rec

    def forget(self, prefix: str) -> None:
        with self._lock:
            self._records.pop(prefix, None)

    def take(self, rec: keystore.KeyRecord) -> float:
        """Take one request from the key's bucket; 0 if allowed, else seconds to wait."""
        rate = rec.rate_per_minute / 60.0
        with self._lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(rec.id, (float(rec.rate_per_minute), now))
            tokens = min(float(rec.rate_per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[rec.id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[rec.id] = (tokens, now)
            return (1.0 - tokens) / rate


def _presented_key(request: Request) -> str | None:
    # One pass over the raw headers (ASGI gives names in lower case), first value wins
    # as with request.headers.get: this runs on every request of the hottest endpoint.
    auth = key = None
    for name, value in request.scope["headers"]:
        if name == b"authorization" and auth is None:
            auth = value.decode("latin-1")
        elif name == b"x-api-key" and key is None:
            key = value.decode("latin-1")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return key


# async: runs on every API request; a sync dependency would cost a thread-pool hop.
async def get_caller(request: Request) -> Caller:
    state = request.app.state.service
    key = _presented_key(request)
    if not key:
        if state.settings.require_api_key:
            raise Unauthorized(
                "an API key is required: send Authorization: Bearer <key>",
                "需要 API 密钥：请在请求头中携带 Authorization: Bearer <密钥>",
            )
        return ANONYMOUS
    parts = keystore.split_key(key)
    rec = None
    if parts:
        fresh, rec = state.keys.cached(parts[0])
        if not fresh:  # only a cache miss touches the database, off the event loop
            rec = await asyncio.to_thread(state.keys.lookup, state.engine, parts[0])
    if (
        rec is None
        or rec.revoked
        or not hmac.compare_digest(rec.secret_hash, keystore.hash_secret(key))
    ):
        raise Unauthorized("the API key is unknown or revoked", "API 密钥无效或已吊销")
    wait = state.keys.take(rec)
    if wait > 0:
        raise TooManyRequests(
            f"rate limit of {rec.rate_per_minute} requests/minute exceeded; retry later",
            f"超过每分钟 {rec.rate_per_minute} 次的调用限额，请稍后重试",
            retry_after=math.ceil(wait),
        )
    return Caller(rec.id, rec.name, rec.scopes, rec.unit_ids, rec.role, rec.worker_code)


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_scope(scope: str):
    """Router dependency: the caller must hold ``scope``."""

    async def check(caller: CallerDep) -> Caller:
        if scope not in caller.scopes:
            raise Forbidden(f"this key lacks the {scope!r} scope", f"该密钥没有 {scope!r} 权限")
        return caller

    return Depends(check)


def require_any_scope(*scopes: str):
    """Router dependency: the caller must hold one of ``scopes``."""

    async def check(caller: CallerDep) -> Caller:
        if not caller.scopes & set(scopes):
            raise Forbidden(
                f"this key needs one of the scopes {sorted(scopes)}",
                f"该密钥需要以下权限之一：{sorted(scopes)}",
            )
        return caller

    return Depends(check)


# -- jurisdiction: every router asks here ---------------------------------------------


def require_unit(caller: Caller, chain_unit_ids, *, what: str, what_zh: str) -> None:
    """404 for data outside the caller's jurisdiction: a supervisor of one street must
    not learn even that another street's incident or track exists."""
    if not caller.sees_unit(chain_unit_ids):
        raise NotFound(f"{what} not found in your jurisdiction", f"在您的管辖范围内未找到{what_zh}")


def require_unit_code(caller: Caller, chain_unit_ids, code: str) -> None:
    """403 for a unit (known to all from the public map) outside the jurisdiction."""
    if not caller.sees_unit(chain_unit_ids):
        raise Forbidden(
            f"{code} is outside the units this key may see", f"{code} 不在该密钥的管辖范围内"
        )


def area_within_jurisdiction(
    caller: Caller, conn, street: str | None, community: str | None
) -> tuple[str | None, str | None]:
    """The street/community filter of an area view (dashboard, heat), held to the
    caller's jurisdiction: a requested area must lie inside it; none requested means
    the caller's own street or community."""
    from geo.store import boundaries as bstore

    if not caller.unit_ids:
        return street, community
    asked = community or street
    if asked:
        require_unit_code(caller, bstore.chain_unit_ids(conn, asked), asked)
        return street, community
    own = bstore.live_levels_codes(conn, caller.unit_ids)
    if len(own) == 1 and own[0][0] in ("street", "community"):
        level, code = own[0]
        return (code, None) if level == "street" else (None, code)
    raise Forbidden(
        "this key sees only part of the district: choose a street or community inside it",
        "该密钥只能查看部分辖区：请选择其管辖范围内的街道或社区",
    )


# Reporting incidents keeps to the jurisdiction in the intake use case
# (geo.services.intake.reports_within).


def require_own_worker(caller: Caller, worker_code: str) -> None:
    """A grid worker writes only their own tracks and reports."""
    if caller.role == "grid_worker" and worker_code != caller.worker_code:
        raise Forbidden(
            f"a grid worker's key may only upload its own data ({caller.worker_code})",
            f"网格员密钥只能上传本人的数据（{caller.worker_code}）",
        )
