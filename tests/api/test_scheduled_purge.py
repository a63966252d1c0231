"""The running service purges raw tracks past their keeping time on its own, keeps the
per-cell visits, and records it in the audit log — counted with plain SQL."""

from __future__ import annotations

import time

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app


def test_service_purges_old_tracks_by_itself(edit_db):
    settings, engine = edit_db
    with engine.connect() as conn:
        newest = conn.execute(sa.text("SELECT max(ended_at) FROM patrol_track")).scalar_one()
        now = conn.execute(sa.text("SELECT now()")).scalar_one()
        # Keep exactly the last day of the newest track's age: everything older goes.
        keep_days = max(1, (now - newest).days + 1)
        cutoff_sql = f"now() - interval '{keep_days} days'"
        old = conn.execute(
            sa.text(f"SELECT count(*) FROM patrol_track WHERE ended_at < {cutoff_sql}")
        ).scalar_one()
        total = conn.execute(sa.text("SELECT count(*) FROM patrol_track")).scalar_one()
        visits = conn.execute(sa.text("SELECT count(*) FROM patrol_visit")).scalar_one()
    assert 0 < old < total
    fast = settings.model_copy(
        update={"raw_track_days": keep_days, "purge_interval_hours": 1 / 3600}
    )
    with TestClient(create_app(fast)):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(sa.text("SELECT count(*) FROM patrol_track")).scalar_one()
            if left == total - old:
                break
            time.sleep(0.5)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM patrol_track")).scalar_one() == total - old
        )
        assert conn.execute(sa.text("SELECT count(*) FROM patrol_visit")).scalar_one() == visits
        row = conn.execute(
            sa.text(
                "SELECT actor, detail->>'tracks' FROM audit_log"
                " WHERE action = 'patrol_track.purge' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert row[0] == "scheduled purge" and int(row[1]) == old
