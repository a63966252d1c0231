"""The topology fix helpers applied on request to a DRAFT set, as a use case.

The fixes themselves are pure (:mod:`geo.topology.draft_fixes`); this module picks their
inputs from a draft set and the live map, writes the new geometries of the draft's
units (:mod:`geo.store.draft_edits`, which refuses any set that is not a draft: the
live map is never fixed in place), audits, and reports the findings before and after.
Nothing is applied silently: each call names the fix and the codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from geo import topology
from geo.services import policy
from geo.services.boundaries import findings_for_set, map_after_publish
from geo.services.policy import Principal
from geo.store import audit, draft_edits
from geo.store import boundaries as bstore
from geo.store.db import Connection, Engine
from geo.topology import draft_fixes
from geo.topology.draft_fixes import FIXES, SHORT_NAMES, finding_counts

__all__ = ["FIXES", "SHORT_NAMES", "FixResult", "apply_fix", "fix_draft"]


@dataclass
class FixResult:
    boundary_set_id: int
    fix: str
    changed: list[str]
    before: dict[str, Any]
    after: dict[str, Any]
    findings: list[topology.Finding] = field(default_factory=list)
    unassigned_m2: float = 0.0  # gap area no child borders (assign_gap only)

    def to_json(self) -> dict[str, Any]:
        return {
            "boundary_set_id": self.boundary_set_id,
            "fix": self.fix,
            "changed": self.changed,
            "before": self.before,
            "after": self.after,
            "unassigned_m2": round(self.unassigned_m2, 3),
            "findings": topology.findings_to_json(self.findings),
        }


def fix_draft(
    engine: Engine,
    set_id: int,
    fix: str,
    codes: list[str],
    *,
    who: Principal,
    tolerance_m: float = 1.0,
    author: str | None,
) -> FixResult:
    """:func:`apply_fix` in its own transaction; a principal with units names and
    changes only units within them (by the draft's chains over the live map).
    ``author``: the client's "on behalf of" name."""
    with engine.begin() as conn:
        policy.require_scope(who)
        check: Callable[[list[str]], None] | None = None
        if not policy.district_wide(who):
            chains = policy.frame_chains(
                bstore.units_frame(conn), bstore.units_frame(conn, boundary_set_id=set_id)
            )
            policy.require_frame_codes(who, chains, codes)
            check = partial(policy.require_frame_codes, who, chains)
        return apply_fix(
            conn,
            set_id,
            fix,
            codes,
            tolerance_m=tolerance_m,
            author=policy.actor_of(who, author),
            authorize=check,
        )


def apply_fix(
    conn: Connection,
    set_id: int,
    fix: str,
    codes: list[str],
    *,
    tolerance_m: float = 1.0,
    author: audit.Who,
    authorize: Callable[[list[str]], None] | None = None,
) -> FixResult:
    """Apply one fix to the named units of a draft set, in the caller's transaction.

    ``snap_to_parent``: each code's border snapped onto its parent within
    ``tolerance_m``. ``assign_gap``: codes are parents; each gap piece goes to the
    child sharing the longest border with it. ``split_overlap``: two codes, their
    overlap split along its middle. Only geometry changes.

    Raises
    ------
    NotFound, Conflict
        No such set; the set is not a draft (409).
    InvalidInput
        Unknown fix, codes not in the draft, or a fix that would empty a unit.
    """
    fix, codes = draft_fixes.checked_request(fix, codes, tolerance_m)
    draft_edits.lock_draft(conn, set_id)
    before = findings_for_set(conn, set_id)
    draft = bstore.units_frame(conn, boundary_set_id=set_id)
    world = map_after_publish(conn, set_id)
    unassigned = 0.0
    if fix == "snap_to_parent":
        new = draft_fixes.snap(draft, world, codes, tolerance_m, set_id)
    elif fix == "assign_gap":
        new, unassigned = draft_fixes.fill_gaps(draft, world, codes, set_id)
    else:
        new = draft_fixes.split_overlap(draft, codes, set_id)
    changed = draft_fixes.changed_only(draft, new)
    if authorize is not None:  # before anything is written
        authorize(sorted(changed))
    draft_edits.update_draft_geometries(conn, set_id, changed)
    audit.record(
        conn,
        actor=author,
        action="boundary_set.fix",
        entity="boundary_set",
        ref=str(set_id),
        reason=f"{fix} {' '.join(codes)}",
        detail={"fix": fix, "codes": codes, "changed": sorted(changed), "tolerance_m": tolerance_m},
    )
    after = findings_for_set(conn, set_id)
    return FixResult(
        boundary_set_id=set_id,
        fix=fix,
        changed=sorted(changed),
        before=finding_counts(before),
        after=finding_counts(after),
        findings=after,
        unassigned_m2=unassigned,
    )
