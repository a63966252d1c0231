"""API keys in PostGIS: create (secret returned once), list, revoke, look up by prefix."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update

from geo.errors import InvalidInput, NotFound
from geo.store.models import (
    API_SCOPES,
    KEY_ROLES,
    AdminUnitVersion,
    ApiKey,
    GridAssignment,
    GridWorker,
)

KEY_PREFIX = "gm_"


def hash_secret(secret: str) -> str:
    # Keys are 190+ bits of randomness: a plain SHA-256 is enough (no dictionary to
    # attack), and it keeps the per-request check cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``gm_<prefix>_<secret>`` → (prefix, full key), or None when it is not one of ours."""
    if not key.startswith(KEY_PREFIX) or key.count("_") < 2:
        return None
    prefix = key[len(KEY_PREFIX) :].split("_", 1)[0]
    return (prefix, key) if len(prefix) == 8 else None


@dataclass(frozen=True)
class KeyRecord:
    id: int
    name: str
    prefix: str
    secret_hash: str
    scopes: frozenset[str]
    unit_ids: frozenset[int]
    rate_per_minute: int
    revoked: bool
    role: str = "app"
    worker_code: str | None = None


# A person's key gets the scopes of their role; an app's key the scopes it is given.
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "planner": ("geocode", "intake", "read", "edit"),
    "supervisor": ("geocode", "read"),
    "grid_worker": ("geocode", "intake", "read"),
}


def unit_ids_of_codes(conn: Connection, unit_codes: list[str]) -> list[int]:
    """The live units of ``unit_codes`` (any level); a code not live is refused.
    Keys and people's accounts both store their units through this."""
    unit_ids = []
    for code in unit_codes:
        uid = conn.execute(
            select(AdminUnitVersion.unit_id).where(
                AdminUnitVersion.code == code,
                AdminUnitVersion.valid_to.is_(None),
                AdminUnitVersion.valid_from.is_not(None),
            )
        ).scalar()
        if uid is None:
            raise InvalidInput(f"no live unit has code {code}", f"没有编码为 {code} 的现行单元")
        unit_ids.append(uid)
    return unit_ids


def jurisdiction(
    conn: Connection, role: str, unit_ids: Iterable[int], worker_code: str | None
) -> frozenset[int]:
    """The units a key or an account sees now: its stored units, or for a grid worker
    the grids assigned today (not at creation); assigned nowhere, no unit at all."""
    if role != "grid_worker":
        return frozenset(unit_ids)
    return frozenset(
        conn.execute(
            select(GridAssignment.unit_id)
            .join(GridWorker, GridWorker.id == GridAssignment.worker_id)
            .where(GridWorker.worker_code == worker_code, GridAssignment.valid_to.is_(None))
        ).scalars()
    ) or frozenset({-1})


def check_worker_code(conn: Connection, worker_code: str | None) -> None:
    """A worker code, if given, names a known grid worker."""
    if (
        worker_code
        and conn.execute(
            select(GridWorker.id).where(GridWorker.worker_code == worker_code)
        ).scalar()
        is None
    ):
        raise InvalidInput(
            f"no grid worker has code {worker_code}", f"没有编号为 {worker_code} 的网格员"
        )


def create_key(
    conn: Connection,
    *,
    name: str,
    scopes: list[str],
    unit_codes: list[str],
    rate_per_minute: int,
    created_by: str,
    role: str = "app",
    worker_code: str | None = None,
) -> tuple[int, str]:
    """Store a new key; returns (id, the full key — shown this once, never again).

    Roles: ``app`` (the scopes given), ``planner``, ``supervisor`` (needs the street or
    community it supervises in ``unit_codes``) and ``grid_worker`` (needs
    ``worker_code``; sees the grids the worker is assigned to, as assigned today).
    """
    if role not in KEY_ROLES:
        raise InvalidInput(
            f"unknown role {role!r}; use {', '.join(KEY_ROLES)}", f"未知角色 {role!r}"
        )
    if role != "app":
        scopes = list(ROLE_SCOPES[role])
    if role == "supervisor" and not unit_codes:
        raise InvalidInput(
            "a supervisor key needs the street or community supervised (--unit CODE)",
            "监督员密钥须指定所监督的街道或社区（--unit 编码）",
        )
    if (role == "grid_worker") != bool(worker_code):
        raise InvalidInput(
            "a grid worker key needs --worker CODE (and only a grid worker key has one)",
            "网格员密钥须指定 --worker 网格员编号（其他角色不可指定）",
        )
    check_worker_code(conn, worker_code)
    bad = sorted(set(scopes) - set(API_SCOPES))
    if bad or not scopes:
        raise InvalidInput(
            f"unknown or missing scope(s) {bad}; use {', '.join(API_SCOPES)}",
            f"权限范围无效 {bad}；可用 {', '.join(API_SCOPES)}",
        )
    unit_ids = unit_ids_of_codes(conn, unit_codes)
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    key_id = conn.execute(
        insert(ApiKey)
        .values(
            name=name,
            prefix=prefix,
            secret_hash=hash_secret(key),
            scopes=sorted(set(scopes)),
            unit_ids=unit_ids,
            rate_per_minute=rate_per_minute,
            created_by=created_by,
            role=role,
            worker_code=worker_code,
        )
        .returning(ApiKey.id)
    ).scalar_one()
    return key_id, key


def get_by_prefix(conn: Connection, prefix: str) -> KeyRecord | None:
    row = (
        conn.execute(
            select(
                ApiKey.id,
                ApiKey.name,
                ApiKey.prefix,
                ApiKey.secret_hash,
                ApiKey.scopes,
                ApiKey.unit_ids,
                ApiKey.rate_per_minute,
                ApiKey.revoked_at,
                ApiKey.role,
                ApiKey.worker_code,
            ).where(ApiKey.prefix == prefix)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    unit_ids = jurisdiction(conn, row["role"], row["unit_ids"], row["worker_code"])
    return KeyRecord(
        row["id"],
        row["name"],
        row["prefix"],
        row["secret_hash"],
        frozenset(row["scopes"]),
        unit_ids,
        row["rate_per_minute"],
        row["revoked_at"] is not None,
        row["role"],
        row["worker_code"],
    )


def list_keys(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(
            ApiKey.id,
            ApiKey.name,
            ApiKey.prefix,
            ApiKey.scopes,
            ApiKey.unit_ids,
            ApiKey.rate_per_minute,
            ApiKey.created_at,
            ApiKey.created_by,
            ApiKey.revoked_at,
            ApiKey.role,
            ApiKey.worker_code,
        ).order_by(ApiKey.id)
    ).mappings()
    return [dict(r) for r in rows]


def revoke_key(conn: Connection, key_id: int) -> None:
    done = conn.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(ApiKey.id)
    ).scalar()
    if done is None:
        raise NotFound(f"no active key with id {key_id}", f"没有编号为 {key_id} 的有效密钥")
