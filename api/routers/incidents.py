"""Incident intake: one case or up to 100,000 per request, idempotent, with the
responsibility chain decided at intake. CSV and NDJSON bodies are read as a stream
and stored in chunks inside ONE transaction, committed before the answer is sent
(a case is never acknowledged unless it is stored)."""

from __future__ import annotations

import asyncio
import codecs
import csv
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geo.errors import InvalidInput, NotFound
from geo.incidents.placement import place_incidents
from geo.incidents.records import RowError, parse_incident
from geo.store import activity
from geo.vocab import LEVEL_ORDER

from api.auth import (
    OUTSIDE_REPORT,
    Caller,
    CallerDep,
    Forbidden,
    reports_within,
    require_any_scope,
    require_scope,
    require_unit,
)
from api.deps import Geocoder, State

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
INTAKE = require_scope("intake")
# Reading a case: apps that reported it (intake) and supervisors (read), each within
# their jurisdiction.
READ_CASE = require_any_scope("read", "intake")

MAX_ROWS = 100_000
MAX_JSON_BYTES = 64 * 1024 * 1024
CHUNK = 5_000


class RowProblem(BaseModel):
    line: int = Field(description="CSV/NDJSON line number, or 1-based item number")
    field: str | None
    message: str
    message_zh: str


class BulkResult(BaseModel):
    received: int
    stored: int
    duplicates: int
    rejected: int
    errors: list[RowProblem]


@router.get("/categories", summary="Incident categories / 事件类别", dependencies=[READ_CASE])
async def categories(state: State) -> list[dict]:
    """The district's categories (GRIDMAP_CASE_RULES_FILE; a default set otherwise)."""
    return [
        {"code": c, "name_zh": zh, "name_en": en}
        for c, (zh, en) in state.case_rules.categories.items()
    ]


class _Batch:
    """Accumulates one request's outcome while chunks are stored."""

    def __init__(self):
        self.received = self.stored = self.duplicates = 0
        self.errors: list[RowProblem] = []
        self.outside = 0  # rows refused as outside the caller's jurisdiction
        self.new_ids: dict[tuple[str, str], int] = {}
        self.answer: dict | None = None


def _store_chunk(
    state, geocoder, conn, items: list[tuple[int, dict]], batch: _Batch, caller: Caller
) -> None:
    parsed, lines = [], []
    for line, row in items:
        try:
            parsed.append(parse_incident(row, state.case_rules.categories))
            lines.append(line)
        except RowError as exc:
            batch.errors.append(
                RowProblem(
                    line=line, field=exc.field, message=exc.message, message_zh=exc.message_zh
                )
            )
    rows, positions, unplaced = place_incidents(
        parsed,
        geocoder.locator,
        state.special,
        point_res=state.settings.h3_point_res,
        rules=state.case_rules.precedence,
    )
    for u in unplaced:
        batch.errors.append(
            RowProblem(line=lines[u.index], field="lon", message=u.message, message_zh=u.message_zh)
        )
    # The same case twice in one request is stored once.
    seen: set[tuple[str, str]] = set()
    unique = []
    for r, pos in zip(rows, positions, strict=True):
        if not reports_within(caller, r):
            batch.outside += 1
            batch.errors.append(
                RowProblem(
                    line=lines[pos],
                    field="lon",
                    message=OUTSIDE_REPORT[0],
                    message_zh=OUTSIDE_REPORT[1],
                )
            )
            continue
        key = (r["source"], r["external_id"])
        if key in seen:
            batch.duplicates += 1
            continue
        seen.add(key)
        unique.append(r)
    new = activity.store_incidents(conn, unique)
    batch.new_ids.update(new)
    batch.stored += len(new)
    batch.duplicates += len(unique) - len(new)


