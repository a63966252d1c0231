"""The live units the registers are filtered by: a unit by its code, and every unit
below a set of units (a street → its communities and grids)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, and_, select

from geo.errors import NotFound
from geo.store.models import AdminUnitVersion


def live(v: type[AdminUnitVersion] = AdminUnitVersion) -> ColumnElement[bool]:
    """The version of a unit on the live map."""
    return and_(v.valid_from.is_not(None), v.valid_to.is_(None))


def unit_ids_for_codes(conn: Connection, codes: list[str]) -> dict[str, int]:
    """Live unit code → unit id; unknown codes raise NotFound."""
    v = AdminUnitVersion
    found = dict(conn.execute(select(v.code, v.unit_id).where(live(), v.code.in_(codes))).all())
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(
            f"no live unit with code {', '.join(missing)}",
            f"不存在编码为 {'、'.join(missing)} 的单元",
        )
    return found


def units_within(conn: Connection, unit_ids: list[int]) -> set[int]:
    """The live units and every live unit below them (a street → its communities, grids)."""
    v = AdminUnitVersion
    rows = conn.execute(select(v.unit_id, v.parent_unit_id).where(live(v))).all()
    children: dict[int | None, list[int]] = {}
    for uid, parent in rows:
        children.setdefault(parent, []).append(uid)
    out, todo = set(), list(unit_ids)
    while todo:
        u = todo.pop()
        if u not in out:
            out.add(u)
            todo.extend(children.get(u, []))
    return out
