"""Incident intake over HTTP: one case or up to 100,000 per request, idempotent, with
the responsibility chain decided at intake; reading a case and its lifecycle steps.

The body's content type picks the feed (:mod:`geo.services.feeds`); the one intake
pipeline (:mod:`geo.services.intake`) does the rest. CSV and NDJSON bodies are read as
a stream and stored in chunks inside ONE transaction, committed before the answer is
sent (a case is never acknowledged unless it is stored)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from geo.services import feeds, intake
from geo.services import incidents as cases

from api.auth import CallerDep, require_any_scope, require_scope
from api.deps import Geocoder, State
from api.schemas import Coordinate, DbId, SpecialGridOut, Unit
from api.validation import Actor, Note

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
INTAKE = require_scope("intake")
# Reading a case: apps that reported it (intake) and supervisors (read), each within
# their jurisdiction.
READ_CASE = require_any_scope("read", "intake")

MAX_REPORTED_ERRORS = 1000


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


class CategoryOut(BaseModel):
    code: str
    name_zh: str
    name_en: str


class IncidentOut(BaseModel):
    """One case with its chain (names as live now), who is responsible, and history."""

    id: int
    source: str
    external_id: str
    reported_at: str
    category: str
    status: str
    level: str
    description: str | None
    location: Coordinate
    received_crs: str
    h3_cell: str
    grid: Unit | None
    community: Unit | None
    street: Unit | None
    district: Unit | None
    special_grids: list[SpecialGridOut]
    responsible: dict[str, Any] = Field(description="Who answers for it, decided at intake")
    responsible_now: dict[str, Any] = Field(description="Who must act at the current level")
    assignee: str | None
    due_at: str
    overdue: bool
    transitions: list[dict[str, Any]]


class TransitionIn(BaseModel):
    action: str = Field(description="assign | escalate | close | reopen")
    actor: Actor
    note: Note | None = None
    assignee: Actor | None = None


@router.get(
    "/categories",
    summary="Incident categories / 事件类别",
    dependencies=[READ_CASE],
    response_model=list[CategoryOut],
)
async def categories(state: State) -> list[dict]:
    """The district's categories (GRIDMAP_CASE_RULES_FILE; a default set otherwise)."""
    return [
        {"code": c, "name_zh": zh, "name_en": en}
        for c, (zh, en) in state.case_rules.categories.items()
    ]


@router.post(
    "",
    summary="Report incidents / 上报事件",
    dependencies=[INTAKE],
    response_model=BulkResult,
    responses={
        201: {"model": IncidentOut, "description": "One incident stored"},
        409: {"description": "already-received: one case stored already, outside your reach"},
        503: {"description": "busy: the same case is being stored by another request"},
    },
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
async def report_incidents(
    request: Request, state: State, geocoder: Geocoder, caller: CallerDep
) -> BulkResult | JSONResponse:
    """One incident (JSON object) → 201 with its responsibility chain; many (JSON array,
    NDJSON, CSV or a GeoJSON FeatureCollection) → a report of stored, duplicate and
    rejected rows (each with its line and reason). Same source + external_id is never
    stored twice, however many requests send it at once.

    One case sent again (same source + external_id) → 200 with the stored case if this
    key may read it (as GET /v1/incidents/{id}: scope and jurisdiction); otherwise 409
    problem+json ``already-received``: it was received, nothing was stored now, and
    neither its id nor its details are shown (send another case with an external_id of
    its own). 503 ``busy`` + Retry-After: a request still storing the same key (e.g. an
    upload not committed yet) did not finish within 2 s; nothing changed."""
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    feed = feeds.for_content_type(ctype)
    received = await feed.read(request.stream())
    report = await intake.take_in(state, geocoder.locator, feed, received, caller)
    if received.single is not None:
        return JSONResponse(report.answer, status_code=201 if report.created else 200)
    return BulkResult(
        received=report.received,
        stored=report.stored,
        duplicates=report.duplicates,
        rejected=len(report.errors),
        errors=[
            RowProblem(line=e.line, field=e.field, message=e.message, message_zh=e.message_zh)
            for e in report.errors[:MAX_REPORTED_ERRORS]
        ],
    )


@router.get(
    "/{incident_id}",
    summary="One incident / 事件详情",
    dependencies=[READ_CASE],
    response_model=IncidentOut,
)
def get_incident(state: State, caller: CallerDep, incident_id: DbId) -> dict[str, Any]:
    return cases.get_incident(state, incident_id, caller)


@router.patch(
    "/{incident_id}",
    summary="Assign, escalate, close / 派单、上报、办结",
    dependencies=[INTAKE],
    response_model=IncidentOut,
)
def change_incident(
    state: State, caller: CallerDep, incident_id: DbId, body: TransitionIn
) -> dict[str, Any]:
    """Apply one lifecycle action; the history keeps who did what, when and why."""
    return cases.change_incident(
        state,
        incident_id,
        caller,
        action=body.action,
        actor=body.actor,
        note=body.note,
        assignee=body.assignee,
    )
