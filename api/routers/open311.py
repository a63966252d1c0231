"""Open311 GeoReport v2 facade, so hotline systems that speak it can post directly.

Coordinates are WGS-84 ``lat``/``long`` as the standard says; the extension parameter
``crs`` (wgs84 | gcj02 | bd09 | cgcs2000) accepts phone-map coordinates too, and
``external_id`` makes a repeated POST idempotent: the stored request's id, or 409
``already-received`` (no id) when that request lies outside what the key may read.
The feed (form → row, answers in the standard's terms) is
:mod:`geo.services.feeds.open311`; intake is the one pipeline of :mod:`geo.services.intake`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from pydantic import BaseModel

from geo.services import feeds, intake
from geo.services import incidents as cases
from geo.services.feeds.open311 import Open311Feed, Open311Form

from api.auth import CallerDep, require_scope
from api.deps import Geocoder, State
from api.validation import Label, Note, is_bigint_id

router = APIRouter(prefix="/open311/v2", tags=["open311"], dependencies=[require_scope("intake")])

REQUEST = ("request", "诉求")


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class RequestCreated(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


class ServiceRequest(BaseModel):
    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    requested_datetime: str
    updated_datetime: str
    address: str | None
    lat: float
    long: float


def _feed() -> Open311Feed:
    feed = feeds.get("open311")
    assert isinstance(feed, Open311Feed)
    return feed


@router.get("/services.json", summary="Open311 services", response_model=list[ServiceOut])
async def services(state: State) -> list[dict[str, Any]]:
    return _feed().services(state.case_rules.categories)


@router.post(
    "/requests.json",
    summary="Open311 create request",
    response_model=list[RequestCreated],
    responses={
        409: {"description": "already-received: this external_id is stored, outside your reach"},
        503: {"description": "busy: the same request is being stored; see Retry-After"},
    },
)
def create_request(
    state: State,
    geocoder: Geocoder,
    caller: CallerDep,
    service_code: Annotated[str, Form()],
    lat: Annotated[float, Form()],
    long: Annotated[float, Form()],
    description: Annotated[Note | None, Form()] = None,
    requested_datetime: Annotated[str | None, Form()] = None,
    crs: Annotated[str, Form(description="Extension: wgs84|gcj02|bd09|cgcs2000")] = "wgs84",
    external_id: Annotated[Label | None, Form(description="Extension")] = None,
) -> list[dict[str, Any]]:
    """A new request → its id. The same ``external_id`` again → the stored request's id
    if this key may read it (GET requests/{id}.json), else 409 ``already-received``
    (received already; no id, no details). 503 ``busy`` + Retry-After: another request
    with that ``external_id`` is still being stored; nothing changed."""
    form = Open311Form(service_code, lat, long, description, requested_datetime, crs, external_id)
    feed = _feed()
    taken = intake.take_in_one(state, geocoder.locator, feed, form, caller)
    return feed.created(taken.id)


@router.get("/requests.json", summary="Open311 query requests", response_model=list[ServiceRequest])
def list_requests(
    state: State,
    caller: CallerDep,
    service_request_id: Annotated[str | None, Query()] = None,
    service_code: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    start_date: Annotated[datetime | None, Query()] = None,
    end_date: Annotated[datetime | None, Query()] = None,
) -> list[dict[str, Any]]:
    found = cases.list_incidents(
        state,
        caller,
        ids=(
            [int(x) for x in service_request_id.split(",") if is_bigint_id(x)]
            if service_request_id
            else None
        ),
        categories=service_code.split(",") if service_code else None,
        status=status,
        start=start_date,
        end=end_date,
    )
    categories = state.case_rules.categories
    return [_feed().request(d, categories) for d in found]


@router.get(
    "/requests/{request_id}.json",
    summary="Open311 one request",
    response_model=list[ServiceRequest],
)
def get_request(
    state: State, caller: CallerDep, request_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> list[dict[str, Any]]:
    d = cases.get_incident(state, request_id, caller, what=REQUEST)
    return [_feed().request(d, state.case_rules.categories)]
