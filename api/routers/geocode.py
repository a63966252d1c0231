"""Reverse geocoding: point → district/street/community/grid and the people responsible."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from geo import h3cells
from geo.crs import from_wgs84, to_wgs84
from geo.errors import InvalidInput, NotFound, NotReady, OutsideDistrict
from geo.geocode import mask_phone
from geo.incidents import DEFAULT_CATEGORIES, responsible_special

from api.auth import CallerDep, require_scope
from api.deps import Geocoder, State
from api.schemas import (
    BorderOut,
    Coordinate,
    CRSName,
    PersonOut,
    ReverseGeocodeResponse,
    SpecialGridOut,
    Unit,
)

router = APIRouter(prefix="/v1/geocode", tags=["geocode"], dependencies=[require_scope("geocode")])


def _unit(ref) -> Unit | None:
    return Unit(id=ref.unit_id, code=ref.code, name=ref.name) if ref else None


def _people(people, unmasked: bool) -> list[PersonOut]:
    return [
        PersonOut(
            worker_code=p.worker_code,
            name=p.name,
            role=p.role,
            phone=p.phone if unmasked else mask_phone(p.phone),
        )
        for p in people
    ]


@router.get(
    "/reverse",
    response_model=ReverseGeocodeResponse,
    summary="Point → grid and its chain / 坐标 → 所属网格及上级单元",
    responses={404: {"description": "Outside every grid"}, 422: {"description": "Bad input"}},
)
async def reverse(
    geocoder: Geocoder,
    state: State,
    caller: CallerDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude in `crs`")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude in `crs`")],
    crs: Annotated[CRSName, Query(description="CRS of lon/lat")] = "wgs84",
    at: Annotated[
        datetime | None, Query(description="Answer from the boundaries in force at this time")
    ] = None,
    out_crs: Annotated[CRSName, Query(description="CRS of the returned location")] = "wgs84",
    category: Annotated[
        str | None, Query(description="Incident category: also say who is responsible")
    ] = None,
    tolerance_m: Annotated[
        float, Query(ge=0, le=1000, description="Report the neighbour grid within this distance")
    ] = 10.0,
) -> ReverseGeocodeResponse:
    # async: the live lookup is pure in-memory, no DB call, so no thread-pool hop
    # (DESIGN.md); only a dated lookup touches the database, off the event loop.
    wlon, wlat = (float(v) for v in to_wgs84(lon, lat, crs))
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
    found = geocoder.reverse(wlon, wlat, border_tolerance_m=tolerance_m)
    if found is None:
        raise OutsideDistrict(
            f"({lon}, {lat}) in {crs} lies outside every grid of the district. Check the "
            "coordinate order (lon, lat) and that crs names the system the point came from.",
            f"坐标 ({lon}, {lat})（{crs}）不在本区任何网格内。请检查经纬度顺序及 crs 是否正确。",
            location={"lon": wlon, "lat": wlat, "crs": "wgs84"},
        )
    chain = found.chain
    olon, olat = (float(v) for v in from_wgs84(wlon, wlat, out_crs))
    specials = state.special.containing_many([wlon], [wlat])[0] if state.special else []
    responsible = None
    if category is not None:
        if category not in DEFAULT_CATEGORIES:
            raise InvalidInput(
                f"unknown category {category!r}; see GET /v1/incidents/categories",
                f"未知类别 {category!r}",
            )
        unit = responsible_special(category, specials)
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
    # Full phone numbers only for a key with the read scope whose jurisdiction holds it.
    unmasked = caller.sees_contacts_of([u.unit_id for u in chain.values() if u])
    return ReverseGeocodeResponse(
        query=Coordinate(lon=lon, lat=lat, crs=crs),
        location=Coordinate(lon=olon, lat=olat, crs=out_crs),
        responsible=responsible,
        district=_unit(chain["district"]),
        street=_unit(chain["street"]),
        community=_unit(chain["community"]),
        grid=_unit(chain["grid"]),
        special_grids=[
            SpecialGridOut(
                id=r.special_id,
                code=r.code,
                name=r.name,
                kind=r.kind,
                responsible_unit=r.responsible_unit,
            )
            for r in specials
        ],
        grid_workers=_people(found.workers, unmasked),
        grid_leaders=_people(found.leaders, unmasked),
        border=BorderOut(
            distance_m=round(found.border_distance_m, 3),
            tolerance_m=tolerance_m,
            neighbour=_unit(found.neighbour),
        ),
        h3={str(res): h3cells.cell_to_str(cell) for res, cell in found.h3.items()},
        boundary_version=geocoder.version,
        at=at.isoformat() if at else None,
    )


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
        x, y = (float(v) for v in from_wgs84(c.lon, c.lat, crs))
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
                **{lvl: chain.get(lvl) for lvl in ("district", "street", "community", "grid")},
            )
        )
    return out
