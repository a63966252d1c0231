"""Use cases of aliases: other names (老地名, 俗称, a compound's former name) the forward
geocoder also answers to. One transaction each, audited by the store; the service's
indexes are refreshed at once after a change (other workers on their next refresh).

The whole district's geocoder answers to an alias, so changing them needs a principal
without unit limits (:func:`geo.services.policy.require_district_wide`)."""

from __future__ import annotations

from typing import Any

from geo.services import policy
from geo.services.policy import Principal
from geo.services.state import ServiceState
from geo.store import aliases as alias_store


def list_aliases(state: ServiceState, target: str | None = None) -> list[dict[str, Any]]:
    with state.engine.connect() as conn:
        return alias_store.list_aliases(conn, target)


def add_alias(
    state: ServiceState, target: str, alias: str, *, who: Principal, actor: str | None = None
) -> dict[str, Any]:
    """Add an alias (the same pair again changes nothing). ``matches`` says whether the
    target names something the geocoder knows, so a typo does not pass unnoticed."""
    policy.require_district_wide(who, "an alias", "别名")
    with state.engine.begin() as conn:
        row = alias_store.add_alias(conn, target, alias, actor=policy.actor_of(who, actor))
    state.refresh()
    unknown = set(state.gazetteer.unknown_aliases) if state.gazetteer else set()
    return {**row, "matches": row["target"] not in unknown}


def delete_alias(
    state: ServiceState, alias_id: int, *, who: Principal, actor: str | None = None
) -> None:
    policy.require_district_wide(who, "an alias", "别名")
    with state.engine.begin() as conn:
        alias_store.delete_alias(conn, alias_id, actor=policy.actor_of(who, actor))
    state.refresh()
