"""The supervisor dashboard page at ``/dashboard`` and the local basemap tiles.

The page is built by :func:`web_map.pages.dashboard.dashboard_page` (cached while
nothing it shows changes); ``gridmap map dashboard`` (api/cli/map.py) writes the same
page to a file through :func:`web_map.pages.dashboard.render_dashboard`.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from geo.errors import NotFound
from geo.incidents.categories import check_categories
from geo.store.dashboard import DashboardFilters

from api.auth import area_within_jurisdiction
from api.deps import State
from api.sessions import PageCallerDep
from web_map.basemaps import read_local_tile, settings_basemap
from web_map.pages.dashboard import dashboard_page

router = APIRouter(include_in_schema=False)

STATIC_URL = "/static"


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    state: State,
    caller: PageCallerDep,  # signed out: to /login when sign-in is required
    start: Annotated[str | None, Query(alias="from", description="First day (Beijing)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Last day (Beijing)")] = None,
    days: Annotated[int, Query(ge=1, le=366, description="window length in days")] = 30,
    res: Annotated[int | None, Query(ge=7, le=12, description="H3 resolution of the heat")] = None,
    category: Annotated[list[str] | None, Query()] = None,
    street: Annotated[str | None, Query()] = None,
    community: Annotated[str | None, Query()] = None,
    lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
) -> HTMLResponse:
    if caller.unit_ids:  # a scoped key sees its own street or community only
        with state.engine.connect() as conn:
            street, community = area_within_jurisdiction(caller, conn, street, community)
    # Empty form fields arrive as "": they mean "no filter".
    filters = DashboardFilters(
        start=start or None,
        end=end or None,
        days=days,
        res=res,
        categories=tuple(check_categories(category, state.case_rules.categories)),
        street=street or None,
        community=community or None,
    )
    page = dashboard_page(
        state, filters, lang=lang or state.settings.default_lang, static_url=STATIC_URL
    )
    return HTMLResponse(page)


@router.get("/basemap/{z}/{x}/{y}.png", response_class=Response)
def local_tile(
    state: State,
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    """A tile of the local basemap (``basemap=local``, ``basemap_url=<folder or .mbtiles>``)."""
    tile = read_local_tile(settings_basemap(state.settings).folder, z, x, y)
    if tile is None:
        raise NotFound(f"no basemap tile {z}/{x}/{y}", f"没有底图瓦片 {z}/{x}/{y}")
    content, media = tile
    headers = {"Cache-Control": "max-age=86400"}
    if isinstance(content, FilePath):
        return FileResponse(content, media_type=media, headers=headers)
    return Response(content, media_type=media, headers=headers)
