"""Incidents, patrol tracks and per-cell patrol visits in PostGIS.

Writes are idempotent: an incident is keyed on (source, external_id), a track on the
hash of its fixes, so a repeated upload stores nothing twice.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import shapely
from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from geo import hexgrid
from geo.errors import Conflict, NotFound
from geo.incidents import lifecycle
from geo.settings import STORAGE_SRID
from geo.store import pgcopy
from geo.store.models import (
    AdminUnit,
    AdminUnitVersion,
    GridWorker,
    Incident,
    IncidentTransition,
    PatrolTrack,
    PatrolTrackPurged,
    PatrolVisit,
    SpecialGrid,
)

# Hand-written SQL: bulk intake goes through COPY into a session temp table and one
# INSERT … SELECT, about 10× faster than batched INSERT statements; the ORM has no COPY.
_INTAKE_COLUMNS = (
    "source",
    "external_id",
    "reported_at",
    "category",
    "description",
    "status",
    "level",
    "geom",
    "h3_cell",
    "grid_unit_id",
    "community_unit_id",
    "street_unit_id",
    "district_unit_id",
    "responsible_kind",
    "responsible_special_grid_id",
    "special_grid_ids",
    "crs_in",
    "level_since",
)
_INTAKE_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS incident_in (
    source text, external_id text, reported_at timestamptz, category text,
    description text, status text, level text, geom text, h3_cell bigint,
    grid_unit_id bigint, community_unit_id bigint, street_unit_id bigint,
    district_unit_id bigint, responsible_kind text, responsible_special_grid_id bigint,
    special_grid_ids bigint[], crs_in text, level_since timestamptz
) ON COMMIT DELETE ROWS
"""
_INTAKE_INSERT = f"""
INSERT INTO incident ({", ".join(_INTAKE_COLUMNS)})
SELECT {", ".join("ST_GeomFromEWKT(geom)" if c == "geom" else c for c in _INTAKE_COLUMNS)}
FROM incident_in
ON CONFLICT (source, external_id) DO NOTHING
RETURNING source, external_id, id
"""


