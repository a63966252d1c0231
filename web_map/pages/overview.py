"""Overview map of the four-level grid: district, streets, communities, grids.

:func:`build_overview_map` turns one GeoDataFrame per level into an offline
folium map: one toggleable layer per level, styled from thick dark outlines
(district) to thin lines with a light fill (grids), with localized tooltips,
a layer control, a heading with a legend, and the view fitted to the district.
No basemap is drawn unless one is given (:mod:`web_map.basemaps`); on a GCJ-02
basemap (Amap) every level is shifted to GCJ-02 first. :func:`overview_page` is the
page at ``/``: built from the live map, cached until it changes.

Layer stacking: each level gets its own Leaflet pane, grids lowest and the
district on top. The upper levels are outlines only (no fill), so the pointer
reaches the grid under them and hovering a thick border still names the street
or community it belongs to.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from folium.map import CustomPane
from sqlalchemy import Engine

from geo.store import boundaries as bstore
from geo.vocab import LEVELS

from web_map.assets import use_local_assets
from web_map.basemaps import Basemap, add_tile_layers, settings_basemap, shift_frame
from web_map.i18n import check_lang, t
from web_map.templating import TemplateElement

if TYPE_CHECKING:
    from geo.services.state import ServiceState

# Six decimals of a degree is about 0.1 m: far below what the map shows, and
# about half the JSON of full float precision. Rounding, unlike simplifying,
# maps a vertex shared by two neighbours to the same point in both, so borders
# never open up.
COORD_DECIMALS = 6

# Higher levels: darker, thicker, on top, no fill. Grids: thin, light fill.
LEVEL_STYLES: dict[str, dict[str, Any]] = {
    "district": {"color": "#67000d", "weight": 4, "opacity": 0.9, "fill": False},
    "street": {"color": "#08306b", "weight": 3, "opacity": 0.9, "fill": False},
    "community": {
        "color": "#00441b",
        "weight": 2,
        "opacity": 0.8,
        "dashArray": "6 4",
        "fill": False,
    },
    "grid": {
        "color": "#6b6b6b",
        "weight": 1,
        "opacity": 0.8,
        "fill": True,
        "fillColor": "#fdd49e",
        "fillOpacity": 0.35,
    },
}
_GRID_HIGHLIGHT = {"weight": 2, "color": "#d94801", "fillOpacity": 0.6}
# Leaflet's overlayPane sits at z-index 400 and tooltipPane at 650.
_PANE_Z = {"grid": 410, "community": 420, "street": 430, "district": 440}


class LevelsPanel(TemplateElement):
    """Heading and legend of the levels (with counts), plus the page language."""

    template_name = "levels_panel.html"

    def __init__(
        self, frames: Mapping[str, gpd.GeoDataFrame], lang: str, district_name: str
    ) -> None:
        super().__init__()
        self._name = "GridmapPanel"
        self.html_lang = t("html.lang", lang)
        self.district = district_name
        self.heading = t("overview.heading", lang)
        self.legend_title = t("legend.title", lang)
        self.items = [_legend_item(level, len(frame), lang) for level, frame in frames.items()]


def _legend_item(level: str, count: int, lang: str) -> dict[str, str]:
    s = LEVEL_STYLES[level]
    fill = s["fillColor"] if s.get("fill") else "transparent"
    border = "dashed" if "dashArray" in s else "solid"
    return {
        "swatch": f"border: {min(s['weight'], 3)}px {border} {s['color']}; background: {fill};",
        "label": t(f"level.{level}", lang),
        "count": t("overview.count", lang, count=count),
    }


def build_overview_map(
    levels: Mapping[str, gpd.GeoDataFrame],
    lang: str = "zh",
    static_url: str = "/static",
    basemap: Basemap | None = None,
) -> folium.Map:
    """Build the offline overview map of the four-level grid.

    Parameters
    ----------
    levels
        GeoDataFrames keyed by ``"district"``, ``"street"``, ``"community"``,
        ``"grid"`` with columns ``code``, ``name`` and ``geometry``. ``district``
        is required, the others may be left out. A frame in another CRS is
        transformed to EPSG:4326; a frame without a CRS is refused.
    lang
        UI language, ``"zh"`` (default) or ``"en"``.
    static_url
        URL prefix where ``web_map/static`` is served; see
        :func:`web_map.assets.use_local_assets`.
    basemap
        Tiles to draw under the levels (:func:`web_map.basemaps.resolve_basemap`);
        None draws none. With ``shift="gcj02"`` every level is moved to GCJ-02.

    Returns
    -------
    folium.Map
        Render with ``m.get_root().render()`` or ``m.save(path)``.

    Raises
    ------
    ValueError
        For an unknown language or level key, a missing or empty district,
        or a frame without a CRS.
    """
    check_lang(lang)
    unknown = set(levels) - set(LEVELS)
    if unknown:
        raise ValueError(f"unknown level(s) {sorted(unknown)}; expected {LEVELS}")
    if "district" not in levels:
        raise ValueError("levels must contain the 'district' frame")
    frames = {level: to_wgs84(levels[level], level) for level in LEVELS if level in levels}
    if frames["district"].empty:
        raise ValueError("the district frame has no drawable geometry")
    frames = shift_frames(frames, basemap)
    district = frames["district"]

    use_local_assets(static_url)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in district.total_bounds)
    district_name = " / ".join(str(n) for n in district["name"])

    m = folium.Map(
        location=[(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=True,
    )
    # branca writes the title into <title> without escaping.
    title = t("overview.title", lang, district=district_name)
    m.get_root().title = html.escape(title)  # type: ignore[attr-defined]
    add_tile_layers(m, basemap, lang)

    # Panes must exist before the layers that name them are created.
    for level in frames:
        CustomPane(f"gridmap-{level}", z_index=_PANE_Z[level]).add_to(m)
    for level, frame in frames.items():
        level_layer(level, frame, lang).add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    LevelsPanel(frames, lang, district_name).add_to(m)
    return m


def shift_frames(
    frames: dict[str, gpd.GeoDataFrame], basemap: Basemap | None
) -> dict[str, gpd.GeoDataFrame]:
    """The frames moved to the basemap's datum (as they are without a shift)."""
    shift = basemap.shift if basemap else None
    if shift is None:
        return frames
    return {level: shift_frame(frame, shift) for level, frame in frames.items()}


