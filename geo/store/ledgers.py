"""Ledger rows waiting to be placed by hand (``ledger_unplaced``): compounds a ledger
named that neither coordinates nor the forward geocoder could place. The import
(:mod:`geo.services.ledgers`) keeps them here until someone places them on the map.
Functions run in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert

from geo.errors import NotFound
from geo.registers.records import CompoundRecord
from geo.store.models import LedgerUnplaced


def unplaced(conn: Connection) -> list[dict[str, Any]]:
    """Ledger rows waiting to be placed by hand."""
    u = LedgerUnplaced
    rows = conn.execute(
        select(u.id, u.source_key, u.name, u.address, u.ledger, u.reason, u.created_at).order_by(
            u.id
        )
    ).mappings()
    return [dict(r) for r in rows]


def records_by_key(conn: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Key → the stored record (:meth:`CompoundRecord.as_json`) of the waiting rows."""
    return dict(
        conn.execute(
            select(LedgerUnplaced.source_key, LedgerUnplaced.record).where(
                LedgerUnplaced.source_key.in_(keys)
            )
        ).all()
    )


def put(conn: Connection, rec: CompoundRecord, ledger_name: str) -> None:
    """Keep (or replace) the waiting row of this record's key."""
    values = {
        "name": rec.name,
        "address": rec.address,
        "record": rec.as_json(),
        "ledger": ledger_name,
        "reason": "unlocatable",
    }
    stmt = insert(LedgerUnplaced).values(source_key=rec.key, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["source_key"], set_=values))


def record_of(conn: Connection, unplaced_id: int) -> CompoundRecord:
    """The record a waiting row holds; NotFound if there is no such row."""
    row = conn.execute(
        select(LedgerUnplaced.source_key, LedgerUnplaced.record).where(
            LedgerUnplaced.id == unplaced_id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no unplaced ledger row {unplaced_id}", f"待落点记录 {unplaced_id} 不存在")
    return CompoundRecord(**row.record)


def remove(conn: Connection, unplaced_id: int) -> None:
    conn.execute(delete(LedgerUnplaced).where(LedgerUnplaced.id == unplaced_id))


def remove_keys(conn: Connection, keys: list[str]) -> None:
    """Forget the waiting rows of these keys (they are compounds now)."""
    conn.execute(delete(LedgerUnplaced).where(LedgerUnplaced.source_key.in_(keys)))
