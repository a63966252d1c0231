"""Reverse geocoding: point → district/street/community/grid and the people responsible.

The single-point reverse lookup is the hottest path of the service (other apps call
it per incident, at high rates) and its answer is computed from memory in tens of µs.
FastAPI's per-request machinery cost more than that here (measured in-process:
~75 µs to validate seven query parameters one by one, ~50 µs for four dependencies,
~20 µs to build, check and serialise the pydantic answer), so the endpoint reads its
query in one pydantic call (:class:`api.schemas.ReverseQuery`, which also documents
the parameters in OpenAPI), checks the key itself with the same functions as the
dependencies, and returns its JSON directly; ``response_model`` still documents the
answer. Numbers: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import Route

from geo import hexgrid
from geo.crs import point_from_wgs84, point_to_wgs84
from geo.errors import InvalidInput, NotFound, NotReady, OutsideDistrict
from geo.incidents.records import responsible_special
from geo.lookup.geocode import mask_phone
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
BORDER_RULE = ReverseGeocodeResponse.model_fields["border_rule"].default


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


def _unit(ref) -> dict | None:
    return {"id": ref.unit_id, "code": ref.code, "name": ref.name} if ref else None


def _people(people, unmasked: bool) -> list[dict]:
    return [
        {
            "worker_code": p.worker_code,
            "name": p.name,
            "role": p.role,
            "phone": p.phone if unmasked else mask_phone(p.phone),
        }
        for p in people
    ]


# The parts of an answer that depend only on the grid (and on whether phones are shown),
# built once per grid and geocoder: the same lists and dicts serve every later request.
_PER_GRID: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _per_grid_parts(geocoder, found, unmasked: bool) -> dict[str, Any]:
    cache = _PER_GRID.get(geocoder)
    if cache is None:
        cache = _PER_GRID.setdefault(geocoder, {})
    key = (found.row, unmasked)
    parts = cache.get(key)
    if parts is None or found.row < 0:
        chain = found.chain
        parts = {level: _unit(chain[level]) for level in LEVELS}
        parts["grid_workers"] = _people(found.workers, unmasked)
        parts["grid_leaders"] = _people(found.leaders, unmasked)
        if found.row >= 0:
            cache[key] = parts
    return parts


def _json(body: dict) -> Response:
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
    lon, lat, crs, at, out_crs = q.lon, q.lat, q.crs, q.at, q.out_crs
    wlon, wlat = point_to_wgs84(lon, lat, crs)
    if at is not None:
        if at.tzinfo is None:
            raise InvalidInput(
                "at needs a time zone, e.g. 2026-10-01T00:00:00+08:00",
                "at 需带时区，如 2026-10-01T00:00:00+08:00",
            )
        geocoder = await asyncio.to_thread(state.geocoder_at, at)
        if len(geocoder.locator) == 0:
            raise NotFound(
                f"no boundaries were in force at {at.isoformat()}",
                f"{at.isoformat()} 时没有生效的边界",
            )
    if q.category is not None and q.category not in state.case_rules.categories:
        raise InvalidInput(
            f"unknown category {q.category!r}; see GET /v1/incidents/categories",
            f"未知类别 {q.category!r}",
        )
    found = geocoder.reverse(
        wlon,
        wlat,
        border_tolerance_m=q.tolerance_m,
        border=want is None or "border" in want,
        h3=want is None or "h3" in want,
    )
    if found is None:
        raise OutsideDistrict(
            f"({lon}, {lat}) in {crs} lies outside every grid of the district. Check the "
            "coordinate order (lon, lat) and that crs names the system the point came from.",
            f"坐标 ({lon}, {lat})（{crs}）不在本区任何网格内。请检查经纬度顺序及 crs 是否正确。",
            location={"lon": wlon, "lat": wlat, "crs": "wgs84"},
        )
    chain = found.chain

    def asked(name: str) -> bool:
        return want is None or name in want

    specials = []
    if state.special and (asked("special_grids") or q.category is not None):
        specials = state.special.containing(wlon, wlat)
    responsible = None
    if q.category is not None:
        unit = responsible_special(q.category, specials, state.case_rules.precedence)
        responsible = (
            {
                "kind": "special_grid",
                "code": unit.code,
                "name": unit.name,
                "responsible_unit": unit.responsible_unit,
            }
            if unit
            else {"kind": "grid", "code": chain["grid"].code, "name": chain["grid"].name}
        )
    body: dict[str, Any] = {}
    if asked("query"):
        body["query"] = {"lon": lon, "lat": lat, "crs": crs}
    if asked("location"):
        olon, olat = point_from_wgs84(wlon, wlat, out_crs)
        body["location"] = {"lon": olon, "lat": olat, "crs": out_crs}
    unmasked = False
    if asked("grid_workers") or asked("grid_leaders"):
        # Full phone numbers only for a key with the read scope whose jurisdiction holds it.
        unmasked = caller.sees_contacts_of([u.unit_id for u in chain.values() if u])
    per_grid = _per_grid_parts(geocoder, found, unmasked)
    for level in LEVELS:
        if asked(level):
            body[level] = per_grid[level]
    if asked("special_grids"):
        body["special_grids"] = [
            {
                "id": r.special_id,
                "code": r.code,
                "name": r.name,
                "kind": r.kind,
                "responsible_unit": r.responsible_unit,
            }
            for r in specials
        ]
    for group in ("grid_workers", "grid_leaders"):
        if asked(group):
            body[group] = per_grid[group]
    if asked("responsible") or q.category is not None:
        body["responsible"] = responsible
    if asked("border"):
        body["border"] = {
            "distance_m": round(found.border_distance_m, 3),
            "tolerance_m": q.tolerance_m,
            "neighbour": _unit(found.neighbour),
        }
    if asked("h3"):
        body["h3"] = {str(res): hexgrid.cell_to_str(cell) for res, cell in found.h3.items()}
    body["boundary_version"] = geocoder.version
    if asked("at") or at is not None:
        body["at"] = at.isoformat() if at else None
    if asked("border_rule"):
        body["border_rule"] = BORDER_RULE
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