def to_wgs84(frame: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
    """Check the columns, drop undrawable rows and bring the frame to EPSG:4326."""
    missing = {"code", "name"} - set(frame.columns)
    if missing:
        raise ValueError(f"{level} frame lacks column(s) {sorted(missing)}")
    if frame.crs is None:
        raise ValueError(f"{level} frame has no CRS; set it (EPSG:4326 expected)")
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    drawable = frame.geometry.notna() & ~frame.geometry.is_empty
    return frame[drawable]


def _feature_collection(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """GeoJSON of ``frame`` with rounded coordinates and HTML-escaped labels.

    folium's tooltip inserts property values into ``innerHTML`` unescaped, so
    names (editable by planners) are escaped here.
    """
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda xy: np.round(xy, COORD_DECIMALS))
    features = []
    for code, name, geom in zip(frame["code"], frame["name"], geoms, strict=True):
        features.append(
            {
                "type": "Feature",
                "id": str(code),
                "properties": {"code": html.escape(str(code)), "name": html.escape(str(name))},
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def level_layer(level: str, frame: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    style = LEVEL_STYLES[level]
    highlight = {**style, **_GRID_HIGHLIGHT} if level == "grid" else None
    return folium.GeoJson(
        _feature_collection(frame),
        name=t(f"level.{level}", lang),
        style_function=lambda _feature: style,
        highlight_function=(lambda _feature: highlight) if highlight else None,
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name"],
            aliases=[t("field.code", lang), t("field.name", lang)],
            sticky=True,
        ),
        # Every path of the layer, not only the GeoJSON group, must live in
        # the level's pane; Leaflet copies these options to each path.
        pane=f"gridmap-{level}",
    )


def render_overview(
    engine: Engine, lang: str, *, static_url: str = "/static", basemap: Basemap | None = None
) -> str:
    """The overview page of the live map as HTML (assets linked under ``static_url``)."""
    with engine.connect() as conn:
        units = bstore.units_frame(conn)
    levels = {lvl: units[units["level"] == lvl] for lvl in LEVELS}
    m = build_overview_map(levels, lang=lang, static_url=static_url, basemap=basemap)
    return m.get_root().render()


def overview_page(state: ServiceState, lang: str, *, static_url: str = "/static") -> str:
    """The page at ``/``: cached per language until the live boundaries change."""
    version = state.geocoder.version if state.geocoder else ""
    basemap = settings_basemap(state.settings)
    return state.cached_map(
        (version, lang),
        lambda: render_overview(state.engine, lang, static_url=static_url, basemap=basemap),
    )
