"""Grid workers (网格员) and their assignments in PostGIS: who serves which unit now
(assignments keep their history), reads, edits (every one audited), and the rows a
ledger import or export reads. Functions run in the caller's transaction.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from geo.errors import Conflict, NotFound
from geo.store import audit
from geo.store import boundaries as bstore
from geo.store.models import (
    AdminUnitVersion,
    GridAssignment,
    GridWorker,
    PatrolTrack,
    PatrolVisit,
)
from geo.store.registers.units import live, unit_ids_for_codes, units_within


def live_people(conn: Connection) -> pd.DataFrame:
    """Open assignments with the person: unit_id, role, worker_code, name, phone."""
    rows = conn.execute(
        select(
            GridAssignment.unit_id,
            GridAssignment.role,
            GridWorker.worker_code,
            GridWorker.name,
            GridWorker.phone,
        )
        .join(GridWorker, GridWorker.id == GridAssignment.worker_id)
        .where(GridAssignment.valid_to.is_(None))
        .order_by(GridAssignment.unit_id, GridWorker.worker_code)
    ).all()
    return pd.DataFrame(rows, columns=["unit_id", "role", "worker_code", "name", "phone"])


def worker_ids(conn: Connection) -> dict[str, int]:
    """Worker code → id for everyone in the register."""
    return dict(conn.execute(select(GridWorker.worker_code, GridWorker.id)).all())


def list_workers(
    conn: Connection,
    *,
    q: str | None = None,
    unit_ids: list[int] | None = None,
    code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict]:
    """People with their open assignments (``units``: code, name, level, role)."""
    w, a, v = GridWorker, GridAssignment, AdminUnitVersion
    stmt = select(w.id, w.worker_code, w.name, w.role, w.phone)
    if q:
        stmt = stmt.where(w.name.ilike(f"%{q}%") | w.worker_code.ilike(f"%{q}%"))
    if code:
        stmt = stmt.where(w.worker_code == code)
    if unit_ids is not None:
        inside = units_within(conn, unit_ids)
        stmt = stmt.where(
            w.id.in_(select(a.worker_id).where(a.valid_to.is_(None), a.unit_id.in_(inside)))
        )
    people = [
        dict(r)
        for r in conn.execute(stmt.order_by(w.worker_code).limit(limit).offset(offset)).mappings()
    ]
    ids = [p["id"] for p in people]
    units: dict[int, list[dict]] = {}
    if ids:
        for r in conn.execute(
            select(a.worker_id, a.role, v.unit_id, v.code, v.name, v.level)
            .join(v, (v.unit_id == a.unit_id) & live(v))
            .where(a.worker_id.in_(ids), a.valid_to.is_(None))
            .order_by(v.code)
        ).mappings():
            units.setdefault(r["worker_id"], []).append(
                {k: r[k] for k in ("unit_id", "code", "name", "level", "role")}
            )
    for p in people:
        p["units"] = units.get(p["id"], [])
    return people


def get_worker(conn: Connection, code: str) -> dict:
    found = list_workers(conn, code=code, limit=1)
    if not found:
        raise NotFound(f"no person with code {code!r}", f"人员编号 {code!r} 不存在")
    return found[0]


def delete_worker(conn: Connection, code: str, *, actor: audit.Who, reason: str | None) -> None:
    """Close the person's assignments and remove them; refused if they have patrol tracks
    or patrol visits (which stay after their raw tracks are purged)."""
    person = get_worker(conn, code)
    tracks = conn.execute(
        select(func.count()).where(PatrolTrack.worker_id == person["id"])
    ).scalar_one()
    visited = conn.execute(
        select(PatrolVisit.worker_id).where(PatrolVisit.worker_id == person["id"]).limit(1)
    ).first()
    if tracks or visited:
        raise Conflict(
            f"{code} has patrol records ({tracks} tracks kept); close their assignments "
            "instead of deleting",
            f"{code} 有巡查记录（保留轨迹 {tracks} 条），不能删除；请改为解除其网格分配",
        )
    conn.execute(delete(GridAssignment).where(GridAssignment.worker_id == person["id"]))
    conn.execute(delete(GridWorker).where(GridWorker.id == person["id"]))
    audit.record(
        conn,
        actor=actor,
        action="worker.delete",
        entity="worker",
        ref=code,
        reason=reason,
        detail={"name": person["name"], "units": [u["code"] for u in person["units"]]},
    )


def set_worker(
    conn: Connection, code: str, name: str, role: str, phone: str | None, unit_ids: list[int]
) -> int:
    """Upsert a person and make their open assignments of ``role`` exactly ``unit_ids``."""
    w, a = GridWorker, GridAssignment
    values = {"name": name, "role": role, "phone": phone}
    stmt = insert(w).values(worker_code=code, **values)
    wid = conn.execute(
        stmt.on_conflict_do_update(index_elements=["worker_code"], set_=values).returning(w.id)
    ).scalar_one()
    current = set(
        conn.execute(
            select(a.unit_id).where(a.worker_id == wid, a.role == role, a.valid_to.is_(None))
        ).scalars()
    )
    stale = current - set(unit_ids)
    if stale:
        # clock_timestamp: later than now(), the start of a same-transaction assignment.
        conn.execute(
            update(a)
            .where(a.worker_id == wid, a.role == role, a.valid_to.is_(None), a.unit_id.in_(stale))
            .values(valid_to=func.clock_timestamp())
        )
    fresh = [u for u in dict.fromkeys(unit_ids) if u not in current]
    if fresh:
        conn.execute(insert(a), [{"worker_id": wid, "unit_id": u, "role": role} for u in fresh])
    return wid


def put_worker(
    conn: Connection,
    code: str,
    *,
    name: str,
    role: str,
    phone: str | None,
    unit_codes: list[str],
    actor: audit.Who,
    reason: str | None = None,
) -> None:
    """Create or replace a person and the units they serve; audited with before/after."""
    ids = unit_ids_for_codes(conn, unit_codes) if unit_codes else {}
    try:
        before = get_worker(conn, code)
    except NotFound:
        before = None
    set_worker(conn, code, name, role, phone, [ids[c] for c in unit_codes])
    old = None
    if before is not None:
        units = [u["code"] for u in before["units"]]
        old = {"name": before["name"], "role": before["role"], "units": units}
    audit.record(
        conn,
        actor=actor,
        action="worker.create" if before is None else "worker.update",
        entity="worker",
        ref=code,
        reason=reason,
        detail={"from": old, "to": {"name": name, "role": role, "units": unit_codes}},
    )


# --- what a ledger import or export reads -------------------------------------------


def stored_by_code(conn: Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The people with these codes: id, worker_code, name, role, phone."""
    w = GridWorker
    return {
        r.worker_code: dict(r)
        for r in conn.execute(
            select(w.id, w.worker_code, w.name, w.role, w.phone).where(w.worker_code.in_(codes))
        ).mappings()
    }


