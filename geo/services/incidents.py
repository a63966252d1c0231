"""Reading and moving on cases: one incident's record or a list of them, kept to the
caller's jurisdiction, and lifecycle steps (assign, escalate, close, reopen) recorded
with who did what and why. One transaction per use case; the SQL is in
:mod:`geo.store.incidents`, the rules in :mod:`geo.incidents.lifecycle`.

Outside the caller's jurisdiction a case does not exist: a supervisor of one street
must not learn even that another street's incident exists (404, not 403).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from geo.errors import NotFound
from geo.services import policy
from geo.services.state import ServiceState
from geo.store import incidents as store
from geo.store.db import Connection
from geo.vocab import LEVEL_ORDER

Record = dict[str, Any]
INCIDENT = ("incident", "事件")


class Jurisdiction(Protocol):
    """Who asks, as far as cases go (``api.auth.Caller`` is one)."""

    @property
    def unit_ids(self) -> Collection[int]:
        """The units the caller answers for; empty: the whole district."""

    def sees_unit(self, chain_unit_ids: Iterable[int | None]) -> bool:
        """The jurisdiction covers something in this chain of unit ids."""


class CaseWorker(Jurisdiction, policy.Principal, Protocol):
    """Who changes a case: a jurisdiction and an authenticated identity."""

    @property
    def unit_ids(self) -> frozenset[int]:
        """The units the caller answers for; empty: the whole district."""


def record(
    conn: Connection,
    incident_id: int,
    limits: dict[str, float] | None,
    caller: Jurisdiction | None = None,
    what: tuple[str, str] = INCIDENT,
) -> Record:
    """One incident's record; NotFound if it does not exist, or (given ``caller``) lies
    outside the caller's jurisdiction. ``what``: how messages name it (en, zh)."""
    detail = store.incident_detail(conn, incident_id, limits)
    if detail is None:
        raise NotFound(f"{what[0]} {incident_id} does not exist", f"{what[1]} {incident_id} 不存在")
    if caller is not None:
        chain = [(detail[k] or {}).get("id") for k in LEVEL_ORDER]
        if not caller.sees_unit(chain):
            raise NotFound(
                f"{what[0]} {incident_id} not found in your jurisdiction",
                f"在您的管辖范围内未找到{what[1]} {incident_id}",
            )
    return detail


def get_incident(
    state: ServiceState,
    incident_id: int,
    caller: Jurisdiction,
    what: tuple[str, str] = INCIDENT,
) -> Record:
    """One incident as the caller may see it (see :func:`record`)."""
    with state.engine.connect() as conn:
        return record(conn, incident_id, state.case_rules.time_limits_h, caller, what)


def change_incident(
    state: ServiceState,
    incident_id: int,
    caller: CaseWorker,
    *,
    action: str,
    actor: str,
    note: str | None = None,
    assignee: str | None = None,
) -> Record:
    """Apply one lifecycle action (under a row lock) and answer the record after it."""
    limits = state.case_rules.time_limits_h
    who = policy.actor_of(caller, actor)
    # The history names the authenticated identity; what the client sent as the actor
    # is kept beside it as "on behalf of" (the open demo has no identity to name).
    shown = (
        str(who)
        if who.on_behalf_of is None or caller.anonymous
        else (f"{who.name}（代 {who.on_behalf_of} / on behalf of {who.on_behalf_of}）")
    )
    with state.engine.begin() as conn:
        record(conn, incident_id, limits, caller)  # 404 outside the jurisdiction
        store.transition_incident(
            conn, incident_id, action=action, actor=shown, note=note, assignee=assignee
        )
        return record(conn, incident_id, limits, caller)


def list_incidents(
    state: ServiceState,
    caller: Jurisdiction,
    *,
    ids: Sequence[int] | None = None,
    categories: Sequence[str] | None = None,
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Record]:
    """Up to 1,000 records, newest report first, of the incidents inside the caller's
    jurisdiction that match every filter given (see
    :func:`geo.store.incidents.find_incident_ids`)."""
    with state.engine.connect() as conn:
        found = store.find_incident_ids(
            conn,
            ids=ids,
            categories=categories,
            status=status,
            start=start,
            end=end,
            unit_ids=caller.unit_ids,
        )
        details = store.incident_details(conn, found, state.case_rules.time_limits_h)
    return [details[i] for i in found if i in details]
