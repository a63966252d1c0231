"""Incidents and their transitions in PostGIS: idempotent intake, the full record of
a case (chain, responsibility, due time, history) and lifecycle steps.

Writes are idempotent: an incident is keyed on (source, external_id), so a repeated
upload stores nothing twice (``INSERT … ON CONFLICT DO NOTHING``). An INSERT meeting a
key that another transaction has stored but not committed waits for it; intake bounds
that wait (:func:`bound_waits`) and answers :class:`~geo.errors.Busy` when it runs out.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import Connection, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError

from geo import hexgrid
from geo.errors import Busy, NotFound
from geo.incidents import lifecycle
from geo.store.models import (
    AdminUnitVersion,
    Incident,
    IncidentTransition,
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


LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout that ran out


def bound_waits(conn: Connection, lock_ms: int, statement_ms: int | None = None) -> None:
    """Bound the caller's transaction: a wait for a row lock another transaction holds
    (``lock_timeout``; :func:`store_incident`/:func:`store_incidents` then raise Busy)
    and, given ``statement_ms``, each statement (``statement_timeout``)."""
    limits = {"lock_timeout": lock_ms, "statement_timeout": statement_ms}
    given = {k: f"{v}ms" for k, v in limits.items() if v is not None}
    calls = ", ".join(f"set_config('{k}', :{k}, true)" for k in given)
    conn.execute(text(f"SELECT {calls}"), given)


@contextmanager
def _busy_when_locked(retry_after_s: int) -> Iterator[None]:
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise Busy(
            "another request is storing the same case (source + external_id) and has not "
            f"finished; nothing was stored by this request. Retry after {retry_after_s} "
            "seconds",
            "另一请求正在保存同一事件（来源与外部编号相同）且尚未完成，本次请求未保存任何数据；"
            f"请 {retry_after_s} 秒后重试",
            retry_after=retry_after_s,
        ) from exc


def store_incident(conn: Connection, row: dict, retry_after_s: int = 3) -> int | None:
    """Insert one incident unless its (source, external_id) is stored: its new id, or
    None for a duplicate. ONE statement (``INSERT … ON CONFLICT DO NOTHING RETURNING``):
    if another transaction is storing the same key, it waits for that one to end, as
    bounded by :func:`bound_waits` (Busy when the bound runs out)."""
    values = {c: row[c] for c in _INTAKE_COLUMNS if c in row}
    values["geom"] = func.ST_GeomFromEWKT(values["geom"])
    stmt = (
        insert(Incident)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(Incident.id)
    )
    with _busy_when_locked(retry_after_s):
        return conn.execute(stmt).scalar_one_or_none()


def store_incidents(
    conn: Connection, rows: list[dict], retry_after_s: int = 3
) -> dict[tuple[str, str], int]:
    """Insert incidents not stored yet; returns {(source, external_id): id} of the NEW ones.

    Runs in the caller's transaction (the temp table empties itself at commit). A key
    being stored by another transaction is waited for as in :func:`store_incident`.
    """
    if not rows:
        return {}
    conn.exec_driver_sql(_INTAKE_TABLE)
    conn.exec_driver_sql("TRUNCATE incident_in")
    raw = conn.connection.driver_connection
    assert raw is not None  # a live psycopg connection inside the caller's transaction
    with raw.cursor() as cur:
        with cur.copy(f"COPY incident_in ({', '.join(_INTAKE_COLUMNS)}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(tuple(r.get(c) for c in _INTAKE_COLUMNS))
    with _busy_when_locked(retry_after_s):
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


def incident_detail(
    conn: Connection, incident_id: int, limits: dict[str, float] | None = None
) -> dict | None:
    """One incident with its chain (names as live now) and who is responsible;
    ``limits``: hours per level (the district's case rules; None: the defaults)."""
    return incident_details(conn, [incident_id], limits).get(incident_id)


def incident_details(
    conn: Connection, incident_ids: Sequence[int], limits: dict[str, float] | None = None
) -> dict[int, dict]:
    """:func:`incident_detail` for many incidents in five queries, whatever their number
    (a hotline system lists up to 1,000 requests at a time); missing ids are left out."""
    if not incident_ids:
        return {}
    incidents = _incident_rows(conn, incident_ids)
    if not incidents:
        return {}
    names = _live_unit_names(conn, incidents)
    specials = _special_grids(conn, incidents)
    transitions = incidents_transitions(conn, [i.id for i in incidents])
    now = conn.execute(select(func.now())).scalar_one()
    return {
        i.id: _detail(i, names, specials, transitions.get(i.id, []), now, limits) for i in incidents
    }


def _incident_rows(conn: Connection, incident_ids: Sequence[int]) -> list[SimpleNamespace]:
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
    return [SimpleNamespace(**r) for r in rows]


def _live_unit_names(
    conn: Connection, incidents: list[SimpleNamespace]
) -> dict[int, tuple[str, str]]:
    """(code, name) as live now of every unit in the incidents' chains."""
    unit_ids = {
        u
        for i in incidents
        for u in (i.grid_unit_id, i.community_unit_id, i.street_unit_id, i.district_unit_id)
        if u
    }
    v = AdminUnitVersion
    return {
        uid: (code, name)
        for uid, code, name in conn.execute(
            select(v.unit_id, v.code, v.name).where(
                v.unit_id.in_(sorted(unit_ids)),
                v.valid_to.is_(None),
                v.valid_from.is_not(None),
            )
        )
    }


def _special_grids(
    conn: Connection, incidents: list[SimpleNamespace]
) -> dict[int, SimpleNamespace]:
    """The special grids the incidents lie in, by id."""
    special_ids = {s for i in incidents for s in (i.special_grid_ids or [])}
    return {
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


def _detail(
    i: SimpleNamespace,
    names: dict[int, tuple[str, str]],
    specials: dict[int, SimpleNamespace],
    transitions: list[dict],
    now: datetime,
    limits: dict[str, float] | None,
) -> dict[str, Any]:
    """One incident's record as the API answers it."""

    def unit(uid: int | None) -> dict | None:
        if uid is None or uid not in names:
            return None
        return {"id": uid, "code": names[uid][0], "name": names[uid][1]}

    def special(sid: int | None) -> dict | None:
        s = specials.get(sid) if sid is not None else None
        if s is None:
            return None
        return {
            "id": s.id,
            "code": s.code,
            "name": s.name,
            "kind": s.kind,
            "responsible_unit": s.responsible_unit,
        }

    grid = unit(i.grid_unit_id)
    by_level = {
        "grid": grid,
        "community": unit(i.community_unit_id),
        "street": unit(i.street_unit_id),
        "district": unit(i.district_unit_id),
    }
    return {
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
        "transitions": transitions,
    }


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
    for row in rows:
        r = dict(row)
        out.setdefault(r.pop("incident_id"), []).append({**r, "at": r["at"].isoformat()})
    return out


def find_incident_ids(
    conn: Connection,
    *,
    ids: Sequence[int] | None = None,
    categories: Sequence[str] | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    unit_ids: Collection[int] = (),
    limit: int = 1000,
) -> list[int]:
    """Ids of the incidents matching every filter given, newest report first.

    ``ids``/``categories``: one of these (an empty list matches nothing); ``status``:
    ``open`` (anything not closed) or ``closed``; ``start``/``end``: report time,
    both inclusive; ``unit_ids``: only incidents whose chain holds one of these units
    (empty: anywhere).
    """
    q = select(Incident.id).order_by(Incident.reported_at.desc()).limit(limit)
    if ids is not None:
        q = q.where(Incident.id.in_(list(ids)))
    if categories is not None:
        q = q.where(Incident.category.in_(list(categories)))
    if status == "closed":
        q = q.where(Incident.status == "closed")
    elif status == "open":
        q = q.where(Incident.status != "closed")
    if start:
        q = q.where(Incident.reported_at >= start)
    if end:
        q = q.where(Incident.reported_at <= end)
    if unit_ids:
        units = list(unit_ids)
        q = q.where(
            Incident.grid_unit_id.in_(units)
            | Incident.community_unit_id.in_(units)
            | Incident.street_unit_id.in_(units)
            | Incident.district_unit_id.in_(units)
        )
    return list(conn.execute(q).scalars().all())
