"""The audit log: one row per change, written in the same transaction as the change.

The ``actor`` column is the authenticated identity (an :class:`Actor`: the key's name,
a person, ``cli:<os user>``); its key/person ids and any name the client sent ("on
behalf of", never trusted as the actor) go into the entry's ``detail`` JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from geo.store.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who made a change: the identity, and the name the client gave, if any."""

    name: str  # the authenticated identity: key name, person, cli:<os user>
    key_id: int | None = None
    person_id: int | None = None
    on_behalf_of: str | None = None  # what the client claimed; a note, not the actor
    shown: str | None = None  # the author a version's history shows (default: name)

    def __str__(self) -> str:
        return self.shown or self.name

    def detail(self) -> dict:
        out: dict = {}
        if self.key_id is not None:
            out["actor_key_id"] = self.key_id
        if self.person_id is not None:
            out["actor_person_id"] = self.person_id
        if self.on_behalf_of:
            out["on_behalf_of"] = self.on_behalf_of
        return out


# A string actor (the operator's tools, the scheduled purge) is taken as the identity.
Who = str | Actor


def shown(who: Who) -> str:
    """The author a version's history shows for ``who``."""
    return str(who)


def record(
    conn: Connection,
    *,
    actor: Who,
    action: str,
    entity: str,
    ref: str,
    reason: str | None = None,
    detail: dict | None = None,
) -> int:
    """Append one entry; rolls back with the change it describes."""
    who = actor if isinstance(actor, Actor) else Actor(name=actor)
    detail = {**(detail or {}), **who.detail()}
    return conn.execute(
        insert(AuditEntry)
        .values(
            actor=who.name,
            action=action,
            entity=entity,
            ref=str(ref),
            reason=reason,
            detail=detail,
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
