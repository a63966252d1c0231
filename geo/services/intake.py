"""Incident intake: the one use case behind every feed (:mod:`geo.services.feeds`).

A feed turns what arrives into rows; from there every incident goes the same way:

1. parse and validate (:func:`geo.incidents.records.parse_incident`);
2. place it: grid chain, special grids, who is responsible
   (:func:`geo.incidents.placement.place_incidents`);
3. keep to the caller's jurisdiction: a key limited to units reports only there, as
   it could not read the case back anywhere else;
4. store idempotently in ONE transaction: (source, external_id) is stored once
   (``INSERT … ON CONFLICT DO NOTHING``, :func:`geo.store.incidents.store_incidents`),
   the same case twice in one request counts as a duplicate;
5. answer per row: stored, duplicate, or rejected with its line and reason.

Streamed bodies (CSV, NDJSON) are stored in chunks inside that one transaction,
committed before the answer is sent: a case is never acknowledged unless it is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from geo.errors import Forbidden, InvalidInput
from geo.incidents.placement import place_incidents
from geo.incidents.records import IncidentIn, RowError, parse_incident
from geo.lookup.locator import GridLocator
from geo.services.feeds import Feed, Item, Received, Row
from geo.services.incidents import Jurisdiction, Record, record
from geo.services.state import ServiceState
from geo.store import incidents as store

MAX_ROWS = 100_000
CHUNK = 5_000
INCIDENT_CHAIN = ("grid_unit_id", "community_unit_id", "street_unit_id", "district_unit_id")
OUTSIDE_REPORT = (
    "the point lies outside the units this key may report in; check the coordinates "
    "and crs, or report it with a key for that area",
    "该位置不在此密钥可上报的范围内；请检查坐标及 crs，或用该区域的密钥上报",
)
Key = tuple[str, str]


def reports_within(caller: Jurisdiction, row: Mapping[str, Any]) -> bool:
    """A placed row lies in the caller's jurisdiction (a grid worker: the grids
    assigned today; a key without units: anywhere)."""
    return caller.sees_unit([row.get(k) for k in INCIDENT_CHAIN])


@dataclass(frozen=True)
class RowProblem:
    """Why one row was not stored; ``line``: its line, or 1-based item number."""

    line: int
    field: str | None
    message: str
    message_zh: str


@dataclass
class IntakeReport:
    """One request's outcome, filled chunk by chunk."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    outside: int = 0  # rows refused as outside the caller's jurisdiction
    new_ids: dict[Key, int] = field(default_factory=dict)
    answer: Record | None = None  # one case: its record, read before the commit
    created: bool = False  # one case: stored by this request


def _parsed(
    state: ServiceState, items: list[Item], report: IntakeReport
) -> tuple[list[IncidentIn], list[int]]:
    parsed, lines = [], []
    for line, row in items:
        try:
            parsed.append(parse_incident(row, state.case_rules.categories))
            lines.append(line)
        except RowError as exc:
            report.errors.append(RowProblem(line, exc.field, exc.message, exc.message_zh))
    return parsed, lines


def _placed_rows(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    items: list[Item],
    caller: Jurisdiction,
    report: IntakeReport,
) -> list[Row]:
    """Steps 1–3 for a chunk: the rows to store; every other row a problem in ``report``."""
    parsed, lines = _parsed(state, items, report)
    rows, positions, unplaced = place_incidents(
        parsed,
        locator,
        state.special,
        point_res=state.settings.h3_point_res,
        rules=state.case_rules.precedence,
    )
    for u in unplaced:
        report.errors.append(
            RowProblem(lines[u.index], feed.unplaced_field, u.message, u.message_zh)
        )
    # The same case twice in one request is stored once.
    seen: set[Key] = set()
    unique = []
    for r, pos in zip(rows, positions, strict=True):
        if not reports_within(caller, r):
            report.outside += 1
            report.errors.append(RowProblem(lines[pos], "lon", *OUTSIDE_REPORT))
            continue
        key = (r["source"], r["external_id"])
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        unique.append(r)
    return unique


