"""Supervisor dashboard map: incident heat, patrol coverage and gaps, unowned compounds.

:func:`build_dashboard_map` is pure: the figures of
:func:`geo.store.dashboard.dashboard_figures` in, an offline folium map out.
Toggleable layers, named in the UI language:

- grid outlines with a tooltip of every per-grid figure (shown);
- incident heat per H3 cell with a date slider (one day or the whole window) and
  the rising hotspots outlined (shown);
- per-grid choropleths (hidden at first; they fill the same grids, so one at a time
  reads best): patrol coverage, days since the last patrol, incidents per 1,000
  households, unowned compounds per km²;
- patrol gaps: the unvisited res-10 cells shaded by days since their last visit —
  drawn only for a chosen street or community (the district's thousands of gap
  hexagons would make the page heavy; the legend says so);
- unowned compounds per H3 cell (hidden); grids with no worker (shown);
- compounds as clustered markers coloured by management type (hidden).

Beside the map: the filter form, the legend (with units) and a sortable per-grid KPI
table linked to the map (:mod:`web_map.pages.dashboard.panel`). Ramps are ColorBrewer
sequential schemes and the Okabe–Ito palette, readable with the common colour-vision
deficiencies. With a GCJ-02 basemap (Amap) every overlay is shifted to GCJ-02
(:mod:`web_map.basemaps`).

:func:`render_dashboard` reads the figures and builds the page (the route and
``gridmap map dashboard`` both call it); :func:`dashboard_page` is the page at
``/dashboard``, cached while nothing it shows changes.
"""

from __future__ import annotations

import html
import logging
import time
from typing import TYPE_CHECKING

import folium
import geopandas as gpd
from folium.map import CustomPane
from sqlalchemy import Engine

from geo.incidents.records import DEFAULT_CATEGORIES
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store.dashboard import (
    GRID_COLUMNS,
    DashboardFigures,
    DashboardFilters,
    dashboard_data_token,
    dashboard_figures,
)

from web_map.assets import use_local_assets
from web_map.basemaps import Basemap, add_tile_layers, settings_basemap, shift_frame
from web_map.i18n import check_lang, t
from web_map.pages.dashboard.data import DashFrames, page_data
from web_map.pages.dashboard.layers import (
    GAPS_JS,
    HEAT_JS,
    NO_WORKER_JS,
    OUTLINE_JS,
    RISING_JS,
    UNOWNED_CELLS_JS,
    ClusterLayer,
    DashData,
    DaySlider,
    JsLayer,
    grid_layer,
)
from web_map.pages.dashboard.legends import Classes, rising_count, scales_and_legends
from web_map.pages.dashboard.panel import (
    DashboardPanel,
    FilterForm,
    filter_form_html,
    kpi_table_html,
    legend_html,
)

if TYPE_CHECKING:
    from geo.services.state import ServiceState

log = logging.getLogger(__name__)

# Leaflet's overlayPane is 400, markerPane 600, tooltipPane 650.
_PANES = {
    "fill": 405,
    "heat": 410,
    "gaps": 415,  # above the heat: a chosen street's gaps are what was asked for
    "ucells": 417,
    "outline": 420,
    "rising": 425,
    "no_worker": 430,
}


def _check(frame: gpd.GeoDataFrame, name: str, columns: set[str]) -> gpd.GeoDataFrame:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {sorted(missing)}")
    if frame.crs is None:
        raise ValueError(f"{name} frame has no CRS; set it (EPSG:4326 expected)")
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    return frame[frame.geometry.notna() & ~frame.geometry.is_empty]


