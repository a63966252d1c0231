"""Reverse geocoding: point → district/street/community/grid and the people responsible.

The single-point reverse lookup is the hottest path of the service (other apps call
it per incident, at high rates) and its answer is computed from memory in tens of µs.
FastAPI's per-request machinery cost more than that here (measured in-process:
~75 µs to validate seven query parameters one by one, ~50 µs for four dependencies,
~20 µs to build, check and serialise the pydantic answer), so the endpoint reads its
query in one pydantic call (:class:`api.schemas.ReverseQuery`, which also documents
the parameters in OpenAPI), checks the key itself with the same functions as the
dependencies, and returns its JSON directly; ``response_model`` still documents the
answer. Numbers: benchmarks/RESULTS.md. The answer itself is built by
:func:`geo.services.geocode.reverse` (:mod:`geo.lookup.answer`); this router parses
the query, checks the key and sends the dict.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import Route

from geo.crs import point_from_wgs84
from geo.errors import InvalidInput, NotReady
from geo.services import geocode as service
from geo.vocab import LEVELS

from api.auth import get_caller, require_scope
from api.deps import State, get_geocoder
from api.schemas import (
    REVERSE_ALWAYS,
    REVERSE_FIELD_GROUPS,
    REVERSE_FIELDS,
    Coordinate,
    CRSName,
    ReverseGeocodeResponse,
    ReverseQuery,
)

router = APIRouter(prefix="/v1/geocode", tags=["geocode"])
GEOCODE_SCOPE = require_scope("geocode")
_check_scope = GEOCODE_SCOPE.dependency  # the router dependency's own check


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects (in: query) for the fields of ``model``."""
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        param = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        if "examples" in prop:
            param["example"] = prop.pop("examples")[0]
        params.append({**param, "schema": prop})
    return params


def _query_dict(raw: bytes) -> dict[str, str]:
    """A query string as a dict (last value wins), decoded as Starlette's QueryParams
    decodes it (form encoding: '+' is a space, %XX are UTF-8 bytes), without building
    the multi-dict: a few µs on every reverse lookup."""
    out: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote(name.replace("+", " ")), unquote(value.replace("+", " "))
        out[name] = value
    return out


def _parse_query(request: Request) -> ReverseQuery:
    try:
        return ReverseQuery.model_validate(_query_dict(request.scope["query_string"]))
    except ValidationError as exc:  # the same 422 problem+json as FastAPI's own check
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def wanted_fields(fields: str | None) -> frozenset[str] | None:
    """The members asked for with ``fields=`` (groups expanded); None means all."""
    if fields is None:
        return None
    names = [n.strip() for n in fields.split(",") if n.strip()]
    unknown = [n for n in names if n not in REVERSE_FIELDS and n not in REVERSE_FIELD_GROUPS]
    if unknown:
        allowed = [*REVERSE_FIELDS, *REVERSE_FIELD_GROUPS]
        raise InvalidInput(
            f"unknown name(s) in fields: {', '.join(map(repr, unknown))}. Use a "
            f"comma-separated list of: {', '.join(allowed)}",
            f"fields 中有未知名称：{', '.join(unknown)}。可用：{', '.join(allowed)}",
            field="fields",
            allowed=allowed,
        )
    out = set(REVERSE_ALWAYS)
    for n in names:
        out.update(REVERSE_FIELD_GROUPS.get(n, (n,)))
    return frozenset(out)


def _json(body: dict[str, Any]) -> Response:
    # orjson: the same compact UTF-8 JSON as Starlette's JSONResponse, ~8× faster here.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/reverse",
    response_model=ReverseGeocodeResponse,
    summary="Point → grid and its chain / 坐标 → 所属网格及上级单元",
    responses={404: {"description": "Outside every grid"}, 422: {"description": "Bad input"}},
    openapi_extra={"parameters": _query_parameters(ReverseQuery)},
)
async def reverse(request: Request) -> Response:
    """Like MapIt's point lookup, one call returns every containing unit of every kind:
    district, street, community, grid, special grids, the people responsible, the H3
    cells and the distance to the grid's border (with the neighbour when closer than
    `tolerance_m`). `fields=` trims the answer (and skips the work for what is left
    out). Answers from memory, no database call (except for `at=`)."""
    # async: the live lookup is pure in-memory, so no thread-pool hop (DESIGN.md);
    # only a dated lookup touches the database, off the event loop.
    q = _parse_query(request)
    caller = await _check_scope(await get_caller(request))
    state = request.app.state.service
    geocoder = await get_geocoder(request)
    want = wanted_fields(q.fields)
    if q.at is None:
        body = service.reverse(state, geocoder, q, want, caller.sees_contacts_of)
    else:
        body = await asyncio.to_thread(
            service.reverse, state, geocoder, q, want, caller.sees_contacts_of
        )
    return _json(body)


def lean_routes() -> list[Route]:
    """The single-point reverse as a plain Starlette route, for the app to put ahead of
    its FastAPI routes. The endpoint already reads its query, checks the key and writes
    its JSON itself, so FastAPI's per-route machinery (dependency solving, the route
    scan through every included router) only cost time here: about 40 µs of ~150 µs
    per request, measured in-process. The ``@router.get`` above stays: it documents the
    endpoint in OpenAPI and is what a request would reach without this route."""
    return [Route("/v1/geocode/reverse", reverse, methods=["GET"], name="reverse-lean")]


class UnitRefOut(BaseModel):
    code: str
    name: str


class SearchCandidate(BaseModel):
    kind: str
    code: str | None
    name: str
    score: float = Field(description="0–100; 100 is an exact name or code match")
    location: Coordinate
    district: UnitRefOut | None
    street: UnitRefOut | None
    community: UnitRefOut | None
    grid: UnitRefOut | None
    matched: str
    building: str | None


@router.get(
    "/search",
    response_model=list[SearchCandidate],
    summary="Name or address → places / 地名地址 → 位置",
    dependencies=[GEOCODE_SCOPE],
)
async def search(
    state: State,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Name, code or address")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    kind: Annotated[
        list[str] | None,
        Query(description="district, street, community, grid, special_grid, compound"),
    ] = None,
    crs: Annotated[CRSName, Query(description="CRS of the returned points")] = "wgs84",
) -> list[SearchCandidate]:
    """Simplified or traditional characters, partial names, typos, pinyin initials and
    full addresses ("…街道…社区…小区3号楼") are understood."""
    gazetteer = state.gazetteer
    if gazetteer is None:
        raise NotReady("the search index is not built yet", "搜索索引尚未建立")
    found = await asyncio.to_thread(gazetteer.search, q, limit, set(kind) if kind else None)
    out = []
    for c in found:
        x, y = point_from_wgs84(c.lon, c.lat, crs)
        chain = {
            lvl: (UnitRefOut(code=v[0], name=v[1]) if v else None) for lvl, v in c.chain.items()
        }
        out.append(
            SearchCandidate(
                kind=c.kind,
                code=c.code,
                name=c.name,
                score=round(c.score, 2),
                location=Coordinate(lon=x, lat=y, crs=crs),
                matched=c.matched,
                building=c.building,
                **{lvl: chain.get(lvl) for lvl in LEVELS},
            )
        )
    return out
