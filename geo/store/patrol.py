"""Patrol tracks and per-cell patrol visits in PostGIS.

Writes are idempotent: a track is keyed on the hash of its fixes, so a repeated upload
stores nothing twice; visits are merged per (cell, day, worker).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, func, select

from geo.errors import Conflict
from geo.settings import STORAGE_SRID
from geo.store import pgcopy
from geo.store.models import (
    AdminUnit,
    GridWorker,
    PatrolTrack,
    PatrolTrackPurged,
    PatrolVisit,
)

_TRACK_COLUMNS = ("worker_id", "mode", "started_at", "ended_at", "point_count", "checksum", "geom")
# Serialises track ingests, so "which checksums are new" stays true until our COPY.
_TRACK_LOCK = 4107990003


def insert_tracks(conn: Connection, tracks: pd.DataFrame) -> set[str]:
    """Store tracks not stored yet; returns the checksums of the new ones.

    ``tracks``: worker_id, mode, started_at, ended_at, point_count, checksum and geom
    (shapely LineStrings, WGS-84). The new ones are COPYed straight into the table in
    the binary format, the geometry as EWKB (WKT, hex or a staging table cost PostGIS
    more than the rest of the ingest); ingests are serialised so no other one adds the
    same track meanwhile.
    """
    if tracks.empty:
        return set()
    conn.execute(select(func.pg_advisory_xact_lock(_TRACK_LOCK)))
    checksums = tracks["checksum"].astype(str)
    asked = checksums.unique().tolist()
    # Stored, or stored once and purged since (their visits are still counted).
    stored = set(
        conn.execute(
            select(PatrolTrack.checksum)
            .where(PatrolTrack.checksum.in_(asked))
            .union_all(
                select(PatrolTrackPurged.checksum).where(PatrolTrackPurged.checksum.in_(asked))
            )
        ).scalars()
    )
    new = tracks[~checksums.isin(stored)].drop_duplicates("checksum")
    if new.empty:
        return set()
    geoms = shapely.set_srid(np.asarray(new["geom"].to_numpy(), dtype=object), STORAGE_SRID)
    ewkb = shapely.to_wkb(geoms, include_srid=True)  # geometry's binary COPY form
    started = pgcopy.timestamptz(new["started_at"]).tolist()
    ended = pgcopy.timestamptz(new["ended_at"]).tolist()
    rows = (
        (
            pgcopy.int8(w),
            m.encode(),
            pgcopy.int8(t0),
            pgcopy.int8(t1),
            pgcopy.int4(n),
            c.encode(),
            g,
        )
        for w, m, t0, t1, n, c, g in zip(
            new["worker_id"].tolist(),
            new["mode"].tolist(),
            started,
            ended,
            new["point_count"].tolist(),
            new["checksum"].astype(str).tolist(),
            ewkb.tolist(),
            strict=True,
        )
    )
    pgcopy.copy_binary(conn, "patrol_track", _TRACK_COLUMNS, pgcopy.packed_rows(rows))
    return set(new["checksum"].astype(str))


# Hand-written SQL: the ORM has no COPY, and COPY is several times faster than
# batched INSERTs for the tens of thousands of visit rows a day of tracks makes.
_VISIT_COLUMNS = (
    "h3_cell",
    "day",
    "worker_id",
    "grid_unit_id",
    "first_seen",
    "last_seen",
    "pass_count",
)
# Visits travel in PostgreSQL's binary COPY format (geo/store/pgcopy.py): building it
# is one numpy array, and PostgreSQL reads it without parsing text. (A new temp-table
# name whenever its columns change: sessions of a running service keep the old one.)
_VISIT_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS patrol_visit_bin_in (
    h3_cell bigint, day date, worker_id bigint, grid_unit_id bigint,
    first_seen timestamptz, last_seen timestamptz, pass_count integer
) ON COMMIT DELETE ROWS
"""
# Sorted like the primary key, so the index is filled in order.
_VISIT_MERGE = f"""
INSERT INTO patrol_visit ({", ".join(_VISIT_COLUMNS)})
SELECT {", ".join(_VISIT_COLUMNS)}
FROM patrol_visit_bin_in ORDER BY h3_cell, day, worker_id
ON CONFLICT (h3_cell, day, worker_id) DO UPDATE SET
    first_seen = least(patrol_visit.first_seen, excluded.first_seen),
    last_seen = greatest(patrol_visit.last_seen, excluded.last_seen),
    pass_count = patrol_visit.pass_count + excluded.pass_count
"""


