"""Reverse geocoding: point → district/street/community/grid and the people responsible."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from geo import h3cells
from geo.crs import to_wgs84
from geo.errors import OutsideDistrict
from geo.geocode import mask_phone

from api.deps import Geocoder
from api.schemas import Coordinate, CRSName, PersonOut, ReverseGeocodeResponse, Unit

router = APIRouter(prefix="/v1/geocode", tags=["geocode"])


def _unit(ref) -> Unit | None:
    return Unit(id=ref.unit_id, code=ref.code, name=ref.name) if ref else None


def _people(people) -> list[PersonOut]:
    return [
        PersonOut(worker_code=p.worker_code, name=p.name, role=p.role, phone=mask_phone(p.phone))
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
    lon: Annotated[float, Query(ge=-180, le=180, description="Longitude in `crs`")],
    lat: Annotated[float, Query(ge=-90, le=90, description="Latitude in `crs`")],
    crs: Annotated[CRSName, Query(description="CRS of lon/lat")] = "wgs84",
) -> ReverseGeocodeResponse:
    # async: pure in-memory lookup, no DB call, so no thread-pool hop (DESIGN.md).
    wlon, wlat = (float(v) for v in to_wgs84(lon, lat, crs))
    found = geocoder.reverse(wlon, wlat)
    if found is None:
        raise OutsideDistrict(
            f"({lon}, {lat}) in {crs} lies outside every grid of the district. Check the "
            "coordinate order (lon, lat) and that crs names the system the point came from.",
            f"坐标 ({lon}, {lat})（{crs}）不在本区任何网格内。请检查经纬度顺序及 crs 是否正确。",
            location={"lon": wlon, "lat": wlat, "crs": "wgs84"},
        )
    chain = found.chain
    return ReverseGeocodeResponse(
        query=Coordinate(lon=lon, lat=lat, crs=crs),
        location=Coordinate(lon=wlon, lat=wlat, crs="wgs84"),
        district=_unit(chain["district"]),
        street=_unit(chain["street"]),
        community=_unit(chain["community"]),
        grid=_unit(chain["grid"]),
        grid_workers=_people(found.workers),
        grid_leaders=_people(found.leaders),
        h3={str(res): h3cells.cell_to_str(cell) for res, cell in found.h3.items()},
        boundary_version=geocoder.version,
    )
