"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from geo.errors import NotReady
from geo.lookup.geocode import ReverseGeocoder

from api.state import ApiState


# async: a sync dependency would cost a thread-pool hop on every request.
async def get_state(request: Request) -> ApiState:
    return request.app.state.service


async def get_geocoder(request: Request) -> ReverseGeocoder:
    geocoder = request.app.state.service.geocoder
    if geocoder is None or len(geocoder.locator) == 0:
        raise NotReady(
            "no boundaries are loaded yet; run `gridmap sample load` or import a boundary set",
            "尚未加载任何边界；请运行 `gridmap sample load` 或导入边界数据",
        )
    return geocoder


State = Annotated[ApiState, Depends(get_state)]
Geocoder = Annotated[ReverseGeocoder, Depends(get_geocoder)]
