"""Use cases of the registers: compounds and grid workers (search, read, edits) and the
unowned-compound campaign with the workload per grid. One transaction each; every edit
is audited by the store in that transaction.

Who may see which people is decided here, from a :class:`PeopleViewer` (the API adapts
its caller to it; the CLI passes None: an operator sees everyone, phones whole).
"""

from __future__ import annotations

from typing import Any, Protocol

from geo.errors import InvalidInput, NotFound
from geo.lookup.geocode import mask_phone
from geo.registers import clean_text
from geo.services import policy
from geo.services.policy import Principal
from geo.store import boundaries as bstore
from geo.store import campaign
from geo.store.db import Connection, Engine
from geo.store.registers import compounds, units, workers

Record = dict[str, Any]


class PeopleViewer(Protocol):
    """Who asks for people: their jurisdiction, whether they see whole phone numbers,
    and how a request outside the jurisdiction is refused."""

    @property
    def unit_ids(self) -> frozenset[int]:
        """The units the viewer may see (empty: the whole district)."""
        ...

    def sees_contacts(self) -> bool:
        """Phone numbers whole (True) or masked (138****5678)."""
        ...

    def require_unit(self, chain_unit_ids: list[int]) -> None:
        """Refuse (as not found) a person serving none of the viewer's units."""
        ...

    def require_unit_code(self, chain_unit_ids: list[int], code: str) -> None:
        """Refuse (as forbidden) a unit asked for outside the viewer's units."""
        ...


def unit_ids_of(conn: Connection, unit: str | None) -> list[int] | None:
    """The id of the live unit with code ``unit``; None when no unit is asked for."""
    if not unit:
        return None
    return list(units.unit_ids_for_codes(conn, [unit]).values())


def people_scope(
    conn: Connection, viewer: PeopleViewer | None, unit: str | None
) -> list[int] | None:
    """Units whose people the viewer may list: the request's unit, within the viewer's
    jurisdiction (a supervisor of street A never lists street B's workers)."""
    asked = unit_ids_of(conn, unit)
    if viewer is None or not viewer.unit_ids:
        return asked
    if asked is None:
        return sorted(viewer.unit_ids)
    assert unit is not None  # asked is set only for a unit
    viewer.require_unit_code(bstore.chain_unit_ids(conn, unit), unit)
    return asked


def _require_worker_visible(conn: Connection, viewer: PeopleViewer | None, person: Record) -> None:
    if viewer is None or not viewer.unit_ids:
        return
    chains = [bstore.chain_unit_ids(conn, u["code"]) for u in person["units"]]
    viewer.require_unit([uid for chain in chains for uid in chain])


def _as_seen(person: Record, viewer: PeopleViewer | None) -> Record:
    if viewer is None or viewer.sees_contacts():
        return person
    return {**person, "phone": mask_phone(person["phone"])}


# --- compounds ---------------------------------------------------------------------


def list_compounds(
    engine: Engine,
    *,
    q: str | None = None,
    unit: str | None = None,
    management_type: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Record]:
    """Compounds by name/address text, inside a unit, of one management type."""
    with engine.connect() as conn:
        return compounds.list_compounds(
            conn,
            q=q,
            unit_ids=unit_ids_of(conn, unit),
            management_type=management_type,
            limit=limit,
            offset=offset,
        )


def get_compound(engine: Engine, compound_id: int) -> Record:
    with engine.connect() as conn:
        return compounds.get_compound(conn, compound_id)


def create_compound(
    engine: Engine,
    fields: Record,
    lon: float,
    lat: float,
    *,
    who: Principal,
    actor: str | None,
    key: str | None,
) -> Record:
    """A compound placed by hand at WGS-84 ``lon, lat`` (inside the units ``who``
    covers); its grid follows. ``actor``: the client's "on behalf of" name."""
    policy.require_scope(who)
    with engine.begin() as conn:
        cid = compounds.create_compound(
            conn, fields, lon, lat, actor=policy.actor_of(who, actor), key=key
        )
        policy.require_compounds(conn, who, [cid])  # refused: rolled back
        return compounds.get_compound(conn, cid)


def update_compound(
    engine: Engine,
    compound_id: int,
    changes: Record,
    *,
    who: Principal,
    actor: str | None,
    lon: float | None = None,
    lat: float | None = None,
    reason: str | None = None,
) -> Record:
    """Change fields and/or move the compound to WGS-84 ``lon, lat`` (its grid follows);
    where it was and where it goes must both lie inside the units ``who`` covers."""
    policy.require_scope(who)
    if not changes and lon is None:
        raise InvalidInput("nothing to change", "没有需要修改的内容")
    with engine.begin() as conn:
        compounds.get_compound(conn, compound_id)  # NotFound first
        policy.require_compounds(conn, who, [compound_id])
        compounds.update_compound(
            conn,
            compound_id,
            changes,
            actor=policy.actor_of(who, actor),
            lon=lon,
            lat=lat,
            reason=reason,
        )
        policy.require_compounds(conn, who, [compound_id])
        return compounds.get_compound(conn, compound_id)