def _store_chunk(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    conn: Connection,
    items: list[Item],
    caller: Jurisdiction,
    report: IntakeReport,
) -> None:
    unique = _placed_rows(state, locator, feed, items, caller, report)
    new = store.store_incidents(conn, unique)
    report.new_ids.update(new)
    report.stored += len(new)
    report.duplicates += len(unique) - len(new)


BeforeCommit = Callable[[Connection, IntakeReport], Record | None]


async def _take_in_stream(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    items: AsyncIterator[Item],
    caller: Jurisdiction,
    before_commit: BeforeCommit | None = None,
) -> IntakeReport:
    """Store all items in one transaction; ``before_commit(conn, report)`` may read the
    answer inside it, so nothing is left to fail between the commit and the reply."""
    report = IntakeReport()
    # Off the event loop: with the database unreachable, connecting may wait for its
    # timeout, and reverse geocoding on the same loop must keep answering meanwhile.
    conn = await asyncio.to_thread(state.engine.connect)
    trans = conn.begin()
    try:
        chunk: list[Item] = []
        async for item in items:
            report.received += 1
            if report.received > MAX_ROWS:
                raise InvalidInput(
                    f"more than {MAX_ROWS} incidents in one request; split it",
                    f"单次请求超过 {MAX_ROWS} 条事件，请分批提交",
                )
            chunk.append(item)
            if len(chunk) >= CHUNK:
                await asyncio.to_thread(
                    _store_chunk, state, locator, feed, conn, chunk, caller, report
                )
                chunk = []
        if chunk:
            await asyncio.to_thread(_store_chunk, state, locator, feed, conn, chunk, caller, report)
        if before_commit is not None:
            report.answer = await asyncio.to_thread(before_commit, conn, report)
        await asyncio.to_thread(trans.commit)
    except BaseException:
        await asyncio.to_thread(trans.rollback)
        raise
    finally:
        await asyncio.to_thread(conn.close)
    return report


def _refuse(report: IntakeReport) -> None:
    """One case and it was not stored: its problem as the error to answer."""
    if report.errors:
        e = report.errors[0]
        if report.outside:
            raise Forbidden(e.message, e.message_zh)
        raise InvalidInput(e.message, e.message_zh, field=e.field)


async def _one(row: Row) -> AsyncIterator[Item]:
    yield 1, row


async def take_in(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    received: Received,
    caller: Jurisdiction,
) -> IntakeReport:
    """Take in what a feed read from one request.

    Many rows: the report counts received, stored, duplicate and rejected rows (each
    problem with its line). One case: InvalidInput (or Forbidden outside the caller's
    jurisdiction) unless it is stored or was already; ``answer`` is then its record and
    ``created`` says whether this request stored it.
    """
    if received.single is None:
        assert received.items is not None
        return await _take_in_stream(state, locator, feed, received.items, caller)
    doc = received.single
    key = (str(doc.get("source")).strip(), str(doc.get("external_id")).strip())
    limits = state.case_rules.time_limits_h

    def answer(conn: Connection, report: IntakeReport) -> Record | None:
        if report.errors:
            return None
        return record(conn, store.incident_ids(conn, [key])[key], limits)

    report = await _take_in_stream(state, locator, feed, _one(feed.row(doc)), caller, answer)
    _refuse(report)
    report.created = key in report.new_ids
    return report


def take_in_one(
    state: ServiceState, locator: GridLocator, feed: Feed, raw: Any, caller: Jurisdiction
) -> int:
    """One case from a feed, for callers off the event loop (a sync endpoint, the CLI):
    checked and placed before the database is touched, then stored in one transaction.
    Returns its incident id (the stored one if it was there already); InvalidInput or
    Forbidden as :func:`take_in`."""
    report = IntakeReport(received=1)
    rows = _placed_rows(state, locator, feed, [(1, feed.row(raw))], caller, report)
    _refuse(report)
    with state.engine.begin() as conn:
        store.store_incidents(conn, rows)
        key = (rows[0]["source"], rows[0]["external_id"])
        return store.incident_ids(conn, [key])[key]
