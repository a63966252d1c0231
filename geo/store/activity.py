"""Incidents, patrol tracks and per-cell patrol visits in PostGIS.

Writes are idempotent: an incident is keyed on (source, external_id), a track on the
hash of its fixes, so a repeated upload stores nothing twice.
"""

from __future__ import annotations

from sqlalchemy import Connection, func
from sqlalchemy.dialects.postgresql import insert

from geo.store.models import Incident, PatrolTrack, PatrolVisit


def insert_incidents(conn: Connection, rows: list[dict]) -> int:
    """Insert incidents not stored yet; returns how many were new."""
    if not rows:
        return 0
    stmt = (
        insert(Incident)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(Incident.id)  # rowcount is not reliable for batched inserts
    )
    return len(conn.execute(stmt, rows).all())


def insert_tracks(conn: Connection, rows: list[dict]) -> set[str]:
    """Store tracks not stored yet; returns the checksums of the new ones."""
    if not rows:
        return set()
    stmt = (
        insert(PatrolTrack)
        .on_conflict_do_nothing(index_elements=["checksum"])
        .returning(PatrolTrack.checksum)
    )
    return set(conn.execute(stmt, rows).scalars().all())


def add_visits(conn: Connection, rows: list[dict]) -> None:
    """Merge visits (h3_cell, day, worker_id, grid_unit_id, first_seen, last_seen,
    pass_count) into the stored ones: widen the time span, add the passes."""
    if not rows:
        return
    stmt = insert(PatrolVisit)
    stmt = stmt.on_conflict_do_update(
        index_elements=["h3_cell", "day", "worker_id"],
        set_={
            "first_seen": func.least(PatrolVisit.first_seen, stmt.excluded.first_seen),
            "last_seen": func.greatest(PatrolVisit.last_seen, stmt.excluded.last_seen),
            "pass_count": PatrolVisit.pass_count + stmt.excluded.pass_count,
        },
    )
    conn.execute(stmt, rows)  # executemany: compiled once, sent in batches
