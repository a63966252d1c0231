"""patrol_visit's references without per-row foreign keys (migration 0009): the ingest
checks a batch's workers and grids once, delete triggers keep what visits name, and a
pipelined ingest stores exactly what a one-chunk ingest stores."""

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from geo.errors import Conflict
from geo.services import patrol as patrol_service
from geo.services.patrol import ingest_pings
from geo.store import boundaries as bstore
from geo.store import patrol as patrol_store
from geo.store import registers


def _a_visit(conn):
    return conn.execute(sa.text("SELECT worker_id, grid_unit_id FROM patrol_visit LIMIT 1")).one()


def test_foreign_keys_are_gone_and_the_guards_are_there(loaded, conn):
    fks = conn.execute(
        sa.text(
            "SELECT count(*) FROM pg_constraint "
            "WHERE conrelid = 'patrol_visit'::regclass AND contype = 'f'"
        )
    ).scalar_one()
    assert fks == 0
    triggers = set(
        conn.execute(
            sa.text(
                "SELECT tgrelid::regclass::text FROM pg_trigger "
                "WHERE tgname = 'patrol_visit_keep_referenced'"
            )
        ).scalars()
    )
    assert triggers == {"grid_worker", "admin_unit"}


@pytest.mark.parametrize(
    ("sql", "column"),
    [
        (
            "DELETE FROM grid_assignment WHERE worker_id = :id; "
            "DELETE FROM grid_worker WHERE id = :id",
            0,
        ),
        ("UPDATE grid_worker SET id = id + 1000000 WHERE id = :id", 0),
        ("DELETE FROM admin_unit WHERE id = :id", 1),
    ],
)
def test_what_visits_name_cannot_be_deleted_or_renumbered(loaded, db_engine, sql, column):
    with db_engine.connect() as c:
        ref = _a_visit(c)[column]
        for stmt in sql.split("; "):
            try:
                c.execute(sa.text(stmt), {"id": ref})
            except IntegrityError as exc:
                assert "still named by patrol visits" in str(exc.orig) or "violates" in str(exc)
                c.rollback()
                break
        else:
            c.rollback()
            pytest.fail(f"{sql} was allowed")


def test_a_worker_without_visits_can_still_be_deleted(conn):
    wid = conn.execute(
        sa.text(
            "INSERT INTO grid_worker (worker_code, name, role) VALUES ('T-NOVISIT', 'x', 'worker') "
            "RETURNING id"
        )
    ).scalar_one()
    conn.execute(sa.text("DELETE FROM grid_worker WHERE id = :id"), {"id": wid})
    assert (
        conn.execute(
            sa.text("SELECT count(*) FROM grid_worker WHERE id = :id"), {"id": wid}
        ).scalar_one()
        == 0
    )


def _visit_frame(worker_id, grid_id):
    t = pd.Timestamp(datetime(2031, 1, 2, 3, tzinfo=UTC))
    return pd.DataFrame(
        {
            "h3_cell": [0x8A31AA5A8D97FFF],
            "day": [t.date()],
            "worker_id": [worker_id],
            "grid_unit_id": pd.array([grid_id], dtype="Int64"),
            "first_seen": [t],
            "last_seen": [t],
            "pass_count": [1],
        }
    )


def test_a_batch_naming_a_missing_worker_or_grid_is_refused_whole(loaded, conn):
    worker_id, grid_id = _a_visit(conn)
    before = conn.execute(sa.text("SELECT count(*) FROM patrol_visit")).scalar_one()
    for w, g in ((10**12, grid_id), (worker_id, 10**12)):
        with pytest.raises(Conflict, match="no longer exist"):
            patrol_store.add_visits(conn, _visit_frame(w, g))
    assert conn.execute(sa.text("SELECT count(*) FROM patrol_visit")).scalar_one() == before
    patrol_store.add_visits(conn, _visit_frame(worker_id, None))  # no grid: allowed
    assert conn.execute(sa.text("SELECT count(*) FROM patrol_visit")).scalar_one() == before + 1


