"""People's accounts and their sessions in PostGIS: SQL only (policy lives in
geo/services/accounts.py).

A session is found by the SHA-256 of its id; the lookup also checks the account is
enabled and the idle and absolute limits, and touches ``last_seen_at``, in one
statement, so a disable or a logout is seen by the very next request of any worker.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from geo.errors import InvalidInput, NotFound
from geo.store import keys as keystore
from geo.store.models import ACCOUNT_ROLES, Account, AccountSession


def hash_session_id(session_id: str) -> str:
    # 256 random bits: a plain SHA-256 is enough (nothing to guess), and cheap per request.
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class AccountRecord:
    id: int
    login: str
    display_name: str
    role: str
    unit_ids: frozenset[int]
    worker_code: str | None
    password_hash: str
    must_change_password: bool
    disabled: bool
    failed_logins: int
    locked_until: datetime | None


_COLUMNS = (
    Account.id,
    Account.login,
    Account.display_name,
    Account.role,
    Account.unit_ids,
    Account.worker_code,
    Account.password_hash,
    Account.must_change_password,
    Account.disabled,
    Account.failed_logins,
    Account.locked_until,
)


def _record(conn: Connection, row) -> AccountRecord:
    units = keystore.jurisdiction(conn, row["role"], row["unit_ids"], row["worker_code"])
    return AccountRecord(**{**dict(row), "unit_ids": units})


def create_account(
    conn: Connection,
    *,
    login: str,
    display_name: str,
    role: str,
    unit_codes: list[str],
    worker_code: str | None,
    password_hash: str,
    created_by: str,
    must_change_password: bool = True,
) -> int:
    if role not in ACCOUNT_ROLES:
        raise InvalidInput(
            f"unknown role {role!r}; use {', '.join(ACCOUNT_ROLES)}", f"未知角色 {role!r}"
        )
    if role == "supervisor" and not unit_codes:
        raise InvalidInput(
            "a supervisor needs the street or community supervised (--unit CODE)",
            "监督员须指定所监督的街道或社区（--unit 编码）",
        )
    if (role == "grid_worker") != bool(worker_code):
        raise InvalidInput(
            "a grid worker needs --worker CODE (and only a grid worker has one)",
            "网格员须指定 --worker 网格员编号（其他角色不可指定）",
        )
    keystore.check_worker_code(conn, worker_code)
    unit_ids = keystore.unit_ids_of_codes(conn, unit_codes)
    account_id = conn.execute(
        pg_insert(Account)
        .values(
            login=login,
            display_name=display_name,
            role=role,
            unit_ids=unit_ids,
            worker_code=worker_code,
            password_hash=password_hash,
            created_by=created_by,
            must_change_password=must_change_password,
        )
        .on_conflict_do_nothing(index_elements=["login"])
        .returning(Account.id)
    ).scalar()
    if account_id is None:
        raise InvalidInput(f"login {login!r} is taken", f"登录名 {login!r} 已被使用")
    return account_id


def get_by_login(conn: Connection, login: str, *, lock: bool = False) -> AccountRecord | None:
    stmt = select(*_COLUMNS).where(Account.login == login)
    if lock:
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).mappings().first()
    return None if row is None else _record(conn, row)


def get_by_id(conn: Connection, account_id: int) -> AccountRecord | None:
    row = conn.execute(select(*_COLUMNS).where(Account.id == account_id)).mappings().first()
    return None if row is None else _record(conn, row)


def list_accounts(conn: Connection) -> list[dict]:
    rows = conn.execute(
        select(
            Account.id,
            Account.login,
            Account.display_name,
            Account.role,
            Account.unit_ids,
            Account.worker_code,
            Account.disabled,
            Account.must_change_password,
            Account.failed_logins,
            Account.locked_until,
            Account.created_at,
        ).order_by(Account.id)
    ).mappings()
    return [dict(r) for r in rows]


def update_account(conn: Connection, login: str, **values: Any) -> int:
    """Set columns of one account; NotFound when no account has ``login``."""
    account_id = conn.execute(
        update(Account).where(Account.login == login).values(**values).returning(Account.id)
    ).scalar()
    if account_id is None:
        raise NotFound(f"no account with login {login!r}", f"没有登录名为 {login!r} 的账号")
    return account_id


def record_failure(conn: Connection, account_id: int, lock_seconds: float | None) -> int:
    """Count one failed sign-in; lock for ``lock_seconds`` when given. The new count."""
    values: dict = {"failed_logins": Account.failed_logins + 1}
    if lock_seconds:
        values["locked_until"] = func.now() + text(f"interval '{float(lock_seconds)} seconds'")
    return conn.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(**values)
        .returning(Account.failed_logins)
    ).scalar_one()


def record_success(conn: Connection, account_id: int) -> None:
    conn.execute(
        update(Account).where(Account.id == account_id).values(failed_logins=0, locked_until=None)
    )


def is_locked(conn: Connection, account: AccountRecord) -> bool:
    if account.locked_until is None:
        return False
    return bool(conn.execute(select(func.now() < account.locked_until)).scalar())


# -- sessions -------------------------------------------------------------------------


def create_session(conn: Connection, account_id: int, session_id: str, csrf_token: str) -> None:
    conn.execute(
        insert(AccountSession).values(
            id_hash=hash_session_id(session_id), account_id=account_id, csrf_token=csrf_token
        )
    )


def touch_session(
    conn: Connection, session_id: str, idle_s: float, max_s: float
) -> tuple[AccountRecord, str] | None:
    """The live session's account and CSRF token (and its clock moved), or None when
    the id is unknown, idle or too old, or the account is disabled."""
    s = AccountSession
    found = conn.execute(
        update(s)
        .where(
            s.id_hash == hash_session_id(session_id),
            s.last_seen_at > func.now() - text(f"interval '{float(idle_s)} seconds'"),
            s.created_at > func.now() - text(f"interval '{float(max_s)} seconds'"),
        )
        .values(last_seen_at=func.now())
        .returning(s.account_id, s.csrf_token)
    ).first()
    if found is None:
        return None
    row = (
        conn.execute(
            select(*_COLUMNS).where(and_(Account.id == found[0], Account.disabled.is_(False)))
        )
        .mappings()
        .first()
    )
    return None if row is None else (_record(conn, row), found[1])


def delete_session(conn: Connection, session_id: str) -> None:
    conn.execute(
        delete(AccountSession).where(AccountSession.id_hash == hash_session_id(session_id))
    )


def delete_sessions_of(conn: Connection, account_id: int) -> None:
    conn.execute(delete(AccountSession).where(AccountSession.account_id == account_id))
