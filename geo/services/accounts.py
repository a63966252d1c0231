"""Use cases of people's accounts: create, list, disable, enable, reset a password,
sign in (with lockout) and sessions. One transaction each; every change is audited,
never with a password or a session id in it.

Sign-in answers the same, in about the same time, for an unknown login, a wrong
password, a disabled account and a locked one (a dummy hash is verified when there is
no real one), so the form does not tell a guesser which logins exist. After
``LOCK_AFTER`` failures in a row the account is locked, for ``LOCK_BASE_S`` doubling
with each further failure up to ``LOCK_MAX_S``; the lock is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo.errors import InvalidInput
from geo.store import accounts as store
from geo.store import audit
from geo.store.db import Engine

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; a bound keeps hashing cheap
LOCK_AFTER = 5
LOCK_BASE_S = 60.0
LOCK_MAX_S = 3600.0

_hasher = PasswordHasher()
# Verified when the login is unknown, so a wrong login costs what a wrong password does.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def normalize_login(login: str) -> str:
    """Lower-cased, trimmed; a login with control characters (a NUL cannot even be
    stored in PostgreSQL text) becomes "" and matches no account."""
    login = login.strip().lower()
    return "" if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in login) else login


def check_password_policy(password: str, login: str) -> None:
    """At least ``MIN_PASSWORD_LENGTH`` characters and not the login name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
            f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password may have at most {MAX_PASSWORD_LENGTH} characters",
            f"密码最多 {MAX_PASSWORD_LENGTH} 个字符",
        )
    if normalize_login(login) in password.lower():
        raise InvalidInput("the password may not contain the login name", "密码不能包含登录名")


def generate_password() -> str:
    """A random password that meets the policy (shown once to whoever creates it)."""
    return secrets.token_urlsafe(12)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_account(
    engine: Engine,
    *,
    login: str,
    display_name: str,
    role: str,
    unit_codes: list[str],
    worker_code: str | None = None,
    password: str | None = None,
    actor: str,
    must_change_password: bool = True,
) -> tuple[int, str]:
    """Create an account; returns (id, password). Without ``password`` one is generated.
    The person must change it at first sign-in (unless ``must_change_password`` is off,
    e.g. for a password they chose themselves)."""
    login = normalize_login(login)
    if not login or len(login) > 64 or any(c.isspace() for c in login):
        raise InvalidInput(
            "a login name has 1 to 64 characters and no spaces", "登录名为 1–64 个字符，不含空格"
        )
    if not display_name.strip():
        raise InvalidInput("a display name is required", "须填写显示名称")
    password = password or generate_password()
    check_password_policy(password, login)
    with engine.begin() as conn:
        account_id = store.create_account(
            conn,
            login=login,
            display_name=display_name.strip(),
            role=role,
            unit_codes=unit_codes,
            worker_code=worker_code,
            password_hash=_hasher.hash(password),
            created_by=actor,
            must_change_password=must_change_password,
        )
        audit.record(
            conn,
            actor=actor,
            action="account.create",
            entity="account",
            ref=login,
            detail={"account_id": account_id, "role": role, "units": unit_codes},
        )
    return account_id, password


def list_accounts(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return store.list_accounts(conn)


def set_disabled(engine: Engine, login: str, disabled: bool, *, actor: str) -> None:
    """Disable (every session of the account ends at once) or enable an account."""
    login = normalize_login(login)
    with engine.begin() as conn:
        values: dict[str, Any] = {"disabled": disabled}
        if not disabled:
            values.update(failed_logins=0, locked_until=None)
        account_id = store.update_account(conn, login, **values)
        if disabled:
            store.delete_sessions_of(conn, account_id)
        action = "account.disable" if disabled else "account.enable"
        audit.record(conn, actor=actor, action=action, entity="account", ref=login)


def reset_password(engine: Engine, login: str, *, actor: str, password: str | None = None) -> str:
    """A new password (generated unless given), to be changed at next sign-in; ends
    the account's sessions and lifts a lock. Returns the password, shown once."""
    login = normalize_login(login)
    password = password or generate_password()
    check_password_policy(password, login)
    with engine.begin() as conn:
        account_id = store.update_account(
            conn,
            login,
            password_hash=_hasher.hash(password),
            must_change_password=True,
            failed_logins=0,
            locked_until=None,
        )
        store.delete_sessions_of(conn, account_id)
        audit.record(
            conn, actor=actor, action="account.reset_password", entity="account", ref=login
        )
    return password


@dataclass(frozen=True)
class SignedIn:
    session_id: str  # goes to the cookie only; the database keeps its hash
    csrf_token: str
    account: store.AccountRecord


def lock_seconds(failures: int) -> float | None:
    """How long to lock after ``failures`` failures in a row (None: no lock yet)."""
    if failures < LOCK_AFTER:
        return None
    return min(LOCK_MAX_S, LOCK_BASE_S * 2.0 ** (failures - LOCK_AFTER))


def sign_in(engine: Engine, login: str, password: str) -> SignedIn | None:
    """A new session for the right login and password, else None (one answer for all
    failures). A failure is counted and a lock audited even though nobody signs in."""
    login = normalize_login(login)
    password = password[: MAX_PASSWORD_LENGTH + 1]
    with engine.begin() as conn:
        account = store.get_by_login(conn, login, lock=True) if login else None
        if account is None or account.disabled or store.is_locked(conn, account):
            _verify(_DUMMY_HASH, password)
            return None
        if not _verify(account.password_hash, password):
            failures = account.failed_logins + 1
            locked_for = lock_seconds(failures)
            store.record_failure(conn, account.id, locked_for)
            if locked_for:
                audit.record(
                    conn,
                    actor="sign-in",
                    action="account.lock",
                    entity="account",
                    ref=login,
                    detail={"failures": failures, "locked_seconds": locked_for},
                )
            return None
        store.record_success(conn, account.id)
        if _hasher.check_needs_rehash(account.password_hash):
            store.update_account(conn, login, password_hash=_hasher.hash(password))
        session_id = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        store.create_session(conn, account.id, session_id, csrf_token)
    return SignedIn(session_id, csrf_token, account)


def session_account(
    engine: Engine, session_id: str, *, idle_s: float, max_s: float
) -> tuple[store.AccountRecord, str] | None:
    """The account and CSRF token of a live session (its idle clock restarted)."""
    with engine.begin() as conn:
        return store.touch_session(conn, session_id, idle_s, max_s)


def sign_out(engine: Engine, session_id: str) -> None:
    with engine.begin() as conn:
        store.delete_session(conn, session_id)


def change_password(engine: Engine, account_id: int, current: str, new: str) -> None:
    """The person's own change (required at first sign-in): the current password must
    be right, the new one meet the policy and differ from it."""
    with engine.begin() as conn:
        account = store.get_by_id(conn, account_id)
        if account is None or not _verify(
            account.password_hash, current[: MAX_PASSWORD_LENGTH + 1]
        ):
            raise InvalidInput("the current password is wrong", "当前密码不正确")
        check_password_policy(new, account.login)
        if new == current:
            raise InvalidInput(
                "the new password must differ from the current one", "新密码不能与当前密码相同"
            )
        store.update_account(
            conn, account.login, password_hash=_hasher.hash(new), must_change_password=False
        )
        audit.record(
            conn,
            actor=account.display_name,
            action="account.change_password",
            entity="account",
            ref=account.login,
            detail={"account_id": account.id},
        )
