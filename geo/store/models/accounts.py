"""People who sign in to the pages: accounts and their server-side sessions.

A person's role and units are the same policy objects as an API key's (api/auth.py
turns either into one ``Caller``). Passwords are stored as argon2 hashes only; a
session is stored by the SHA-256 of its id, never the id itself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from geo.store.models.base import Base, values_in

ACCOUNT_ROLES = ("admin", "planner", "supervisor", "grid_worker")


class Account(Base):
    """A person: display name, login name, role, jurisdiction, password state."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(values_in("role", ACCOUNT_ROLES), name="role"),
        CheckConstraint("(role = 'grid_worker') = (worker_code IS NOT NULL)", name="worker"),
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(Text, unique=True)  # stored lower-cased
    display_name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    # Units (any level) the person may see; empty: the whole district (as for keys).
    unit_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), server_default=text("'{}'::bigint[]")
    )
    worker_code: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    failed_logins: Mapped[int] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text)


class AccountSession(Base):
    """A signed-in browser: the hash of its opaque id, its CSRF token, its clocks."""

    __tablename__ = "account_session"
    __table_args__ = (Index("ix_account_session_account_id", "account_id"),)

    id_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer, ForeignKey("account.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
