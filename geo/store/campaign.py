"""The unowned-compound campaign (台账 → 分类整治 → 销号) and the workload per grid.

Each unowned compound may carry a governance record; its stage follows from it:

``struck_off``   销号: a date struck off (with a management mode and a verifier)
``in_progress``  a management mode chosen, an owners' committee formed or works done
``not_started``  listed only (no record, or only the issues found)

Counts per street, community or grid take the unit containing the compound's point
on surface on the live map, so they follow boundary changes without a recompute.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from geoalchemy2 import functions as gf
from sqlalchemy import Case, Connection, and_, case, func, select, update
from sqlalchemy.dialects.postgresql import insert

from geo.errors import InvalidInput, NotFound
from geo.registers.compounds import EMPTY_GOVERNANCE
from geo.registers.compounds import GOVERNANCE_FIELDS as _GOV
from geo.store import audit
from geo.store.models import (
    GOVERNANCE_MODES,
    AdminUnitVersion,
    Compound,
    CompoundGovernance,
    Incident,
    SpecialGrid,
)
from geo.store.registers.compounds import compound_ids_in_units
from geo.store.registers.units import live as _live

STAGES = ("not_started", "in_progress", "struck_off")


def stage_expr(g: type[CompoundGovernance] = CompoundGovernance) -> Case[str]:
    """SQL for the stage of a compound outer-joined to its governance record ``g``."""
    return case(
        (g.struck_off_on.is_not(None), "struck_off"),
        (
            g.mode.is_not(None) | g.committee_formed | (func.jsonb_array_length(g.works) > 0),
            "in_progress",
        ),
        else_="not_started",
    )


def get_governance(conn: Connection, compound_id: int) -> dict:
    """The record of one unowned compound (defaults when none is stored yet)."""
    c, g = Compound, CompoundGovernance
    row = (
        conn.execute(
            select(
                c.id,
                c.name,
                c.management_type,
                g.compound_id.label("gov_id"),
                *(getattr(g, f) for f in _GOV),
                g.updated_by,
                g.updated_at,
                stage_expr().label("stage"),
            )
            .outerjoin(g, g.compound_id == c.id)
            .where(c.id == compound_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no compound {compound_id}", f"小区（楼院）{compound_id} 不存在")
    out = dict(row)
    if out["gov_id"] is None:
        out.update(issues=[], committee_formed=False, works=[])
    out["compound_id"] = out.pop("id")
    out.pop("gov_id")
    return out


def put_governance_row(conn: Connection, compound_id: int, gov: dict, actor: audit.Who) -> None:
    """Insert or replace the campaign record of one compound."""
    values = {f: gov.get(f, EMPTY_GOVERNANCE[f]) for f in _GOV}
    if isinstance(values["struck_off_on"], str):
        values["struck_off_on"] = date.fromisoformat(values["struck_off_on"])
    values["updated_by"] = audit.shown(actor)
    stmt = insert(CompoundGovernance).values(compound_id=compound_id, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["compound_id"], set_={**values, "updated_at": func.now()}
        )
    )


def put_governance(
    conn: Connection, compound_id: int, record: dict, *, actor: audit.Who, reason: str | None = None
) -> dict:
    """Replace the campaign record of an unowned compound; audited with before/after.

    Raises InvalidInput for an owned compound, an unknown mode, or 销号 without a
    management mode and a verifier.
    """
    before = get_governance(conn, compound_id)
    if before["management_type"] != "unowned":
        raise InvalidInput(
            f"compound {compound_id} is not unowned ({before['management_type']}); "
            "the campaign covers unowned compounds only",
            f"小区 {compound_id} 不是无主管楼院，整治台账只记录无主管楼院",
        )
    if record.get("mode") is not None and record["mode"] not in GOVERNANCE_MODES:
        raise InvalidInput(
            f"mode must be one of {', '.join(GOVERNANCE_MODES)}",
            "治理模式应为 professional（专业型）、community（社区型）或 self_governed（自治型）",
        )
    if record.get("struck_off_on") and not (record.get("mode") and record.get("verified_by")):
        raise InvalidInput(
            "struck off (销号) needs a management mode and who verified it",
            "销号须已确定治理模式并填写验收人",
        )
    put_governance_row(conn, compound_id, record, actor)
    statuses: dict[Any, str] = {"professional": "professional", "community": "community_managed"}
    status = statuses.get(record.get("mode"), record.get("mode") or "none")
    conn.execute(
        update(Compound).where(Compound.id == compound_id).values(governance_status=status)
    )
    after = get_governance(conn, compound_id)

    def plain(d):
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in d.items() if k in _GOV}

    audit.record(
        conn,
        actor=actor,
        action="campaign.update",
        entity="compound",
        ref=str(compound_id),
        reason=reason,
        detail={"from": plain(before), "to": plain(after)},
    )
    return after


def progress(conn: Connection, level: str = "community") -> list[dict]:
    """Per live unit of ``level``: unowned compounds listed and by stage."""
    v, c, g = AdminUnitVersion, Compound, CompoundGovernance
    stage = stage_expr()
    stmt = (
        select(
            v.unit_id,
            v.code,
            v.name,
            func.count(c.id).label("listed"),
            *(func.count(c.id).filter(stage == s).label(s) for s in STAGES),
        )
        .select_from(v)
        .outerjoin(
            c,
            and_(
                c.management_type == "unowned",
                gf.ST_Covers(v.geom, gf.ST_PointOnSurface(c.geom)),
            ),
        )
        .outerjoin(g, g.compound_id == c.id)
        .where(_live(v), v.level == level)
        .group_by(v.unit_id, v.code, v.name)
        .order_by(v.code)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def campaign_list(
    conn: Connection, *, unit_ids: list[int] | None = None, stage: str | None = None
) -> list[dict]:
    """Unowned compounds with their stage (the campaign ledger), optionally filtered."""
    c, g = Compound, CompoundGovernance
    st = stage_expr()
    stmt = (
        select(
            c.id,
            c.source_key,
            c.name,
            c.address,
            c.households,
            *(getattr(g, f) for f in _GOV),
            st.label("stage"),
        )
        .outerjoin(g, g.compound_id == c.id)
        .where(c.management_type == "unowned")
        .order_by(c.id)
    )
    if unit_ids is not None:
        stmt = stmt.where(c.id.in_(compound_ids_in_units(unit_ids)))
    if stage:
        stmt = stmt.where(st == stage)
    rows = [dict(r) for r in conn.execute(stmt).mappings()]
    for r in rows:
        r["issues"] = r["issues"] or []
        r["works"] = r["works"] or []
        r["committee_formed"] = bool(r["committee_formed"])
    return rows


def workload(conn: Connection, months: int = 6) -> dict[str, Any]:
    """Per live grid: households, population (if recorded), compounds, unowned
    compounds, special grids overlapping it and incidents per month.

    Incidents are counted by the grid stored at intake, over the ``months`` calendar
    months (Beijing time) ending with the month of the newest incident.
    """
    grids = _live_grids(conn)
    comp = _compounds_per_grid(conn)
    special = _special_grids_per_grid(conn)
    month_keys, by_month = _incidents_per_grid_and_month(conn, months)
    rows = []
    for gr in grids:
        uid = gr["unit_id"]
        cm = comp.get(uid)
        counts = by_month.get(uid, {})
        series = {k: counts.get(k, 0) for k in month_keys}
        pop = gr["pop"]
        rows.append(
            {
                "unit_id": uid,
                "code": gr["code"],
                "name": gr["name"],
                "households": int(cm.households) if cm else 0,
                "population": int(float(pop)) if pop not in (None, "") else None,
                "compounds": int(cm.compounds) if cm else 0,
                "unowned": int(cm.unowned) if cm else 0,
                "special_grids": int(special.get(uid, 0)),
                "incidents_by_month": series,
                "incidents_per_month": (sum(series.values()) / months) if month_keys else 0.0,
            }
        )
    return {"months": month_keys, "grids": rows}


def _live_grids(conn: Connection) -> list[dict[str, Any]]:
    v = AdminUnitVersion
    return [
        dict(r)
        for r in conn.execute(
            select(
                v.unit_id,
                v.code,
                v.name,
                v.parent_unit_id,
                v.attrs["population"].astext.label("pop"),
            )
            .where(_live(v), v.level == "grid")
            .order_by(v.code)
        ).mappings()
    ]


def _compounds_per_grid(conn: Connection) -> dict[int, Any]:
    """Grid unit id → row of compounds, unowned and households inside it."""
    v, c = AdminUnitVersion, Compound
    return {
        r.unit_id: r
        for r in conn.execute(
            select(
                v.unit_id,
                func.count(c.id).label("compounds"),
                func.count(c.id).filter(c.management_type == "unowned").label("unowned"),
                func.coalesce(func.sum(c.households), 0).label("households"),
            )
            .join(c, gf.ST_Covers(v.geom, gf.ST_PointOnSurface(c.geom)))
            .where(_live(v), v.level == "grid")
            .group_by(v.unit_id)
        )
    }


def _special_grids_per_grid(conn: Connection) -> dict[int, int]:
    """Grid unit id → live special grids overlapping it (touching is not overlapping)."""
    v, s = AdminUnitVersion, SpecialGrid
    return dict(
        conn.execute(
            select(v.unit_id, func.count(s.id))
            .join(
                s,
                and_(
                    s.valid_to.is_(None),
                    gf.ST_Intersects(v.geom, s.geom),
                    ~gf.ST_Touches(v.geom, s.geom),
                ),
            )
            .where(_live(v), v.level == "grid")
            .group_by(v.unit_id)
        ).all()
    )


def _incidents_per_grid_and_month(
    conn: Connection, months: int
) -> tuple[list[str], dict[int, dict[str, int]]]:
    """The ``months`` month keys (YYYY-MM, Beijing time) ending with the newest
    incident's month, and grid unit id → month → incidents."""
    i = Incident
    local = func.timezone("Asia/Shanghai", i.reported_at)
    newest = conn.execute(select(func.max(local))).scalar()
    by_month: dict[int, dict[str, int]] = {}
    month_keys: list[str] = []
    if newest is None:
        return month_keys, by_month
    y, m = newest.year, newest.month
    for k in range(months):
        mm = (m - 1 - k) % 12 + 1
        yy = y + (m - 1 - k) // 12
        month_keys.append(f"{yy:04d}-{mm:02d}")
    month_keys.reverse()
    start = date(int(month_keys[0][:4]), int(month_keys[0][5:]), 1)
    month = func.to_char(func.date_trunc("month", local), "YYYY-MM")
    for uid, mon, n in conn.execute(
        select(i.grid_unit_id, month, func.count())
        .where(local >= start, i.grid_unit_id.is_not(None))
        .group_by(i.grid_unit_id, month)
    ).all():
        by_month.setdefault(uid, {})[mon] = n
    return month_keys, by_month