def _frames(figures: DashboardFigures, shift: str | None) -> DashFrames:
    """The figures' frames checked, in EPSG:4326 and moved to the basemap's datum."""
    grids = _check(figures.grids, "grids", set(GRID_COLUMNS) - {"unit_id"})
    if grids.empty:
        raise ValueError("the grids frame has no drawable geometry")
    cells = _check(figures.cells, "cells", {"cell", "incidents", "previous"})
    ucells = _check(figures.unowned_cells, "unowned_cells", {"cell", "unowned", "per_km2"})
    compounds = _check(figures.compounds, "compounds", {"name", "management_type"})
    gaps: gpd.GeoDataFrame | None = None
    if figures.gaps is not None:
        gaps = _check(figures.gaps, "gaps", {"grid_code", "cell", "days_since_visit"})
    return DashFrames(
        grids=shift_frame(grids, shift),
        cells=shift_frame(cells, shift),
        ucells=shift_frame(ucells, shift),
        compounds=shift_frame(compounds, shift),
        gaps=shift_frame(gaps, shift),
    )


def build_dashboard_map(
    figures: DashboardFigures,
    *,
    district_name: str = "",
    lang: str = "zh",
    static_url: str = "/static",
    basemap: Basemap | None = None,
    interactive: bool = True,
) -> folium.Map:
    """Build the offline supervisor dashboard.

    Parameters
    ----------
    figures
        From :func:`geo.store.dashboard.dashboard_figures` (frames in EPSG:4326).
    district_name
        For the page title and heading.
    lang
        ``"zh"`` (default) or ``"en"``.
    static_url
        Where ``web_map/static`` is served; see :func:`web_map.assets.use_local_assets`.
    basemap
        Tiles to draw under the layers (:func:`web_map.basemaps.resolve_basemap`);
        None draws no basemap. With ``shift="gcj02"`` every overlay is moved to GCJ-02.
    interactive
        False for a static export: the filter form (which needs the server) becomes
        a summary of the filters.

    Returns
    -------
    folium.Map
        Render with ``m.get_root().render()``.

    Raises
    ------
    ValueError
        For an unknown language, a missing column, a frame without a CRS, or no grids.
    """
    check_lang(lang)
    frames = _frames(figures, basemap.shift if basemap else None)
    grids = frames.grids
    use_local_assets(static_url)
    m = _new_map(grids, t("dashboard.title", lang, district=district_name).strip())
    add_tile_layers(m, basemap, lang)
    for pane, z in _PANES.items():
        CustomPane(f"dash-{pane}", z_index=z).add_to(m)
    classes = scales_and_legends(
        grids,
        frames.cells,
        frames.ucells,
        figures.daily,
        res=figures.res,
        has_gaps=frames.gaps is not None,
        lang=lang,
    )
    DashData(page_data(frames, figures.daily, figures.window, classes, lang)).add_to(m)
    outline = _add_layers(m, frames.gaps, classes, static_url, lang)
    folium.LayerControl(collapsed=False).add_to(m)
    _add_panel(m, figures, grids, classes, outline, district_name, lang, interactive)
    return m


