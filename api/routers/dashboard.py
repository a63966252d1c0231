"""The supervisor dashboard page at ``/dashboard`` (offline folium map + KPI table)."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from geo.store import boundaries as bstore
from geo.store.dashboard import dashboard_data_token, dashboard_figures

from api.deps import State
from web_map.dashboard import build_dashboard_map

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

STATIC_URL = "/static"


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    state: State,
    days: Annotated[int, Query(ge=1, le=366, description="window length in days")] = 30,
    lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
) -> HTMLResponse:
    lang = lang or state.settings.default_lang
    geocoder = state.geocoder
    version = geocoder.version if geocoder else ""

    def build() -> str:
        t0 = time.perf_counter()
        s = state.settings
        with state.engine.connect() as conn:
            figures = dashboard_figures(
                conn, days, heatmap_res=s.h3_heatmap_res, patrol_res=s.h3_patrol_res
            )
            district = bstore.units_frame(conn, levels=("district",))
        m = build_dashboard_map(
            figures.grids,
            figures.cells,
            figures.compounds,
            start=figures.start,
            end=figures.end,
            days=days,
            district_name=" / ".join(str(n) for n in district["name"]),
            lang=lang,
            static_url=STATIC_URL,
            tiles_url=s.tiles_url,
        )
        page = m.get_root().render()
        log.info(
            "dashboard built: days=%d lang=%s, %d bytes in %.2f s",
            days,
            lang,
            len(page),
            time.perf_counter() - t0,
        )
        return page

    # Cached like the overview: cleared whenever the live boundaries change.
    # New incidents and patrol visits must show: the key includes a data token.
    with state.engine.connect() as conn:
        token = dashboard_data_token(conn)
    key = ("dashboard", version, token, str(days), lang)
    return HTMLResponse(state.cached_map(key, build))
