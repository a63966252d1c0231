"""The supervisor dashboard page at ``/dashboard`` and the local basemap tiles.

:func:`render_dashboard` builds the page's HTML from the database; the page route
caches it and ``gridmap map dashboard`` (api/cli/map.py) writes it to a file.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import Connection

from geo.errors import NotFound
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store.dashboard import DashboardFilters, dashboard_data_token, dashboard_figures

from api.auth import CallerDep, area_within_jurisdiction
from api.deps import State
from api.routers.heat import check_categories
from web_map.basemap import Basemap, resolve_basemap
from web_map.dashboard import build_dashboard_map

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

STATIC_URL = "/static"


def settings_basemap(settings: Settings) -> Basemap:
    """The basemap the settings ask for (``basemap``, ``basemap_url``, ``tianditu_key``).

    A misconfigured basemap (no key, missing folder) is logged and left out: the
    grid layers alone still make a working page.
    """
    try:
        return resolve_basemap(
            settings.basemap, settings.basemap_url, settings.tianditu_key, settings.tiles_url
        )
    except ValueError as exc:
        log.error("basemap setting ignored: %s", exc)
        return resolve_basemap("none")


def render_dashboard(
    conn: Connection,
    settings: Settings,
    filters: DashboardFilters,
    *,
    lang: str,
    static_url: str = STATIC_URL,
    basemap: Basemap | None = None,
    interactive: bool = True,
) -> str:
    """The dashboard page as HTML (assets linked under ``static_url``)."""
    t0 = time.perf_counter()
    figures = dashboard_figures(
        conn, filters, heatmap_res=settings.h3_heatmap_res, patrol_res=settings.h3_patrol_res
    )
    district = bstore.units_frame(conn, levels=("district",))
    m = build_dashboard_map(
        figures,
        district_name=" / ".join(str(n) for n in district["name"]),
        lang=lang,
        static_url=static_url,
        basemap=basemap,
        interactive=interactive,
    )
    page = m.get_root().render()
    log.info(
        "dashboard built: %s lang=%s, %d bytes in %.2f s",
        filters,
        lang,
        len(page),
        time.perf_counter() - t0,
    )
    return page


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    state: State,
    caller: CallerDep,
    start: Annotated[str | None, Query(alias="from", description="First day (Beijing)")] = None,
    end: Annotated[str | None, Query(alias="to", description="Last day (Beijing)")] = None,
    days: Annotated[int, Query(ge=1, le=366, description="window length in days")] = 30,
    res: Annotated[int | None, Query(ge=7, le=12, description="H3 resolution of the heat")] = None,
    category: Annotated[list[str] | None, Query()] = None,
    street: Annotated[str | None, Query()] = None,
    community: Annotated[str | None, Query()] = None,
    lang: Annotated[Literal["zh", "en"] | None, Query()] = None,
) -> HTMLResponse:
    lang = lang or state.settings.default_lang
    if caller.unit_ids:  # a scoped key sees its own street or community only
        with state.engine.connect() as conn:
            street, community = area_within_jurisdiction(caller, conn, street, community)
    geocoder = state.geocoder
    version = geocoder.version if geocoder else ""
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
    basemap = settings_basemap(state.settings)

    def build() -> str:
        with state.engine.connect() as conn:
            return render_dashboard(conn, state.settings, filters, lang=lang, basemap=basemap)

    # Filtered views are built afresh: caching every combination a user can type
    # would grow without bound. The plain views (days × lang) are cached like the
    # overview: cleared when the live boundaries change; the data token in the key
    # makes new incidents and patrol visits show.
    if filters != DashboardFilters(days=days):
        return HTMLResponse(build())
    with state.engine.connect() as conn:
        token = dashboard_data_token(conn)
    key = ("dashboard", version, token, str(days), lang)
    return HTMLResponse(state.cached_map(key, build))


_TILE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


def _sniff(data: bytes) -> str:
    if data[:4] == b"\x89PNG":
        return "image/png"
    if data[:2] == b"\xff\xd8":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _mbtiles_tile(path: FilePath, z: int, x: int, y: int) -> bytes | None:
    # MBTiles rows are TMS: y counts from the south.
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
    return bytes(row[0]) if row else None


@router.get("/basemap/{z}/{x}/{y}.png")
def local_tile(
    state: State,
    z: Annotated[int, Path(ge=0, le=22)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
) -> Response:
    """A tile of the local basemap (``basemap=local``, ``basemap_url=<folder or .mbtiles>``).

    A folder holds ``{z}/{x}/{y}.png`` (or .jpg/.webp). Only integers reach the
    file system, so no path can leave the folder.
    """
    source: FilePath | None = settings_basemap(state.settings).folder
    headers = {"Cache-Control": "max-age=86400"}
    if source is not None and source.suffix.lower() == ".mbtiles":
        data = _mbtiles_tile(source, z, x, y)
        if data is not None:
            return Response(data, media_type=_sniff(data), headers=headers)
    elif source is not None:
        for suffix, media in _TILE_TYPES.items():
            path = source / str(z) / str(x) / f"{y}{suffix}"
            if path.is_file():
                return FileResponse(path, media_type=media, headers=headers)
    raise NotFound(f"no basemap tile {z}/{x}/{y}", f"没有底图瓦片 {z}/{x}/{y}")
