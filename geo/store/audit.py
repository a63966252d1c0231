"""The audit log: one row per change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select

from geo.store.models import AuditEntry


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    entity: str,
    ref: str,
    reason: str | None = None,
    detail: dict | None = None,
) -> int:
    """Append one entry; rolls back with the change it describes."""
    return conn.execute(
        insert(AuditEntry)
        .values(
            actor=actor,
            action=action,
            entity=entity,
            ref=str(ref),
            reason=reason,
            detail=detail or {},
        )
        .returning(AuditEntry.id)
    ).scalar_one()


def entries(
    conn: Connection,
    *,
    entity: str | None = None,
    ref: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict]:
    """Newest first; page with ``before_id`` (the last id of the previous page)."""
    a = AuditEntry
    stmt = select(a.id, a.at, a.actor, a.action, a.entity, a.ref, a.reason, a.detail)
    if entity:
        stmt = stmt.where(a.entity == entity)
    if ref:  # an edit touching several units lists them comma-separated
        stmt = stmt.where(("," + a.ref + ",").contains(f",{ref},"))
    if actor:
        stmt = stmt.where(a.actor == actor)
    if since:
        stmt = stmt.where(a.at >= since)
    if before_id:
        stmt = stmt.where(a.id < before_id)
    rows = conn.execute(stmt.order_by(a.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]
