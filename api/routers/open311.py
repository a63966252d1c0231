"""Open311 GeoReport v2 facade, so hotline systems that speak it can post directly.

Coordinates are WGS-84 ``lat``/``long`` as the standard says; the extension parameter
``crs`` (wgs84 | gcj02 | bd09 | cgcs2000) accepts phone-map coordinates too, and
``external_id`` makes a repeated POST idempotent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query
from sqlalchemy import select

from geo.errors import InvalidInput, NotFound
from geo.incidents.placement import place_incidents
from geo.incidents.records import RowError, parse_incident
from geo.store import activity
from geo.store.models import Incident
from geo.vocab import LEVEL_ORDER

from api.auth import (
    OUTSIDE_REPORT,
    CallerDep,
    Forbidden,
    reports_within,
    require_scope,
    require_unit,
)
from api.deps import Geocoder, State

router = APIRouter(prefix="/open311/v2", tags=["open311"], dependencies=[require_scope("intake")])

SOURCE = "hotline_12345"


def _request_json(d: dict, categories: dict) -> dict:
    unit = d["responsible_now"].get("special_grid") or next(
        (v for k, v in d["responsible_now"].items() if k != "kind"), None
    )
    return {
        "service_request_id": str(d["id"]),
        "status": "closed" if d["status"] == "closed" else "open",
        "status_notes": d["transitions"][-1]["note"] if d["transitions"] else None,
        "service_name": categories.get(d["category"], (d["category"],))[0],
        "service_code": d["category"],
        "description": d["description"],
        "agency_responsible": (unit or {}).get("responsible_unit") or (unit or {}).get("name"),
        "requested_datetime": d["reported_at"],
        "updated_datetime": d["transitions"][-1]["at"] if d["transitions"] else d["reported_at"],
        "address": None,
        "lat": d["location"]["lat"],
        "long": d["location"]["lon"],
    }


def _utf8_text(value: str | None, field: str) -> str | None:
    """Form text as sent, refusing text that was not UTF-8.

    The form parser turns undecodable percent-escapes into U+FFFD and reads raw
    (unescaped) bytes as Latin-1; GBK text from old hotline systems arrives either way.
    """
    if value is None:
        return None
    mojibake = any(ord(c) > 127 for c in value) and all(ord(c) < 256 for c in value)
    if mojibake:
        try:
            return value.encode("latin-1").decode("utf-8")  # raw UTF-8, just not escaped
        except UnicodeDecodeError:
            pass
    if mojibake or "\ufffd" in value:
        raise InvalidInput(
            f"{field} is not UTF-8 text; convert it (e.g. from GBK) to UTF-8 and send again",
            f"{field} 不是 UTF-8 文本；请转换（如从 GBK）为 UTF-8 后重新提交",
            field=field,
        )
    return value


@router.get("/services.json", summary="Open311 services")
async def services(state: State) -> list[dict]:
    return [
        {
            "service_code": c,
            "service_name": zh,
            "description": en,
            "metadata": False,
            "type": "realtime",
            "keywords": c,
            "group": "网格事件",
        }
        for c, (zh, en) in state.case_rules.categories.items()
    ]


@router.post("/requests.json", summary="Open311 create request")
def create_request(
    state: State,
    geocoder: Geocoder,
    caller: CallerDep,
    service_code: Annotated[str, Form()],
    lat: Annotated[float, Form()],
    long: Annotated[float, Form()],
    description: Annotated[str | None, Form(max_length=4000)] = None,
    requested_datetime: Annotated[str | None, Form()] = None,
    crs: Annotated[str, Form(description="Extension: wgs84|gcj02|bd09|cgcs2000")] = "wgs84",
    external_id: Annotated[str | None, Form(max_length=200, description="Extension")] = None,
) -> list[dict]:
    service_code, description, requested_datetime, crs, external_id = (
        _utf8_text(v, name)
        for v, name in (
            (service_code, "service_code"),
            (description, "description"),
            (requested_datetime, "requested_datetime"),
            (crs, "crs"),
            (external_id, "external_id"),
        )
    )
    row = {
        "source": SOURCE,
        "external_id": external_id or f"open311-{uuid.uuid4()}",
        "reported_at": requested_datetime or datetime.now(UTC).isoformat(),
        "category": service_code,
        "lon": long,
        "lat": lat,
        "crs": crs,
        "description": description,
    }
    try:
        rec = parse_incident(row, state.case_rules.categories)
    except RowError as exc:
        raise InvalidInput(exc.message, exc.message_zh, field=exc.field) from None
    rows, _, unplaced = place_incidents(
        [rec],
        geocoder.locator,
        state.special,
        point_res=state.settings.h3_point_res,
        rules=state.case_rules.precedence,
    )
    if unplaced:
        raise InvalidInput(unplaced[0].message, unplaced[0].message_zh, field="lat")
    if not reports_within(caller, rows[0]):
        raise Forbidden(*OUTSIDE_REPORT)
    with state.engine.begin() as conn:
        activity.store_incidents(conn, rows)
        key = (rec.source, rec.external_id)
        incident_id = activity.incident_ids(conn, [key])[key]
    return [
        {
            "service_request_id": str(incident_id),
            "service_notice": "已受理 received",
            "account_id": None,
        }
    ]


@router.get("/requests.json", summary="Open311 query requests")
def list_requests(
    state: State,
    caller: CallerDep,
    service_request_id: Annotated[str | None, Query()] = None,
    service_code: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    start_date: Annotated[datetime | None, Query()] = None,
    end_date: Annotated[datetime | None, Query()] = None,
) -> list[dict]:
    q = select(Incident.id).order_by(Incident.reported_at.desc()).limit(1000)
    if service_request_id:
        ids = [int(x) for x in service_request_id.split(",") if x.strip().isdigit()]
        q = q.where(Incident.id.in_(ids))
    if service_code:
        q = q.where(Incident.category.in_(service_code.split(",")))
    if status == "closed":
        q = q.where(Incident.status == "closed")
    elif status == "open":
        q = q.where(Incident.status != "closed")
    if start_date:
        q = q.where(Incident.reported_at >= start_date)
    if end_date:
        q = q.where(Incident.reported_at <= end_date)
    if caller.unit_ids:  # only cases inside the caller's jurisdiction
        units = list(caller.unit_ids)
        q = q.where(
            Incident.grid_unit_id.in_(units)
            | Incident.community_unit_id.in_(units)
            | Incident.street_unit_id.in_(units)
            | Incident.district_unit_id.in_(units)
        )
    with state.engine.connect() as conn:
        ids = conn.execute(q).scalars().all()
        rules = state.case_rules
        details = activity.incident_details(conn, ids, rules.time_limits_h)
    return [_request_json(details[i], rules.categories) for i in ids if i in details]


@router.get("/requests/{request_id}.json", summary="Open311 one request")
def get_request(
    state: State, caller: CallerDep, request_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> list[dict]:
    with state.engine.connect() as conn:
        d = activity.incident_detail(conn, request_id, state.case_rules.time_limits_h)
    if d is None:
        raise NotFound(f"request {request_id} does not exist", f"诉求 {request_id} 不存在")
    chain = [(d[k] or {}).get("id") for k in LEVEL_ORDER]
    require_unit(caller, chain, what=f"request {request_id}", what_zh=f"诉求 {request_id}")
    return [_request_json(d, state.case_rules.categories)]
