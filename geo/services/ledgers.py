"""Use cases of the ledgers (台账): import a ledger file, export a register in the import
layout, place by hand the rows an import could not locate. One transaction each.

An import compares every parsed row with what the register holds under the row's
stable key and says per row ``new``, ``changed`` or ``unchanged``; it writes only
with ``commit=True`` and only when no row is fatal, so a ledger lands whole or not
at all, and importing the same ledger again changes nothing. Rows without
coordinates keep a location the register already has (placed by address earlier, or
by hand), so re-importing never undoes a manual placement.

The ``import_*`` and ``export_*`` steps run in a connection the caller holds (the use
case's transaction, or a test's rolled-back one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from geo.errors import InvalidInput
from geo.gazetteer import Candidate, Gazetteer
from geo.registers import (
    MIN_SCORE,
    CompoundRecord,
    ImportOutcome,
    LedgerTable,
    RowError,
    RowReport,
    locate,
    parse_compounds,
    parse_special_grids,
    parse_workers,
    read_table,
)
from geo.registers.compounds import (
    governance_to_store,
    keep_stored_locations,
    plan_writes,
    status_to_store,
)
from geo.registers.records import refuse_if_fatal
from geo.services import policy
from geo.services.ledger_export import (
    LedgerFile,
    export_compounds,
    export_ledger,
    export_special_grids,
    export_workers,
)
from geo.services.policy import Principal
from geo.store import audit, campaign
from geo.store import boundaries as bstore
from geo.store import ledgers as unplaced_store
from geo.store.db import Connection, Engine
from geo.store.registers import compounds, special_grids, workers

__all__ = [
    "LedgerFile",
    "export_compounds",
    "export_ledger",
    "export_special_grids",
    "export_workers",
    "import_compounds",
    "import_ledger",
    "import_special_grids",
    "import_workers",
    "list_unplaced",
    "offline_gazetteer",
    "place_unplaced",
]

Search = Callable[[str], list[Candidate]]


def import_ledger(
    engine: Engine,
    data: bytes,
    filename: str,
    kind: str,
    *,
    commit: bool,
    who: Principal,
    actor: str | None = None,
    gazetteer: Gazetteer | None = None,
    column_map: dict[str, str] | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    management_type: str | None = None,
    min_score: float = MIN_SCORE,
) -> ImportOutcome:
    """Parse and import one ledger of ``kind`` (compounds, workers, special_grids) in one
    transaction: a dry run unless ``commit``. ``gazetteer`` places compounds that have
    an address but no coordinates (None: they stay unlocatable). Writing a ledger is a
    district-wide write (``who`` without unit limits); ``actor`` is the client's "on
    behalf of" name."""
    policy.require_scope(who)
    if commit:
        policy.require_district_wide(who, "a ledger import", "台账导入")
    by = policy.actor_of(who, actor)
    try:
        table = read_table(data, filename, kind, column_map=column_map, encoding=encoding)
    except RowError as exc:
        raise InvalidInput(str(exc), exc.message_zh) from None
    with engine.begin() as conn:
        if kind == "compounds":
            gz = gazetteer
            return import_compounds(
                conn,
                table,
                search=(lambda q: gz.search(q, 5)) if gz is not None else None,
                actor=by,
                ledger_name=filename,
                commit=commit,
                default_crs=crs,
                default_management=management_type,
                min_score=min_score,
            )
        if kind == "special_grids":
            return import_special_grids(conn, table, actor=by, ledger_name=filename, commit=commit)
        return import_workers(conn, table, actor=by, ledger_name=filename, commit=commit)


def offline_gazetteer(engine: Engine) -> Gazetteer:
    """A forward geocoder over the live map and registers, for a command that runs
    without the service (aliases left out, as the CLI always did)."""
    with engine.connect() as conn:
        return Gazetteer(
            bstore.units_frame(conn),
            special_grids.special_grids_frame(conn),
            compounds.compounds_frame(conn),
        )


# --- compounds ---------------------------------------------------------------------