def open_units(conn: Connection, worker_ids: list[int]) -> dict[tuple[int, str], set[int]]:
    """(worker id, role) → the units of their open assignments in that role."""
    a = GridAssignment
    out: dict[tuple[int, str], set[int]] = {}
    for wid, uid, role in conn.execute(
        select(a.worker_id, a.unit_id, a.role).where(
            a.worker_id.in_(worker_ids), a.valid_to.is_(None)
        )
    ).all():
        out.setdefault((wid, role), set()).add(uid)
    return out


def export_rows(conn: Connection) -> list[tuple[Any, ...]]:
    """Everyone with each open assignment of their own role to a live unit (one row per
    assignment, none for a person without): id, code, name, phone, role, unit id, unit
    code and unit name; by code, then unit code."""
    w, a, v = GridWorker, GridAssignment, AdminUnitVersion
    live_ids = bstore.live_units_subquery()
    return [
        tuple(row)
        for row in conn.execute(
            select(
                w.id, w.worker_code, w.name, w.phone, w.role, v.unit_id, v.code, v.name.label("un")
            )
            .outerjoin(a, (a.worker_id == w.id) & a.valid_to.is_(None) & (a.role == w.role))
            .outerjoin(v, (v.unit_id == a.unit_id) & v.id.in_(select(live_ids.c.id)))
            .order_by(w.worker_code, v.code)
        ).all()
    ]
