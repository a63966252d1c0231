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
from typing import TYPE_CHECKING, Annotated

import psycopg
from fastapi import Depends, Request
from sqlalchemy import exc as sa_exc

from geo.errors import Forbidden, GridmapError, NotFound, NotReady
from geo.store import keys as keystore

if TYPE_CHECKING:
    from geo.services.policy import Principal


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
    # A person signed in to the pages (api/sessions.py): their account; name is then
    # the display name, and role and units come from the account as from a key.
    person_id: int | None = None
    login: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.key_id is None and self.person_id is None

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

if TYPE_CHECKING:  # the use cases decide from a Caller: it is the policy's Principal
    _principal: Principal = ANONYMOUS


class KeyUncheckable(NotReady):
    """A key cannot be checked now: the database is unavailable (503 + Retry-After)."""

    slug = "database-unavailable"


# The database is down or restarting: what api/errors.py answers 503 for, and psycopg's
# own errors for a connection used outside SQLAlchemy.
DB_DOWN = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
OUTAGE_RETRY_S = 5  # as api/errors.py's DB_RETRY_AFTER_S


class KeyCache:
    """Key records per prefix, as last read from the database by this worker.

    A revoked key stops working within ``ttl_s`` in every worker. While the database
    is unavailable, a key that was valid at its last successful check keeps working
    for ``grace_s`` after that check (get_caller allows reads only); a key unknown
    then, or last checked longer ago, cannot be checked (KeyUncheckable, 503); a key
    last seen revoked stays refused.
    """

    MAX_RECORDS = 10_000  # beyond: forget unknown prefixes and keys past their grace
    RETRY_S = 1.0  # after a failed lookup, known keys are answered from memory this long

    def __init__(self, ttl_s: float = 10.0, grace_s: float = 900.0):
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self._lock = threading.Lock()
        # prefix -> (monotonic time of the last successful check, record or None)
        self._records: dict[str, tuple[float, keystore.KeyRecord | None]] = {}
        self._buckets: dict[int, tuple[float, float]] = {}
        self._down_at: float | None = None  # when a lookup last failed, if since then none worked

    def cached(self, prefix: str) -> tuple[bool, keystore.KeyRecord | None]:
        """(fresh, record) from memory, without touching the database."""
        hit = self._records.get(prefix)
        if hit and time.monotonic() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def lookup(self, engine, prefix: str) -> tuple[keystore.KeyRecord | None, bool]:
        """(record, confirmed): confirmed is False for a record answered from memory
        during a database outage, within its grace period."""
        now = time.monotonic()
        fresh, rec = self.cached(prefix)
        if fresh:
            return rec, True
        down_at = self._down_at
        if down_at is not None and now - down_at < min(self.RETRY_S, self.ttl_s):
            return self._last_known(prefix, now, None), False
        try:
            with engine.connect() as conn:
                rec = keystore.get_by_prefix(conn, prefix)
        except DB_DOWN as exc:
            self._down_at = time.monotonic()
            return self._last_known(prefix, now, exc), False
        with self._lock:
            self._down_at = None
            self._records[prefix] = (now, rec)
            if len(self._records) > self.MAX_RECORDS:
                self._prune(now)
        return rec, True

    def _last_known(self, prefix: str, now: float, exc: Exception | None) -> keystore.KeyRecord:
        checked_at, rec = self._records.get(prefix, (0.0, None))
        if rec is not None and (rec.revoked or now - checked_at < self.grace_s):
            return rec  # valid within its grace, or revoked (get_caller refuses it)
        raise KeyUncheckable(
            "the API key cannot be checked: the database is unavailable right now. "
            f"Retry after {OUTAGE_RETRY_S} seconds",
            f"数据库暂时不可用，无法核验 API 密钥；请 {OUTAGE_RETRY_S} 秒后重试",
            retry_after=OUTAGE_RETRY_S,
        ) from exc

    def _prune(self, now: float) -> None:
        # Called with the lock held. Unknown prefixes are cached only to spare the
        # database; a known key is kept while it may still be needed for its grace.
        self._records = {
            p: (t, r)
            for p, (t, r) in self._records.items()
            if r is not None and now - t < max(self.ttl_s, self.grace_s)
        }

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


def _reads_memory_only(request: Request) -> bool:
    """A request a key known from before a database outage may still make: one that
    changes nothing (GET/HEAD, or the batch reverse geocoder's POST). Routes that
    need the database answer 503 by themselves."""
    return request.method in ("GET", "HEAD") or request.scope["path"].startswith("/v1/geocode/")


# async: runs on every API request; a sync dependency would cost a thread-pool hop.
async def get_caller(request: Request) -> Caller:
    state = request.app.state.service
    key = _presented_key(request)
    if not key:
        from api import sessions  # imports this module: resolved at call time

        person = await sessions.session_caller(request)
        if person is not None:
            return person
        if state.settings.require_api_key:
            raise Unauthorized(
                "an API key is required: send Authorization: Bearer <key> (people: sign "
                "in at /login)",
                "需要 API 密钥：请在请求头中携带 Authorization: Bearer <密钥>（个人用户请在 "
                "/login 登录）",
            )
        return ANONYMOUS
    parts = keystore.split_key(key)
    rec, confirmed = None, True
    if parts:
        fresh, rec = state.keys.cached(parts[0])
        if not fresh:  # only a cache miss touches the database, off the event loop
            rec, confirmed = await asyncio.to_thread(state.keys.lookup, state.engine, parts[0])
    if (
        rec is None
        or rec.revoked
        or not hmac.compare_digest(rec.secret_hash, keystore.hash_secret(key))
    ):
        raise Unauthorized("the API key is unknown or revoked", "API 密钥无效或已吊销")
    if not confirmed and not _reads_memory_only(request):
        # Known only from before a database outage: good for lookups from memory, never
        # for a change (none could be stored now, and none may rest on a stale record).
        raise KeyUncheckable(
            "the database is unavailable right now: only reverse geocoding and search "
            f"answer; nothing was stored. Retry after {OUTAGE_RETRY_S} seconds",
            f"数据库暂时不可用，目前仅提供逆地理编码和地名搜索，本次请求未保存任何数据；"
            f"请 {OUTAGE_RETRY_S} 秒后重试",
            retry_after=OUTAGE_RETRY_S,
        )
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
