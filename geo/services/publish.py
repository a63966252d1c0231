"""Publishing a draft boundary set (draft → live), as a use case: only without error
findings, or with an explicit override that is recorded on the set. One transaction:
the new versions, the retired ones, the compounds' grids and the audit entry land
together. A principal with units (a planner of one community) publishes only a set
whose changes (changed, new and removed units, before and after) lie within them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo import topology
from geo.errors import InvalidInput
from geo.services import policy
from geo.services.boundaries import findings_for_set
from geo.services.policy import Principal
from geo.store import audit, registers
from geo.store import boundaries as bstore
from geo.store.db import Connection, Engine
from geo.units.diff import diff_units


@dataclass(frozen=True)
class Published:
    """A set published: what changed, its row afterwards, the findings it had."""

    result: bstore.PublishResult
    boundary_set: dict[str, Any]
    findings: list[topology.Finding]


def publish_set(
    engine: Engine,
    set_id: int,
    *,
    who: Principal,
    author: str | None,
    reason: str | None = None,
    override_reason: str | None = None,
) -> Published:
    """Make a draft live (see :func:`publish`), in one transaction, if ``who`` may
    change every unit it changes. ``author``: the client's "on behalf of" name."""
    with engine.begin() as conn:
        require_within(conn, who, set_id)
        result, findings = publish(
            conn,
            set_id,
            author=policy.actor_of(who, author),
            reason=reason,
            override_reason=override_reason,
        )
        info = bstore.get_set(conn, set_id)
    return Published(result, info, findings)


def publish(
    conn: Connection,
    set_id: int,
    *,
    author: audit.Who,
    reason: str | None = None,
    override_reason: str | None = None,
) -> tuple[bstore.PublishResult, list[topology.Finding]]:
    """Publish a draft unless it has error findings (or the override is given), in the
    caller's transaction. The override is recorded with its author and reason on the set.
    """
    if bstore.set_status(conn, set_id) == "draft":
        findings = findings_for_set(conn, set_id)
    else:
        findings = []  # publish_set reports NotFound / Conflict with a clear message
    errors = [f for f in findings if f.severity == "error"]
    if errors and not override_reason:
        raise InvalidInput(
            f"boundary set {set_id} has {len(errors)} error finding(s); fix them, or publish "
            "with an override reason (--override-reason / override_reason)",
            f"边界集 {set_id} 有 {len(errors)} 个错误级问题；请先修正，或填写强制发布理由",
            findings=topology.findings_to_json(errors[:200]),
        )
    note = reason
    shown = audit.shown(author)
    if errors:
        note = (
            f"{reason or ''} [override by {shown}: {override_reason}; "
            f"{len(errors)} error finding(s) published]"
        ).strip()
    result = bstore.publish_set(conn, set_id, author=shown, reason=note)
    # A compound's grid follows from its location: recompute in the same transaction.
    registers.set_compound_grids(conn, None)
    audit.record(
        conn,
        actor=author,
        action="boundary_set.publish",
        entity="boundary_set",
        ref=str(set_id),
        reason=note,
        detail={
            "counts": result.counts,
            "override_reason": override_reason if errors else None,
            "error_findings": len(errors),
        },
    )
    return result, findings


def require_within(conn: Connection, who: Principal, set_id: int) -> None:
    """Refuse (403) a principal with units a draft that changes units outside them:
    every changed, new or removed unit, by its chain before and after publishing."""
    policy.require_scope(who)
    if policy.district_wide(who) or bstore.set_status(conn, set_id) != "draft":
        return  # publish reports a missing or non-draft set itself
    draft = bstore.units_frame(conn, boundary_set_id=set_id)
    live = bstore.units_frame(conn)
    levels = set(draft["level"])
    diff = diff_units(live[live["level"].isin(levels)], draft)
    touched = diff.loc[diff["status"] != "unchanged", ["code", "status"]]
    before, after = policy.frame_chains(live), policy.frame_chains(live, draft)
    for code, status in touched.itertuples(index=False):
        if status != "new":
            policy.require_frame_codes(who, before, [code])
        if status != "removed":
            policy.require_frame_codes(who, after, [code])