async def _process(
    state,
    geocoder,
    items: AsyncIterator[tuple[int, dict]],
    caller: Caller,
    before_commit=None,
) -> _Batch:
    """Store all items in one transaction; ``before_commit(conn, batch)`` may read the
    answer inside it, so nothing is left to fail between the commit and the reply."""
    batch = _Batch()
    # Off the event loop: with the database unreachable, connecting may wait for its
    # timeout, and reverse geocoding on the same loop must keep answering meanwhile.
    conn = await asyncio.to_thread(state.engine.connect)
    trans = conn.begin()
    try:
        chunk: list[tuple[int, dict]] = []
        async for item in items:
            batch.received += 1
            if batch.received > MAX_ROWS:
                raise InvalidInput(
                    f"more than {MAX_ROWS} incidents in one request; split it",
                    f"单次请求超过 {MAX_ROWS} 条事件，请分批提交",
                )
            chunk.append(item)
            if len(chunk) >= CHUNK:
                await asyncio.to_thread(_store_chunk, state, geocoder, conn, chunk, batch, caller)
                chunk = []
        if chunk:
            await asyncio.to_thread(_store_chunk, state, geocoder, conn, chunk, batch, caller)
        if before_commit is not None:
            batch.answer = await asyncio.to_thread(before_commit, conn, batch)
        await asyncio.to_thread(trans.commit)
    except BaseException:
        await asyncio.to_thread(trans.rollback)
        raise
    finally:
        await asyncio.to_thread(conn.close)
    return batch


async def _lines(request: Request) -> AsyncIterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    buf = ""
    try:
        async for chunk in request.stream():
            buf += decoder.decode(chunk)
            *complete, buf = buf.split("\n")
            for line in complete:
                yield line
        buf += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput(
            "the body is not UTF-8; convert it (e.g. from GBK) and send again",
            "请求内容不是 UTF-8 编码；请转换（如从 GBK）后重新提交",
        ) from None
    if buf:
        yield buf


async def _csv_items(request: Request) -> AsyncIterator[tuple[int, dict]]:
    header: list[str] | None = None
    line_no = 0
    async for line in _lines(request):
        line_no += 1
        if not line.strip():
            continue
        values = next(csv.reader([line]))
        if header is None:
            header = [h.strip() for h in values]
            if not {"source", "external_id", "lon", "lat", "crs"} <= set(header):
                raise InvalidInput(
                    "CSV header must name source, external_id, reported_at, category, lon, lat, "
                    "crs",
                    "CSV 表头需包含 source, external_id, reported_at, category, lon, lat, crs",
                )
            continue
        yield line_no, dict(zip(header, values, strict=False))


async def _ndjson_items(request: Request) -> AsyncIterator[tuple[int, dict]]:
    line_no = 0
    async for line in _lines(request):
        line_no += 1
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                obj = {"_invalid": line}
            yield line_no, obj if isinstance(obj, dict) else {"_invalid": line}


async def _list_items(objs: list) -> AsyncIterator[tuple[int, dict]]:
    for i, obj in enumerate(objs, 1):
        yield i, obj if isinstance(obj, dict) else {}


def _from_geojson(doc: dict) -> list[dict]:
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else None
    if not isinstance(feats, list):
        raise InvalidInput(
            "GeoJSON body must be a FeatureCollection", "GeoJSON 内容应为 FeatureCollection"
        )
    out = []
    for f in feats:
        props = dict((f or {}).get("properties") or {})
        geom = (f or {}).get("geometry") or {}
        if geom.get("type") == "Point" and len(geom.get("coordinates") or []) >= 2:
            props["lon"], props["lat"] = geom["coordinates"][:2]
        out.append(props)
    return out


async def _read_json(request: Request):
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise InvalidInput(
                "JSON body larger than 64 MiB; send CSV or NDJSON, which are streamed",
                "JSON 内容超过 64 MiB；请改用流式的 CSV 或 NDJSON",
            )
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"malformed JSON: {exc}; send one incident object or an array of them",
            f"JSON 格式错误：{exc}；请提交一个事件对象或事件数组",
        ) from None