def import_compounds(
    conn: Connection,
    table: LedgerTable,
    *,
    search: Search | None,
    actor: audit.Who,
    ledger_name: str,
    commit: bool = False,
    default_crs: str | None = None,
    default_management: str | None = None,
    min_score: float = MIN_SCORE,
) -> ImportOutcome:
    """Import a compounds ledger (dry run unless ``commit``).

    Parameters
    ----------
    search
        The forward geocoder (text → candidates, best first) for rows with only an
        address; None leaves such rows unlocatable.
    commit
        Write the changes; refused (``InvalidInput`` carrying the report) when any row
        is fatal, and then nothing is written.
    """
    district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
    records, reports = parse_compounds(
        table,
        default_crs=default_crs,
        default_management=default_management,
        district=None if district.is_empty else district,
    )
    by_row = {r.row: r for r in reports}
    existing = compounds.stored_by_key(conn, [r.key for r in records])
    to_locate = keep_stored_locations(records, existing, by_row)
    if to_locate:
        _locate(to_locate, search, by_row, min_score)
    unplaced_keys = {rec.key for rec in to_locate if rec.lon is None}
    stored_unplaced = unplaced_store.records_by_key(conn, [r.key for r in records])
    plan = plan_writes(records, existing, unplaced_keys, stored_unplaced, by_row)
    outcome = ImportOutcome("compounds", reports, False, table.columns, table.ignored)
    refuse_if_fatal(reports, commit)
    if not commit:
        return outcome
    written = []
    for what, rec, old in plan:
        if by_row[rec.row].action == "unchanged":
            continue
        if what == "unplaced":
            unplaced_store.put(conn, rec, ledger_name)
        else:
            written.append(_write_compound(conn, rec, old, actor))
    placed = [rec.key for what, rec, _ in plan if what == "compound"]
    if placed:
        unplaced_store.remove_keys(conn, placed)
    compounds.set_compound_grids(conn, written)
    outcome.committed = True
    _audit_import(conn, outcome, actor=actor, entity="compound", ledger=ledger_name)
    return outcome


def _locate(
    to_locate: list[CompoundRecord],
    search: Search | None,
    by_row: dict[int, RowReport],
    min_score: float,
) -> None:
    if search is None:
        for rec in to_locate:
            by_row[rec.row].status = "unlocatable"
            by_row[rec.row].reason = "no coordinates and no geocoder to place the address"
            by_row[rec.row].reason_zh = "无坐标，且无法按地址定位"
    else:
        locate(to_locate, search, by_row, min_score=min_score)


def _write_compound(
    conn: Connection, rec: CompoundRecord, old: dict[str, Any] | None, actor: audit.Who
) -> int:
    """Write one record over the stored compound ``old`` (None: a new one), with its
    campaign record when the ledger says something new about it."""
    cid = compounds.write_record(
        conn, rec, status_to_store(rec, old), None if old is None else old["id"]
    )
    gov = governance_to_store(rec, old)
    if gov is not None:
        campaign.put_governance_row(conn, cid, gov, actor)
    return cid


def _audit_import(
    conn: Connection, outcome: ImportOutcome, *, actor: audit.Who, entity: str, ledger: str
) -> None:
    """One audit entry for an import that changed something: counts and changed keys."""
    if outcome.changed:
        outcome.audit_id = audit.record(
            conn,
            actor=actor,
            action="ledger.import",
            entity=entity,
            ref=ledger,
            detail={
                "counts": outcome.counts,
                "changed": [r.key for r in outcome.rows if r.action in ("new", "changed")][:500],
            },
        )


def list_unplaced(engine: Engine) -> list[dict[str, Any]]:
    """Ledger rows that could not be located, waiting to be placed by hand."""
    with engine.connect() as conn:
        return unplaced_store.unplaced(conn)