def _stored(conn, window):
    since, until = window
    tracks = conn.execute(
        sa.text(
            "SELECT worker_id, started_at, ended_at, point_count, checksum, ST_AsEWKT(geom) "
            "FROM patrol_track WHERE started_at BETWEEN :t AND :u ORDER BY checksum"
        ),
        {"t": since, "u": until},
    ).all()
    visits = conn.execute(
        sa.text(
            "SELECT h3_cell, day, worker_id, grid_unit_id, first_seen, last_seen, pass_count "
            "FROM patrol_visit WHERE day BETWEEN :t AND :u ORDER BY h3_cell, day, worker_id"
        ),
        {"t": since.date(), "u": until.date()},
    ).all()
    return tracks, visits


def _upload(db_engine, sample, test_settings, days_later: int):
    """The live locator, and the sample's pings moved ``days_later`` days on (so they
    are new tracks), with their first and last time. Moved back, not ahead: fixes more
    than a day in the future are dropped as implausible (issue 15)."""
    from geo.services.state import ServiceState

    state = ServiceState(test_settings, db_engine)
    state.refresh()
    times = pd.to_datetime(sample.patrol_pings["time"], utc=True) + pd.Timedelta(days=days_later)
    pings = sample.patrol_pings.assign(time=times)
    return state.geocoder.locator, pings, (times.min().to_pydatetime(), times.max().to_pydatetime())


def test_pipelined_chunks_store_what_one_chunk_stores(loaded, db_engine, sample, test_settings):
    """Cleaning looks at one worker at a time, so cutting the upload into chunks of whole
    workers (stored while the next is cleaned) must change nothing that is stored."""
    locator, pings, window = _upload(db_engine, sample, test_settings, days_later=-3000)
    results = []
    for chunk in (10**9, 7_000):
        with db_engine.connect() as c:
            trans = c.begin()
            workers = registers.worker_ids(c)
            district = bstore.units_frame(c, levels=("district",)).geometry.union_all()
            res = ingest_pings(
                c,
                pings,
                workers,
                locator,
                res=10,
                district=district,
                chunk_pings=chunk,
            )
            results.append((res, _stored(c, window)))
            trans.rollback()
    (one, stored_one), (many, stored_many) = results
    assert one.new_tracks > 1000 and len(stored_one[1]) > 10_000
    assert (many.tracks, many.new_tracks, many.fixes_kept, many.dropped) == (
        one.tracks,
        one.new_tracks,
        one.fixes_kept,
        one.dropped,
    )
    assert stored_many == stored_one


def test_a_failing_chunk_leaves_the_upload_unstored(
    loaded, db_engine, sample, test_settings, monkeypatch
):
    locator, pings, window = _upload(db_engine, sample, test_settings, days_later=-3100)
    calls = []
    real = patrol_store.add_visits

    def fail_third(conn, visits):
        calls.append(len(visits))
        if len(calls) == 3:
            raise Conflict("boom", "boom")
        real(conn, visits)

    monkeypatch.setattr(patrol_service.patrol_store, "add_visits", fail_third)
    with db_engine.connect() as c:
        with pytest.raises(Conflict), c.begin():
            workers = registers.worker_ids(c)
            ingest_pings(c, pings, workers, locator, res=10, chunk_pings=20_000)
        assert len(calls) == 3  # stopped at the failing chunk, not run to the end
        assert _stored(c, window) == ([], [])


def test_deleting_a_worker_whose_tracks_were_purged_is_refused_clearly(loaded, conn):
    """After the purge only visits name the worker: still a 409-style Conflict with a
    message, not a database error."""
    worker_id = _a_visit(conn)[0]
    code = conn.execute(
        sa.text("SELECT worker_code FROM grid_worker WHERE id = :id"), {"id": worker_id}
    ).scalar_one()
    conn.execute(sa.text("DELETE FROM patrol_track WHERE worker_id = :id"), {"id": worker_id})
    with pytest.raises(Conflict, match="patrol records"):
        registers.delete_worker(conn, code, actor="test", reason=None)
