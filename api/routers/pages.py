"""HTML pages: the overview map at ``/`` and the API docs at ``/docs`` (local assets)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from geo.store import boundaries as bstore
from geo.store import registers
from geo.topology import findings_to_geojson
from geo.vocab import LEVELS

from api.deps import State
from boundaries import sets
from web_map.assets import OFFLINE_SWAGGER_UI_PARAMETERS, swagger_ui_urls
from web_map.overview import build_overview_map
from web_map.planner import build_planner_map

router = APIRouter(include_in_schema=False)

STATIC_URL = "/static"


@router.get("/", response_class=HTMLResponse)
def overview(
    state: State, lang: Annotated[Literal["zh", "en"] | None, Query()] = None
) -> HTMLResponse:
    lang = lang or state.settings.default_lang
    geocoder = state.geocoder
    version = geocoder.version if geocoder else ""

    def build() -> str:
        with state.engine.connect() as conn:
            units = bstore.units_frame(conn)
        levels = {lvl: units[units["level"] == lvl] for lvl in LEVELS}
        m = build_overview_map(
            levels, lang=lang, static_url=STATIC_URL, tiles_url=state.settings.tiles_url
        )
        return m.get_root().render()

    return HTMLResponse(state.cached_map((version, lang), build))


@router.get("/planner", response_class=HTMLResponse)
def planner(
    state: State, lang: Annotated[Literal["zh", "en"] | None, Query()] = None
) -> HTMLResponse:
    """The planner map: levels, special grids, findings and the grid editor."""
    lang = lang or state.settings.default_lang
    geocoder = state.geocoder
    version = geocoder.version if geocoder else ""

    def build() -> str:
        with state.engine.connect() as conn:
            return render_planner(conn, lang, tiles_url=state.settings.tiles_url)

    return HTMLResponse(state.cached_map((version, lang, "planner"), build))


def render_planner(
    conn, lang: str, *, static_url: str = STATIC_URL, tiles_url=None, editable: bool = True
) -> str:
    """The planner page from the live map (also for ``gridmap map planner``)."""
    units = bstore.units_frame(conn)
    special = registers.special_grids_frame(conn)
    findings = sets.findings_for_live(conn)
    levels = {lvl: units[units["level"] == lvl] for lvl in LEVELS}
    m = build_planner_map(
        levels,
        special,
        findings_to_geojson(findings),
        lang=lang,
        static_url=static_url,
        tiles_url=tiles_url,
        editable=editable,
    )
    return m.get_root().render()


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title="网格地图服务 API / Grid map API",
        swagger_ui_parameters=OFFLINE_SWAGGER_UI_PARAMETERS,
        **swagger_ui_urls(STATIC_URL),
    )