@router.post(
    "",
    summary="Report incidents / 上报事件",
    dependencies=[INTAKE],
    responses={200: {"model": BulkResult}, 201: {"description": "One incident stored"}},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/geo+json": {"schema": {"type": "object"}},
            }
        }
    },
)
async def report_incidents(request: Request, state: State, geocoder: Geocoder, caller: CallerDep):
    """One incident (JSON object) → 201 with its responsibility chain; many (JSON array,
    NDJSON, CSV or a GeoJSON FeatureCollection) → a report of stored, duplicate and
    rejected rows (each with its line and reason). Same source + external_id is never
    stored twice."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype == "text/csv":
        batch = await _process(state, geocoder, _csv_items(request), caller)
    elif ctype == "application/x-ndjson":
        batch = await _process(state, geocoder, _ndjson_items(request), caller)
    elif ctype in ("application/json", "application/geo+json"):
        doc = await _read_json(request)
        if ctype == "application/geo+json" or (isinstance(doc, dict) and "features" in doc):
            doc = _from_geojson(doc)
        if isinstance(doc, dict):
            key = (str(doc.get("source")).strip(), str(doc.get("external_id")).strip())

            def answer(conn, batch: _Batch) -> dict | None:
                if batch.errors:
                    return None
                return _incident_json(conn, activity.incident_ids(conn, [key])[key], state)

            batch = await _process(
                state, geocoder, _list_items([doc]), caller, before_commit=answer
            )
            if batch.errors:
                e = batch.errors[0]
                if batch.outside:
                    raise Forbidden(e.message, e.message_zh)
                raise InvalidInput(e.message, e.message_zh, field=e.field)
            new = key in batch.new_ids
            return JSONResponse(batch.answer, status_code=201 if new else 200)
        if not isinstance(doc, list):
            raise InvalidInput("JSON body must be an object or an array", "JSON 内容应为对象或数组")
        batch = await _process(state, geocoder, _list_items(doc), caller)
    else:
        raise InvalidInput(
            f"unsupported content type {ctype}; use application/json, application/x-ndjson, "
            "text/csv or application/geo+json",
            f"不支持的内容类型 {ctype}",
        )
    return BulkResult(
        received=batch.received,
        stored=batch.stored,
        duplicates=batch.duplicates,
        rejected=len(batch.errors),
        errors=batch.errors[:1000],
    )


def _incident_json(conn, incident_id: int, state=None, caller=None) -> dict:
    limits = state.case_rules.time_limits_h if state is not None else None
    detail = activity.incident_detail(conn, incident_id, limits)
    if detail is None:
        raise NotFound(f"incident {incident_id} does not exist", f"事件 {incident_id} 不存在")
    if caller is not None:  # outside the caller's jurisdiction it does not exist
        chain = [(detail[k] or {}).get("id") for k in LEVEL_ORDER]
        require_unit(caller, chain, what=f"incident {incident_id}", what_zh=f"事件 {incident_id}")
    return detail


@router.get("/{incident_id}", summary="One incident / 事件详情", dependencies=[READ_CASE])
def get_incident(state: State, caller: CallerDep, incident_id: Annotated[int, Path(ge=1)]) -> dict:
    with state.engine.connect() as conn:
        return _incident_json(conn, incident_id, state, caller)


class TransitionIn(BaseModel):
    action: str = Field(description="assign | escalate | close | reopen")
    actor: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=4000)
    assignee: str | None = Field(default=None, max_length=200)


@router.patch(
    "/{incident_id}", summary="Assign, escalate, close / 派单、上报、办结", dependencies=[INTAKE]
)
def change_incident(
    state: State, caller: CallerDep, incident_id: Annotated[int, Path(ge=1)], body: TransitionIn
) -> dict:
    """Apply one lifecycle action; the history keeps who did what, when and why."""
    with state.engine.begin() as conn:
        _incident_json(conn, incident_id, state, caller)  # 404 outside the jurisdiction
        activity.transition_incident(
            conn,
            incident_id,
            action=body.action,
            actor=body.actor,
            note=body.note,
            assignee=body.assignee,
        )
        return _incident_json(conn, incident_id, state, caller)
