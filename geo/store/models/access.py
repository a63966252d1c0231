"""Who may call the API and what was done: API keys and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo.store.models.base import Base, values_in

API_SCOPES = ("geocode", "intake", "read", "edit", "admin")
KEY_ROLES = ("app", "planner", "supervisor", "grid_worker")


class ApiKey(Base):
    """An app's key: only a hash is stored; the secret is shown once at creation."""

    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("rate_per_minute > 0", name="rate"),
        CheckConstraint(
            "scopes <@ ARRAY['geocode','intake','read','edit','admin']::text[]", name="scopes"
        ),
        CheckConstraint(values_in("role", KEY_ROLES), name="role"),
        CheckConstraint("(role = 'grid_worker') = (worker_code IS NOT NULL)", name="worker"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)  # shown in lists, not secret
    secret_hash: Mapped[str] = mapped_column(Text, unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text))
    # Units (any level) the key may see people of; empty: the whole district.
    unit_ids: Mapped[list[int]] = mapped_column(
        ARRAY(BigInteger), server_default=text("'{}'::bigint[]")
    )
    rate_per_minute: Mapped[int] = mapped_column(Integer, server_default="600")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Who holds it: an app (scopes as given) or a person in a role (api/auth.py).
    role: Mapped[str] = mapped_column(Text, server_default="app")
    worker_code: Mapped[str | None] = mapped_column(Text)  # a grid worker's own key


class AuditEntry(Base):
    """Who changed what, when and why: boundary edits, register changes, key use."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity_ref", "entity", "ref"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)  # e.g. grid.reshape, compound.update
    entity: Mapped[str] = mapped_column(Text)  # grid, special_grid, compound, worker …
    ref: Mapped[str] = mapped_column(Text)  # the entity's code or id, as text
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
