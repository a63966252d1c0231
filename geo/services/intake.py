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

Concurrency. An INSERT that meets a key another transaction stored but has not
committed waits for that transaction. So no transaction may need a thread another
request can hold while waiting (the old single-case path hopped between shared
threads, and 8 concurrent duplicates hung the server for good):

- one case (:func:`take_in_one`) is checked, placed, stored and read in ONE call on
  ONE thread (``_ONE_CASE`` threads for the async endpoint, the endpoint's own thread
  for Open311): a waiter waits only for a transaction that is running on a thread of
  its own;
- a streamed upload runs its transaction on a thread of its own for the whole request
  (:func:`_take_in_stream`), fed chunk by chunk from the event loop;
- every intake transaction bounds its lock waits (``ONE_CASE_LOCK_WAIT_MS``,
  ``UPLOAD_LOCK_WAIT_MS``: an upload holds its keys until it commits); past it the
  request is refused with :class:`~geo.errors.Busy` (503 + Retry-After) and changes
  nothing.

A duplicate is answered with the stored case only if the caller may read it (the rule
of ``GET /v1/incidents/{id}``, :func:`geo.services.incidents.record`); otherwise
:class:`~geo.errors.AlreadyReceived` (409) says it was received, without id or details.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from geo.errors import AlreadyReceived, Busy, Forbidden, InvalidInput, NotFound
from geo.incidents.placement import place_incidents
from geo.incidents.records import IncidentIn, RowError, parse_incident
from geo.lookup.locator import GridLocator
from geo.services.feeds import Feed, Item, Received, Row
from geo.services.incidents import Jurisdiction, Record, record
from geo.services.state import ServiceState
from geo.store import incidents as store
from geo.store.db import Connection

MAX_ROWS = 100_000
CHUNK = 5_000
INCIDENT_CHAIN = ("grid_unit_id", "community_unit_id", "street_unit_id", "district_unit_id")
OUTSIDE_REPORT = (
    "the point lies outside the units this key may report in; check the coordinates "
    "and crs, or report it with a key for that area",
    "该位置不在此密钥可上报的范围内；请检查坐标及 crs，或用该区域的密钥上报",
)
Key = tuple[str, str]
T = TypeVar("T")

# Longest wait for a key another request is storing. One case meets another one-case
# request's key for milliseconds (insert, read, commit on one thread); an upload holds
# its keys until it commits, and waiting longer for it would keep a thread meanwhile.
ONE_CASE_LOCK_WAIT_MS = 2_000
UPLOAD_LOCK_WAIT_MS = 5_000  # an upload waits on its own thread only
RETRY_AFTER_S = 3
ONE_CASE_STATEMENT_MS = 10_000  # a single case: each statement
CHUNK_STATEMENT_MS = 60_000  # an upload: each statement (a chunk of CHUNK rows)
# Single cases from the async endpoint run here, whole, one per thread: apart from
# the default executor (key lookups, reverse geocoding), within the engine's pool.
ONE_CASE_THREADS = 4
_ONE_CASE = ThreadPoolExecutor(ONE_CASE_THREADS, thread_name_prefix="intake-one")


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
    answer: Record | None = None  # one case: its record, as the caller may read it
    created: bool = False  # one case: stored by this request


@dataclass(frozen=True)
class Taken:
    """One case taken in: its id, whether this request stored it, and its record
    (given ``read``, or for a duplicate: read as the caller may read it)."""

    id: int
    created: bool
    record: Record | None


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
    new = store.store_incidents(conn, unique, RETRY_AFTER_S)
    report.new_ids.update(new)
    report.stored += len(new)
    report.duplicates += len(unique) - len(new)


def _begin_stream(state: ServiceState) -> tuple[Connection, Any]:
    conn = state.engine.connect()
    try:
        trans = conn.begin()
        store.bound_waits(conn, UPLOAD_LOCK_WAIT_MS, CHUNK_STATEMENT_MS)
    except BaseException:
        conn.close()
        raise
    return conn, trans