def place_unplaced(
    engine: Engine,
    unplaced_id: int,
    lon: float,
    lat: float,
    *,
    who: Principal,
    actor: str | None,
) -> dict[str, Any]:
    """Place an unlocatable ledger row by hand at WGS-84 ``lon, lat`` (inside the units
    ``who`` covers): it becomes a compound (returned as the register reads it); audited."""
    policy.require_scope(who)
    by = policy.actor_of(who, actor)
    with engine.begin() as conn:
        compounds.check_inside(conn, lon, lat)
        rec = unplaced_store.record_of(conn, unplaced_id)
        rec.lon, rec.lat, rec.located_by, rec.crs_in = lon, lat, "manual", None
        rec.match_score = rec.matched = None
        cid = _write_compound(conn, rec, None, by)
        unplaced_store.remove(conn, unplaced_id)
        compounds.set_compound_grids(conn, [cid])
        policy.require_compounds(conn, who, [cid])  # refused: rolled back
        audit.record(
            conn,
            actor=by,
            action="compound.place",
            entity="compound",
            ref=rec.key,
            detail={"lon": lon, "lat": lat, "crs": "wgs84", "compound_id": cid},
        )
        return compounds.get_compound(conn, cid)


# --- workers -----------------------------------------------------------------------


def import_workers(
    conn: Connection,
    table: LedgerTable,
    *,
    actor: audit.Who,
    ledger_name: str,
    commit: bool = False,
) -> ImportOutcome:
    """Import a workers ledger: people by their code, and their open assignments.

    A person's open assignments of their role become exactly the units the ledger
    lists: missing ones are opened, others closed (history is kept).
    """
    units = bstore.units_frame(conn)
    records, reports = parse_workers(table, units)
    by_row = {r.row: r for r in reports}
    old = workers.stored_by_code(conn, [r.key for r in records])
    open_units: dict[tuple[int, str], set[int]] = {}
    if old:
        open_units = workers.open_units(conn, [o["id"] for o in old.values()])
    for rec in records:
        o = old.get(rec.key)
        if o is None:
            by_row[rec.row].action = "new"
            continue
        same = (o["name"], o["role"], o["phone"]) == (rec.name, rec.role, rec.phone)
        same = same and open_units.get((o["id"], rec.role), set()) == set(rec.unit_ids)
        by_row[rec.row].action = "unchanged" if same else "changed"
    outcome = ImportOutcome("workers", reports, False, table.columns, table.ignored)
    refuse_if_fatal(reports, commit)
    if not commit:
        return outcome
    for rec in records:
        if by_row[rec.row].action == "unchanged":
            continue
        workers.set_worker(conn, rec.key, rec.name, rec.role, rec.phone, rec.unit_ids)
    outcome.committed = True
    _audit_import(conn, outcome, actor=actor, entity="worker", ledger=ledger_name)
    return outcome


# --- special grids -----------------------------------------------------------------


def import_special_grids(
    conn: Connection,
    table: LedgerTable,
    *,
    actor: audit.Who,
    ledger_name: str,
    commit: bool = False,
) -> ImportOutcome:
    """Responsible units and contacts of the live special grids, from a ledger."""
    fields = special_grids.CONTACT_FIELDS
    live = special_grids.live_contacts(conn)
    frame = {"code": list(live), "name": [v["name"] for v in live.values()]}
    records, reports = parse_special_grids(table, frame)
    by_row = {r.row: r for r in reports}
    for rec in records:
        old = live[rec.key]
        same = all(getattr(rec, f) == old[f] for f in fields)
        by_row[rec.row].action = "unchanged" if same else "changed"
    outcome = ImportOutcome("special_grids", reports, False, table.columns, table.ignored)
    refuse_if_fatal(reports, commit)
    if not commit:
        return outcome
    for rec in records:
        if by_row[rec.row].action == "unchanged":
            continue
        values = {f: getattr(rec, f) for f in fields}
        special_grids.set_contacts(conn, live[rec.key]["id"], values)
    outcome.committed = True
    if outcome.changed:
        outcome.audit_id = audit.record(
            conn,
            actor=actor,
            action="ledger.import",
            entity="special_grid",
            ref=ledger_name,
            detail={
                "counts": outcome.counts,
                "changed": {
                    r.key: {f: {"from": live[r.key][f], "to": getattr(r, f)} for f in fields}
                    for r in records
                    if by_row[r.row].action == "changed"
                },
            },
        )
    return outcome
