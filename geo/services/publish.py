"""Publishing a draft boundary set (draft → live), as a use case: only without error
findings, or with an explicit override that is recorded on the set. One transaction:
the new versions, the retired ones and the compounds' grids land together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from geo import topology
from geo.errors import InvalidInput
from geo.services.boundaries import findings_for_set
from geo.store import boundaries as bstore
from geo.store import registers


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
    author: str,
    reason: str | None = None,
    override_reason: str | None = None,
) -> Published:
    """Make a draft live (see :func:`publish`), in one transaction."""
    with engine.begin() as conn:
        result, findings = publish(
            conn, set_id, author=author, reason=reason, override_reason=override_reason
        )
        info = bstore.get_set(conn, set_id)
    return Published(result, info, findings)


def publish(
    conn: Connection,
    set_id: int,
    *,
    author: str,
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
    if errors:
        note = (
            f"{reason or ''} [override by {author}: {override_reason}; "
            f"{len(errors)} error finding(s) published]"
        ).strip()
    result = bstore.publish_set(conn, set_id, author=author, reason=note)
    # A compound's grid follows from its location: recompute in the same transaction.
    registers.set_compound_grids(conn, None)
    return result, findings
