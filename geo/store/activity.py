"""Incidents, patrol tracks and per-cell patrol visits in PostGIS.

Writes are idempotent: an incident is keyed on (source, external_id), a track on the
hash of its fixes, so a repeated upload stores nothing twice.
"""

from __future__ import annotations

from sqlalchemy import Connection, func
from sqlalchemy.dialects.postgresql import insert

from geo.store.models import Incident, PatrolTrack, PatrolVisit


def insert_incidents(conn: Connection, rows: list[dict], chunk: int = 5000) -> int:
    """Insert incidents not stored yet; returns how many were new."""
    new = 0
    for i in range(0, len(rows), chunk):
        stmt = (
            insert(Incident)
            .values(rows[i : i + chunk])
            .on_conflict_do_nothing(index_elements=["source", "external_id"])
        )
        new += conn.execute(stmt).rowcount
    return new


def insert_track(conn: Connection, row: dict) -> int | None:
    """Store a track; returns its id, or None when the same track is already stored."""
    stmt = (
        insert(PatrolTrack)
        .values(row)
        .on_conflict_do_nothing(index_elements=["checksum"])
        .returning(PatrolTrack.id)
    )
    return conn.execute(stmt).scalar()


def add_visits(conn: Connection, rows: list[dict], chunk: int = 5000) -> None:
    """Merge visits (h3_cell, day, worker_id, grid_unit_id, first_seen, last_seen,
    pass_count) into the stored ones: widen the time span, add the passes."""
    for i in range(0, len(rows), chunk):
        stmt = insert(PatrolVisit).values(rows[i : i + chunk])
        stmt = stmt.on_conflict_do_update(
            index_elements=["h3_cell", "day", "worker_id"],
            set_={
                "first_seen": func.least(PatrolVisit.first_seen, stmt.excluded.first_seen),
                "last_seen": func.greatest(PatrolVisit.last_seen, stmt.excluded.last_seen),
                "pass_count": PatrolVisit.pass_count + stmt.excluded.pass_count,
            },
        )
        conn.execute(stmt)
