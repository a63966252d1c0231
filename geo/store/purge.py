"""Purging personal data past its keeping time: raw patrol track geometries.

A patrol track's line is the worker's GPS trail — personal data, kept
``raw_track_days`` days (settings). Coverage needs only the per-cell visits
(``patrol_visit``: cell, day, worker, first/last seen, passes), which have no link
to the track rows and stay. Each deleted track leaves its checksum (a one-way hash of
its fixes) in ``patrol_track_purged``, so uploading the same fixes again stores
nothing and counts no pass twice. All in the caller's transaction, recorded in the
audit log in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from geo.store import audit
from geo.store.models import PatrolTrack, PatrolTrackPurged


@dataclass(frozen=True)
class PurgeCount:
    cutoff: datetime
    tracks: int
    points: int


def cutoff_for(now: datetime, keep_days: int) -> datetime:
    """Tracks that ended before this instant are past their keeping time."""
    return now - timedelta(days=keep_days)


def _old(cutoff: datetime):
    return PatrolTrack.ended_at < cutoff


def count_old_tracks(conn: Connection, cutoff: datetime) -> PurgeCount:
    """What a purge would delete (the dry run)."""
    tracks, points = conn.execute(
        select(func.count(), func.coalesce(func.sum(PatrolTrack.point_count), 0)).where(
            _old(cutoff)
        )
    ).one()
    return PurgeCount(cutoff, int(tracks), int(points))


def purge_old_tracks(conn: Connection, cutoff: datetime, *, actor: str, keep_days: int) -> int:
    """Delete tracks that ended before ``cutoff``; audited; returns the number deleted."""
    found = count_old_tracks(conn, cutoff)
    conn.execute(
        insert(PatrolTrackPurged)
        .from_select(
            ["checksum", "ended_at"],
            select(PatrolTrack.checksum, PatrolTrack.ended_at).where(_old(cutoff)),
        )
        .on_conflict_do_nothing()
    )
    deleted = conn.execute(delete(PatrolTrack).where(_old(cutoff))).rowcount
    audit.record(
        conn,
        actor=actor,
        action="patrol_track.purge",
        entity="patrol_track",
        ref=f"ended before {cutoff.isoformat()}",
        reason=f"raw GPS tracks are kept {keep_days} days",
        detail={"tracks": deleted, "points": found.points, "cutoff": cutoff.isoformat()},
    )
    return deleted


# Scheduled purges in several worker processes: whoever holds this lock purges.
_PURGE_LOCK = 4107990002


def scheduled_purge(conn: Connection, keep_days: int) -> int | None:
    """The purge the service runs on its own; None if another worker is at it, 0 when
    nothing is old enough (no audit entry then: the log records what was deleted)."""
    if not conn.execute(select(func.pg_try_advisory_xact_lock(_PURGE_LOCK))).scalar():
        return None
    now = conn.execute(select(func.now())).scalar_one()
    cutoff = cutoff_for(now, keep_days)
    if count_old_tracks(conn, cutoff).tracks == 0:
        return 0
    return purge_old_tracks(conn, cutoff, actor="scheduled purge", keep_days=keep_days)