async def _take_in_stream(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    items: AsyncIterator[Item],
    caller: Jurisdiction,
) -> IntakeReport:
    """Store all items in one transaction, run on a thread of its own (``db``) from
    connect to close: it never waits for a thread that another request, waiting for
    one of its keys, may hold. Off the event loop too: with the database unreachable,
    connecting may wait for its timeout, and reverse geocoding must keep answering."""
    report = IntakeReport()
    db = ThreadPoolExecutor(1, thread_name_prefix="intake-stream")
    loop = asyncio.get_running_loop()

    def on_db(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        # One thread, in order: a rollback after a cancelled step runs after that step.
        return loop.run_in_executor(db, functools.partial(fn, *args))

    try:
        conn, trans = await on_db(_begin_stream, state)
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
                    await on_db(_store_chunk, state, locator, feed, conn, chunk, caller, report)
                    chunk = []
            if chunk:
                await on_db(_store_chunk, state, locator, feed, conn, chunk, caller, report)
            await on_db(trans.commit)
        except BaseException:
            await on_db(trans.rollback)
            raise
        finally:
            await on_db(conn.close)
    finally:
        db.shutdown(wait=False)  # queued steps (a rollback, the close) still run
    return report


def _refuse(report: IntakeReport) -> None:
    """One case and it was not stored: its problem as the error to answer."""
    if report.errors:
        e = report.errors[0]
        if report.outside:
            raise Forbidden(e.message, e.message_zh)
        raise InvalidInput(e.message, e.message_zh, field=e.field)


async def take_in(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    received: Received,
    caller: Jurisdiction,
) -> IntakeReport:
    """Take in what a feed read from one request.

    Many rows: the report counts received, stored, duplicate and rejected rows (each
    problem with its line). One case: as :func:`take_in_one` (InvalidInput, Forbidden,
    AlreadyReceived, Busy), its record in ``answer`` and ``created`` saying whether this
    request stored it.
    """
    if received.single is None:
        assert received.items is not None
        return await _take_in_stream(state, locator, feed, received.items, caller)
    one = functools.partial(take_in_one, state, locator, feed, received.single, caller, read=True)
    taken = await asyncio.get_running_loop().run_in_executor(_ONE_CASE, one)
    return IntakeReport(
        received=1,
        stored=int(taken.created),
        duplicates=int(not taken.created),
        answer=taken.record,
        created=taken.created,
    )


def take_in_one(
    state: ServiceState,
    locator: GridLocator,
    feed: Feed,
    raw: Any,
    caller: Jurisdiction,
    *,
    read: bool = False,
) -> Taken:
    """One case from a feed, whole on the calling thread (never the event loop):
    checked and placed before the database is touched, then stored in one statement
    of one transaction (:func:`geo.store.incidents.store_incident`).

    Stored now: its id (and record, given ``read``). Stored already (by an earlier or a
    concurrent request): the stored id and record if the caller may read the case as
    ``GET /v1/incidents/{id}`` would; AlreadyReceived (no id, no details) if not.
    InvalidInput or Forbidden (outside the caller's jurisdiction) if it cannot be
    stored; Busy if another request holding the key did not finish in time.
    """
    report = IntakeReport(received=1)
    rows = _placed_rows(state, locator, feed, [(1, feed.row(raw))], caller, report)
    _refuse(report)
    row = rows[0]
    key = (row["source"], row["external_id"])
    limits = state.case_rules.time_limits_h
    with state.engine.begin() as conn:
        store.bound_waits(conn, ONE_CASE_LOCK_WAIT_MS, ONE_CASE_STATEMENT_MS)
        new_id = store.store_incident(conn, row, RETRY_AFTER_S)
        if new_id is not None:
            return Taken(new_id, True, record(conn, new_id, limits) if read else None)
        # A duplicate. The INSERT waited if the key was being stored: the stored case is
        # committed, and this statement (a fresh snapshot) sees it.
        stored_id = store.incident_ids(conn, [key]).get(key)
        if stored_id is None:  # cannot happen while incidents are never deleted
            raise Busy(
                "the case could not be read back; nothing was stored. Retry shortly",
                "未能读取该事件，本次未保存任何数据；请稍后重试",
                retry_after=RETRY_AFTER_S,
            )
        try:
            return Taken(stored_id, False, record(conn, stored_id, limits, caller))
        except NotFound:
            raise _already_received(key) from None


def _already_received(key: Key) -> AlreadyReceived:
    source, external_id = key
    return AlreadyReceived(
        f"a case with source {source!r} and external_id {external_id!r} was received "
        "already; it lies outside what this key may read, so it is not shown, and "
        "nothing was stored now. If this is another case, send it with an external_id "
        "of its own",
        f"来源 {source}、外部编号 {external_id} 的事件此前已接收；该事件不在此密钥可查看的"
        "范围内，故不显示其内容，本次未保存任何数据。如为另一事件，请为其使用新的外部编号"
        "（external_id）",
    )