def store_incidents(conn: Connection, rows: list[dict]) -> dict[tuple[str, str], int]:
    """Insert incidents not stored yet; returns {(source, external_id): id} of the NEW ones.

    Runs in the caller's transaction (the temp table empties itself at commit).
    """
    if not rows:
        return {}
    conn.exec_driver_sql(_INTAKE_TABLE)
    conn.exec_driver_sql("TRUNCATE incident_in")
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY incident_in ({', '.join(_INTAKE_COLUMNS)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(tuple(r.get(c) for c in _INTAKE_COLUMNS))
    result = conn.exec_driver_sql(_INTAKE_INSERT).all()
    return {(s, e): i for s, e, i in result}


def incident_ids(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of stored incidents by (source, external_id)."""
    if not keys:
        return {}
    rows = conn.execute(
        select(Incident.source, Incident.external_id, Incident.id).where(
            tuple_(Incident.source, Incident.external_id).in_(keys)
        )
    ).all()
    return {(s, e): i for s, e, i in rows}


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


# Hand-written SQL for the same reason as intake: COPY is several times faster than
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


def incident_detail(
    conn: Connection, incident_id: int, limits: dict[str, float] | None = None
) -> dict | None:
    """One incident with its chain (names as live now) and who is responsible;
    ``limits``: hours per level (the district's case rules; None: the defaults)."""
    return incident_details(conn, [incident_id], limits).get(incident_id)


def incident_details(
    conn: Connection, incident_ids: list[int], limits: dict[str, float] | None = None
) -> dict[int, dict]:
    """:func:`incident_detail` for many incidents in five queries, whatever their number
    (a hotline system lists up to 1,000 requests at a time); missing ids are left out."""
    if not incident_ids:
        return {}
    rows = (
        conn.execute(
            select(
                Incident.__table__,
                gf.ST_X(Incident.geom).label("lon"),
                gf.ST_Y(Incident.geom).label("lat"),
            ).where(Incident.id.in_(list(incident_ids)))
        )
        .mappings()
        .all()
    )
    if not rows:
        return {}
    incidents = [SimpleNamespace(**r) for r in rows]
    unit_ids = {
        u
        for i in incidents
        for u in (i.grid_unit_id, i.community_unit_id, i.street_unit_id, i.district_unit_id)
        if u
    }
    v = AdminUnitVersion
    names = {
        uid: (code, name)
        for uid, code, name in conn.execute(
            select(v.unit_id, v.code, v.name).where(
                v.unit_id.in_(sorted(unit_ids)),
                v.valid_to.is_(None),
                v.valid_from.is_not(None),
            )
        )
    }

    def unit(uid):
        if uid is None or uid not in names:
            return None
        return {"id": uid, "code": names[uid][0], "name": names[uid][1]}

    special_ids = {s for i in incidents for s in (i.special_grid_ids or [])}
    specials = {
        r["id"]: SimpleNamespace(**r)
        for r in conn.execute(
            select(
                SpecialGrid.id,
                SpecialGrid.code,
                SpecialGrid.name,
                SpecialGrid.kind,
                SpecialGrid.responsible_unit,
            ).where(SpecialGrid.id.in_(sorted(special_ids)))
        ).mappings()
    }

    def special(sid):
        s = specials.get(sid)
        return s and {
            "id": s.id,
            "code": s.code,
            "name": s.name,
            "kind": s.kind,
            "responsible_unit": s.responsible_unit,
        }

    transitions = incidents_transitions(conn, [i.id for i in incidents])
    now = conn.execute(select(func.now())).scalar_one()
    out = {}
    for i in incidents:
        grid = unit(i.grid_unit_id)
        by_level = {
            "grid": grid,
            "community": unit(i.community_unit_id),
            "street": unit(i.street_unit_id),
            "district": unit(i.district_unit_id),
        }
        out[i.id] = {
            "id": i.id,
            "source": i.source,
            "external_id": i.external_id,
            "reported_at": i.reported_at.isoformat(),
            "category": i.category,
            "status": i.status,
            "level": i.level,
            "description": i.description,
            "location": {"lon": i.lon, "lat": i.lat, "crs": "wgs84"},
            "received_crs": i.crs_in,
            "h3_cell": hexgrid.cell_to_str(i.h3_cell),
            "grid": grid,
            "community": unit(i.community_unit_id),
            "street": unit(i.street_unit_id),
            "district": unit(i.district_unit_id),
            "special_grids": [special(s) for s in (i.special_grid_ids or []) if s in specials],
            "responsible": (
                {"kind": "special_grid", "special_grid": special(i.responsible_special_grid_id)}
                if i.responsible_kind == "special_grid"
                else {"kind": "grid", "grid": grid}
            ),
            # After escalation the unit of the current level must act.
            "responsible_now": (
                {"kind": "special_grid", "special_grid": special(i.responsible_special_grid_id)}
                if i.responsible_kind == "special_grid" and i.level == "grid"
                else {"kind": i.level, i.level: by_level[i.level]}
            ),
            "assignee": i.assignee,
            "due_at": lifecycle.due_at(i.level, i.level_since, limits).isoformat(),
            "overdue": lifecycle.is_overdue(i.status, i.level, i.level_since, now, limits),
            "transitions": transitions.get(i.id, []),
        }
    return out


def transition_incident(
    conn: Connection,
    incident_id: int,
    *,
    action: str,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
) -> None:
    """Apply a lifecycle action under a row lock and record it in the history."""
    row = (
        conn.execute(
            select(Incident.status, Incident.level, Incident.assignee)
            .where(Incident.id == incident_id)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    inc = SimpleNamespace(**row) if row else None
    if inc is None:
        raise NotFound(f"incident {incident_id} does not exist", f"事件 {incident_id} 不存在")
    before = lifecycle.State(inc.status, inc.level, inc.assignee)
    after = lifecycle.apply_action(before, action, assignee)
    now = conn.execute(select(func.now())).scalar_one()
    conn.execute(
        insert(IncidentTransition).values(
            incident_id=incident_id,
            at=now,
            action=action,
            from_status=before.status,
            to_status=after.status,
            from_level=before.level,
            to_level=after.level,
            assignee=after.assignee,
            actor=actor,
            note=note,
        )
    )
    values = {
        "status": after.status,
        "level": after.level,
        "assignee": after.assignee,
        "updated_at": now,
    }
    if after.level != before.level:
        values["level_since"] = now
    conn.execute(update(Incident).where(Incident.id == incident_id).values(**values))


def incidents_transitions(conn: Connection, incident_ids: list[int]) -> dict[int, list[dict]]:
    """Each incident's transitions in order, for many incidents in one query."""
    t = IncidentTransition
    rows = (
        conn.execute(
            select(
                t.incident_id,
                t.at,
                t.action,
                t.from_status,
                t.to_status,
                t.from_level,
                t.to_level,
                t.assignee,
                t.actor,
                t.note,
            )
            .where(t.incident_id.in_(list(incident_ids)))
            .order_by(t.incident_id, t.at, t.id)
        )
        .mappings()
        .all()
    )
    out: dict[int, list[dict]] = {}
    for r in rows:
        r = dict(r)
        out.setdefault(r.pop("incident_id"), []).append({**r, "at": r["at"].isoformat()})
    return out


def visits_frame(conn: Connection, start=None, end=None) -> pd.DataFrame:
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