def _lock_referenced(conn: Connection, model, ids: pd.Series, what: str, what_zh: str) -> None:
    """What a foreign key's per-row trigger did, once per distinct id: the rows named
    must exist, and are locked ``FOR KEY SHARE`` so that no one deletes them before
    this transaction ends (patrol_visit has no foreign keys: migration 0009)."""
    wanted = {int(i) for i in pd.unique(ids.to_numpy())}
    if not wanted:
        return
    found = set(
        conn.execute(
            select(model.id).where(model.id.in_(sorted(wanted))).with_for_update(key_share=True)
        ).scalars()
    )
    missing = sorted(wanted - found)
    if missing:
        raise Conflict(
            f"{what} id(s) {missing[:5]} no longer exist (deleted meanwhile?); upload again",
            f"{what_zh}编号 {missing[:5]} 已不存在（可能刚被删除）；请重新上传",
        )


def add_visits(conn: Connection, visits: pd.DataFrame) -> None:
    """Merge visits (h3_cell, day, worker_id, grid_unit_id, first_seen, last_seen,
    pass_count) into the stored ones: widen the time span, add the passes.

    One row per (cell, day, worker) in ``visits`` (ON CONFLICT may touch a row once);
    first/last seen tz-aware, day a date.
    """
    if visits.empty:
        return
    days = pd.to_datetime(pd.Series(visits["day"])).to_numpy().astype("datetime64[D]")
    grid = visits["grid_unit_id"].astype("Int64")
    body = pgcopy.fixed_rows(
        [
            ("int8", visits["h3_cell"].to_numpy(np.int64), None),
            ("date", pgcopy.date(days), None),
            ("int8", visits["worker_id"].to_numpy(np.int64), None),
            ("int8", grid.fillna(0).to_numpy(np.int64), grid.isna().to_numpy()),
            ("timestamptz", pgcopy.timestamptz(visits["first_seen"]), None),
            ("timestamptz", pgcopy.timestamptz(visits["last_seen"]), None),
            ("int4", visits["pass_count"].to_numpy(np.int64), None),
        ]
    )
    _lock_referenced(conn, GridWorker, visits["worker_id"], "grid worker", "网格员")
    _lock_referenced(conn, AdminUnit, grid.dropna(), "grid", "网格")
    conn.exec_driver_sql(_VISIT_TABLE)
    conn.exec_driver_sql("TRUNCATE patrol_visit_bin_in")
    pgcopy.copy_binary(conn, "patrol_visit_bin_in", _VISIT_COLUMNS, body)
    conn.exec_driver_sql(_VISIT_MERGE)


def visits_frame(
    conn: Connection, start: date | None = None, end: date | None = None
) -> pd.DataFrame:
    """Per-cell patrol visits (cell, day, worker_code, first_seen, last_seen, pass_count)."""
    v, w = PatrolVisit, GridWorker
    q = select(
        v.h3_cell.label("cell"), v.day, w.worker_code, v.first_seen, v.last_seen, v.pass_count
    ).join(w, w.id == v.worker_id)
    if start is not None:
        q = q.where(v.day >= start)
    if end is not None:
        q = q.where(v.day <= end)
    rows = conn.execute(q).all()
    return pd.DataFrame(
        rows, columns=["cell", "day", "worker_code", "first_seen", "last_seen", "pass_count"]
    )