def _new_map(grids: gpd.GeoDataFrame, title: str) -> folium.Map:
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in grids.total_bounds)
    m = folium.Map(
        location=[(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=True,
        maxZoom=18,  # markercluster needs a map maxZoom (max_zoom only goes to tiles)
        zoomSnap=0.25,  # fit the chosen area closely, not to the next whole zoom
    )
    m.get_root().title = html.escape(title)  # type: ignore[attr-defined]
    return m


def _add_layers(
    m: folium.Map,
    gaps: gpd.GeoDataFrame | None,
    classes: Classes,
    static_url: str,
    lang: str,
) -> JsLayer:
    """Every overlay, in drawing order, and the day slider; returns the grid outline."""
    for key, scale, name in (
        ("cov", "cov", "layer.coverage"),
        ("dsv", "dsv", "layer.since_visit"),
        ("r1000", "rate", "layer.rate"),
        ("ukm", "ukm", "layer.unowned_density"),
    ):
        JsLayer(grid_layer(key, scale, "dash-fill"), t(name, lang), show=False).add_to(m)
    if gaps is not None:
        JsLayer(GAPS_JS, f"{t('layer.gaps', lang)} ({len(gaps)})", show=True).add_to(m)
    heat_layer = JsLayer(HEAT_JS, t("layer.incident_heat", lang), show=True)
    heat_layer.add_to(m)
    JsLayer(UNOWNED_CELLS_JS, t("layer.unowned_cells", lang), show=False).add_to(m)
    outline = JsLayer(OUTLINE_JS, t("layer.grid_outline", lang), show=True)
    outline.add_to(m)
    if classes.has_previous:
        name = f"{t('layer.rising', lang)} ({rising_count(classes)})"
        JsLayer(RISING_JS, name, show=True).add_to(m)
    name = f"{t('layer.no_worker', lang)} ({classes.n_no_worker})"
    JsLayer(NO_WORKER_JS, name, show=True).add_to(m)
    ClusterLayer(t("layer.compounds", lang), static_url, show=False).add_to(m)
    DaySlider(heat_layer.get_name()).add_to(m)
    return outline


def _add_panel(
    m: folium.Map,
    figures: DashboardFigures,
    grids: gpd.GeoDataFrame,
    classes: Classes,
    outline: JsLayer,
    district_name: str,
    lang: str,
    interactive: bool,
) -> None:
    heading = t("dashboard.heading", lang)
    if district_name:
        heading = f"{district_name} · {heading}"
    window = figures.window
    prev = window.previous
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in grids.total_bounds)
    DashboardPanel(
        heading=heading,
        window=t(
            "dashboard.window",
            lang,
            start=f"{window.first_day():%Y-%m-%d}",
            end=f"{window.last_day():%Y-%m-%d}",
            days=f"{window.days:g}",
            pstart=f"{prev.first_day():%Y-%m-%d}",
            pend=f"{prev.last_day():%Y-%m-%d}",
        ),
        legend=legend_html(classes.legends, t("legend.title", lang)),
        table=kpi_table_html(grids, lang),
        html_lang=t("html.lang", lang),
        kpi_title=t("dashboard.kpi", lang),
        outline_name=outline.get_name(),
        bounds=[[min_lat, min_lon], [max_lat, max_lon]],
        filters=filter_form_html(_form(figures, lang), lang, interactive=interactive),
    ).add_to(m)


def _form(figures: DashboardFigures, lang: str) -> FilterForm:
    places = figures.places
    name_col = 0 if lang == "zh" else 1
    streets = places[places["level"] == "street"] if len(places) else places
    communities = places[places["level"] == "community"] if len(places) else places
    window = figures.window
    return FilterForm(
        start=f"{window.first_day():%Y-%m-%d}",
        end=f"{window.last_day():%Y-%m-%d}",
        res=figures.res,
        category=figures.categories[0] if len(figures.categories) == 1 else "",
        street=figures.street["code"] if figures.street else "",
        community=figures.community["code"] if figures.community else "",
        categories=[(c, names[name_col]) for c, names in DEFAULT_CATEGORIES.items()],
        streets=[(str(r.code), str(r.name)) for r in streets.itertuples()],
        communities=[
            (str(r.code), str(r.name), str(r.parent_code)) for r in communities.itertuples()
        ],
    )


def render_dashboard(
    engine: Engine,
    settings: Settings,
    filters: DashboardFilters,
    *,
    lang: str,
    static_url: str = "/static",
    basemap: Basemap | None = None,
    interactive: bool = True,
) -> str:
    """The dashboard page as HTML (assets linked under ``static_url``)."""
    t0 = time.perf_counter()
    with engine.connect() as conn:
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


def dashboard_page(
    state: ServiceState, filters: DashboardFilters, *, lang: str, static_url: str = "/static"
) -> str:
    """The page at ``/dashboard`` for ``filters`` (already held to the caller's area).

    Filtered views are built afresh: caching every combination a user can type would
    grow without bound. The plain views (days × lang) are cached like the overview:
    cleared when the live boundaries change; the data token in the key makes new
    incidents and patrol visits show.
    """
    basemap = settings_basemap(state.settings)

    def build() -> str:
        return render_dashboard(
            state.engine, state.settings, filters, lang=lang, static_url=static_url, basemap=basemap
        )

    if filters != DashboardFilters(days=filters.days):
        return build()
    version = state.geocoder.version if state.geocoder else ""
    with state.engine.connect() as conn:
        token = dashboard_data_token(conn)
    return state.cached_map(("dashboard", version, token, str(filters.days), lang), build)