def delete_compound(
    engine: Engine, compound_id: int, *, who: Principal, actor: str | None, reason: str | None
) -> None:
    policy.require_scope(who)
    with engine.begin() as conn:
        compounds.get_compound(conn, compound_id)  # NotFound first
        policy.require_compounds(conn, who, [compound_id])
        compounds.delete_compound(
            conn, compound_id, actor=policy.actor_of(who, actor), reason=reason
        )


def recompute_compound_grids(engine: Engine, *, who: Principal) -> int:
    """Recompute every compound's grid from its location; returns the rows changed.
    Derived data only, but district-wide: the edit scope without unit limits."""
    policy.require_district_wide(who, "recomputing every compound's grid", "重算全部楼院网格")
    with engine.begin() as conn:
        return compounds.set_compound_grids(conn, None)


# --- workers -----------------------------------------------------------------------


def list_workers(
    engine: Engine,
    viewer: PeopleViewer | None,
    *,
    q: str | None = None,
    unit: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Record]:
    """People with the units they serve, within the viewer's jurisdiction."""
    with engine.connect() as conn:
        people = workers.list_workers(
            conn, q=q, unit_ids=people_scope(conn, viewer, unit), limit=limit, offset=offset
        )
    return [_as_seen(p, viewer) for p in people]


def get_worker(engine: Engine, viewer: PeopleViewer | None, code: str) -> Record:
    with engine.connect() as conn:
        person = workers.get_worker(conn, code)
        _require_worker_visible(conn, viewer, person)
    return _as_seen(person, viewer)


def put_worker(
    engine: Engine,
    viewer: PeopleViewer | None,
    code: str,
    *,
    name: str,
    role: str,
    phone: str | None,
    unit_codes: list[str],
    who: Principal,
    actor: str | None,
    reason: str | None = None,
) -> Record:
    """Create or replace a person and the units they serve (assignments kept as history).
    ``who`` must cover every unit the person serves, before and after."""
    policy.require_scope(who)
    with engine.begin() as conn:
        _require_worker_writable(conn, who, code, unit_codes)
        workers.put_worker(
            conn,
            code,
            name=name,
            role=role,
            phone=clean_text(phone).replace(" ", "") or None,
            unit_codes=unit_codes,
            actor=policy.actor_of(who, actor),
            reason=reason,
        )
        person = workers.get_worker(conn, code)
    return _as_seen(person, viewer)


def delete_worker(
    engine: Engine, code: str, *, who: Principal, actor: str | None, reason: str | None
) -> None:
    policy.require_scope(who)
    with engine.begin() as conn:
        person = workers.get_worker(conn, code)  # NotFound first
        policy.require_worker(conn, who, [u["code"] for u in person["units"]])
        workers.delete_worker(conn, code, actor=policy.actor_of(who, actor), reason=reason)


def _require_worker_writable(
    conn: Connection, who: Principal, code: str, unit_codes: list[str]
) -> None:
    if policy.district_wide(who):
        return
    try:
        before = [u["code"] for u in workers.get_worker(conn, code)["units"]]
    except NotFound:
        before = []
    else:
        policy.require_worker(conn, who, before)
    policy.require_worker(conn, who, [*before, *unit_codes])


# --- the unowned-compound campaign and the workload --------------------------------


def campaign_list(
    engine: Engine, *, unit: str | None = None, stage: str | None = None
) -> list[Record]:
    """The unowned compounds with their campaign stage, optionally filtered."""
    with engine.connect() as conn:
        return campaign.campaign_list(conn, unit_ids=unit_ids_of(conn, unit), stage=stage)


def campaign_progress(engine: Engine, level: str = "community") -> list[Record]:
    """Per street, community or grid: listed, not started, in progress, struck off."""
    with engine.connect() as conn:
        return campaign.progress(conn, level)


def get_governance(engine: Engine, compound_id: int) -> Record:
    with engine.connect() as conn:
        return campaign.get_governance(conn, compound_id)


def put_governance(
    engine: Engine,
    compound_id: int,
    record: Record,
    *,
    who: Principal,
    actor: str | None,
    reason: str | None,
) -> Record:
    """Replace the campaign record of an unowned compound (issues, mode, committee,
    works, 销号) inside the units ``who`` covers; audited with before/after."""
    policy.require_scope(who)
    with engine.begin() as conn:
        compounds.get_compound(conn, compound_id)  # NotFound first
        policy.require_compounds(conn, who, [compound_id])
        return campaign.put_governance(
            conn, compound_id, record, actor=policy.actor_of(who, actor), reason=reason
        )


def workload(engine: Engine, months: int = 6) -> Record:
    """Per grid: households, population, compounds, unowned, special grids, incidents
    per month (``months`` calendar months ending with the newest incident's)."""
    with engine.connect() as conn:
        return campaign.workload(conn, months)
