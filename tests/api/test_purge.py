"""``gridmap purge``: raw tracks past the keeping time go, per-cell visits stay, audited.

Old tracks are planted with plain SQL (the sample's own tracks are weeks old and
must survive), the command runs as a user would run it, and the outcome is
counted with plain SQL again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app

pytestmark = pytest.mark.db

PLANT = text(
    """
    INSERT INTO patrol_track (worker_id, mode, started_at, ended_at, point_count, checksum, geom)
    VALUES (:w, 'foot', :start, :end, 3, :checksum,
            ST_GeomFromText('LINESTRING(113.90 35.30, 113.901 35.301, 113.902 35.301)', 4326))
    """
)
PLANT_VISIT = text(
    """
    INSERT INTO patrol_visit (h3_cell, day, worker_id, first_seen, last_seen, pass_count)
    VALUES (:cell, :day, :w, :start, :end, 1)
    """
)
CELL0 = 622236750694711295  # planted visits' cells (ids only; never in the sample)
COUNT_OLDER = text(
    "SELECT count(*) FROM patrol_track WHERE ended_at < now() - make_interval(days => :d)"
)


@pytest.fixture()
def cli_env(monkeypatch, test_settings, loaded):
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("GRIDMAP_PG_DATABASE", test_settings.pg_database)
    monkeypatch.setenv("GRIDMAP_PG_PORT", str(test_settings.local_pg_port()))
    monkeypatch.setenv("GRIDMAP_PG_DIR", str(test_settings.pg_dir))
    monkeypatch.delenv("GRIDMAP_RAW_TRACK_DAYS", raising=False)


@pytest.fixture()
def planted(db_engine, loaded):
    """Five tracks that ended 400–404 days ago, each with a visit row of its day."""
    now = datetime.now(UTC)
    with db_engine.begin() as c:
        worker = c.execute(text("SELECT min(id) FROM grid_worker")).scalar_one()
        for i in range(5):
            end = now - timedelta(days=400 + i)
            args = {"w": worker, "start": end - timedelta(hours=1), "end": end}
            c.execute(PLANT, {**args, "checksum": f"purge-test-{i}-{now.timestamp()}"})
            c.execute(PLANT_VISIT, {**args, "cell": CELL0 + i, "day": end.date()})
    yield 5
    with db_engine.begin() as c:  # leave the shared test database as it was
        c.execute(text("DELETE FROM patrol_track WHERE checksum LIKE 'purge-test-%'"))
        c.execute(text("DELETE FROM patrol_track_purged WHERE checksum LIKE 'purge-test-%'"))
        c.execute(
            text(
                "DELETE FROM patrol_visit WHERE h3_cell BETWEEN :a AND :b "
                "AND day < current_date - 300"
            ),
            {"a": CELL0, "b": CELL0 + 4},
        )


def _counts(engine, days: int) -> dict[str, int]:
    with engine.connect() as c:
        return {
            "tracks": c.execute(text("SELECT count(*) FROM patrol_track")).scalar_one(),
            "old": c.execute(COUNT_OLDER, {"d": days}).scalar_one(),
            "visits": c.execute(text("SELECT count(*) FROM patrol_visit")).scalar_one(),
            "audit": c.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'patrol_track.purge'")
            ).scalar_one(),
        }


def test_dry_run_counts_and_deletes_nothing(cli_env, db_engine, planted):
    before = _counts(db_engine, 90)
    r = CliRunner().invoke(app, ["purge"])
    assert r.exit_code == 0, r.output
    assert int(r.stdout.strip().splitlines()[-1]) == before["old"] >= planted
    assert _counts(db_engine, 90) == before


def test_yes_deletes_old_tracks_keeps_visits_and_audits(cli_env, db_engine, planted):
    before = _counts(db_engine, 365)
    assert before["old"] == planted  # the sample's tracks are younger than a year
    r = CliRunner().invoke(app, ["purge", "--yes", "--days", "365", "--actor", "test-cron"])
    assert r.exit_code == 0, r.output
    assert int(r.stdout.strip().splitlines()[-1]) == planted
    after = _counts(db_engine, 365)
    assert after["old"] == 0
    assert after["tracks"] == before["tracks"] - planted
    assert after["visits"] == before["visits"]  # per-cell visits are kept
    assert after["audit"] == before["audit"] + 1
    with db_engine.connect() as c:
        entry = c.execute(
            text(
                "SELECT actor, entity, detail FROM audit_log "
                "WHERE action = 'patrol_track.purge' ORDER BY id DESC LIMIT 1"
            )
        ).one()
    assert entry.actor == "test-cron" and entry.entity == "patrol_track"
    assert entry.detail["tracks"] == planted and entry.detail["points"] == 3 * planted
    # Running again finds nothing and writes no second audit entry.
    again = CliRunner().invoke(app, ["purge", "--yes", "--days", "365"])
    assert again.exit_code == 0 and int(again.stdout.strip().splitlines()[-1]) == 0
    assert _counts(db_engine, 365)["audit"] == after["audit"]


def test_reuploading_purged_fixes_stores_nothing(cli_env, db_engine, sample, test_settings):
    """The purge keeps each deleted track's checksum: the same old fixes uploaded again
    add no track and count no pass twice (visits compared with plain SQL)."""
    import pandas as pd

    from geo.services.patrol import ingest_pings
    from geo.services.state import ServiceState
    from geo.store import registers

    pings = sample.patrol_pings
    with db_engine.connect() as c:
        known = registers.worker_ids(c)
    worker = next(w for w in pings["worker_id"] if w in known)  # volunteers are not
    mine = pings[pings["worker_id"] == worker]
    old = mine.assign(time=pd.to_datetime(mine["time"], utc=True) - pd.Timedelta(days=500))
    state = ServiceState(test_settings, db_engine)
    state.refresh()
    visits_sql = text(
        "SELECT count(*), coalesce(sum(pass_count), 0) FROM patrol_visit v "
        "JOIN grid_worker w ON w.id = v.worker_id WHERE w.worker_code = :w "
        "AND v.day < current_date - 400"
    )

    def upload():
        with db_engine.begin() as c:
            return ingest_pings(c, old, registers.worker_ids(c), state.geocoder.locator, res=10)

    try:
        first = upload()
        assert first.new_tracks > 0
        with db_engine.connect() as c:
            visits = c.execute(visits_sql, {"w": worker}).one()
            checksums = (
                c.execute(
                    text(
                        "SELECT checksum FROM patrol_track "
                        "WHERE ended_at < now() - interval '400 days'"
                    )
                )
                .scalars()
                .all()
            )
        assert visits[0] > 0 and len(checksums) == first.new_tracks
        r = CliRunner().invoke(app, ["purge", "--yes", "--days", "365", "--actor", "test"])
        assert r.exit_code == 0, r.output
        again = upload()
        assert (again.tracks, again.new_tracks) == (first.tracks, 0)
        with db_engine.connect() as c:
            assert c.execute(visits_sql, {"w": worker}).one() == visits
            assert (
                c.execute(
                    text("SELECT count(*) FROM patrol_track WHERE checksum = ANY(:c)"),
                    {"c": checksums},
                ).scalar_one()
                == 0
            )
    finally:
        with db_engine.begin() as c:
            c.execute(
                text(
                    "DELETE FROM patrol_visit v USING grid_worker w WHERE w.id = v.worker_id "
                    "AND w.worker_code = :w AND v.day < current_date - 400"
                ),
                {"w": worker},
            )
            c.execute(text("DELETE FROM patrol_track WHERE ended_at < now() - interval '400 days'"))
            c.execute(
                text("DELETE FROM patrol_track_purged WHERE ended_at < now() - interval '400 days'")
            )
