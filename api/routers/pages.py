"""HTML pages: the overview map at ``/``, the planner at ``/planner`` and the API docs at
``/docs`` (local assets). The pages are built in :mod:`web_map.pages`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from api.deps import State
from api.sessions import get_page_caller
from web_map.assets import OFFLINE_SWAGGER_UI_PARAMETERS, swagger_ui_urls
from web_map.pages.overview import overview_page
from web_map.pages.planner import planner_page

router = APIRouter(include_in_schema=False)

STATIC_URL = "/static"

Lang = Annotated[Literal["zh", "en"] | None, Query()]


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(get_page_caller)])
def overview(state: State, lang: Lang = None) -> HTMLResponse:
    """The overview of the four levels, on the configured basemap."""
    page = overview_page(state, lang or state.settings.default_lang, static_url=STATIC_URL)
    return HTMLResponse(page)


@router.get("/planner", response_class=HTMLResponse, dependencies=[Depends(get_page_caller)])
def planner(state: State, lang: Lang = None) -> HTMLResponse:
    """The planner map: levels, special grids, findings and the grid editor."""
    page = planner_page(state, lang or state.settings.default_lang, static_url=STATIC_URL)
    return HTMLResponse(page)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    urls = swagger_ui_urls(STATIC_URL)
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="网格地图服务 API / Grid map API",
        swagger_ui_parameters=OFFLINE_SWAGGER_UI_PARAMETERS,
        swagger_js_url=urls["swagger_js_url"],
        swagger_css_url=urls["swagger_css_url"],
        swagger_favicon_url=urls["swagger_favicon_url"],
    )
