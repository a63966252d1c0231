"""Overview map of the four-level grid: district, streets, communities, grids.

:func:`build_overview_map` turns one GeoDataFrame per level into an offline
folium map: one toggleable layer per level, styled from thick dark outlines
(district) to thin lines with a light fill (grids), with localized tooltips,
a layer control, a heading with a legend, and the view fitted to the district.
No basemap is drawn unless an intranet tile server is given.

Layer stacking: each level gets its own Leaflet pane, grids lowest and the
district on top. The upper levels are outlines only (no fill), so the pointer
reaches the grid under them and hovering a thick border still names the street
or community it belongs to.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.map import CustomPane
from folium.template import Template

from geo.vocab import LEVELS

from web_map.assets import use_local_assets
from web_map.i18n import check_lang, t

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


class _Panel(MacroElement):
    """Heading and legend box, plus the page language for the <html> element."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <script>document.documentElement.lang = {{ this.html_lang|tojson }};</script>
        <style>
          .gridmap-panel {
            position: fixed; right: 10px; bottom: 28px; z-index: 1000;
            background: rgba(255, 255, 255, 0.92); padding: 8px 12px;
            border-radius: 4px; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.35);
            font: 13px/1.5 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
              "WenQuanYi Micro Hei", sans-serif;
          }
          .gridmap-panel h1 { font-size: 15px; margin: 0 0 6px; }
          .gridmap-panel h2 { font-size: 13px; margin: 0 0 2px; color: #555; }
          .gridmap-panel ul { list-style: none; margin: 0; padding: 0; }
          .gridmap-panel li { display: flex; align-items: center; gap: 6px; }
          .gridmap-panel .swatch { display: inline-block; width: 22px; height: 12px;
            box-sizing: border-box; }
          .gridmap-panel .count { color: #777; margin-left: auto; padding-left: 8px; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}{{ this.body }}{% endmacro %}
        {% macro script(this, kwargs) %}
        {# Plain "Leaflet" credit: the 1.9 default adds a national flag, out of place
           on a government page. #}
        {{ this._parent.get_name() }}.attributionControl.setPrefix("Leaflet");
        {% endmacro %}
        """
    )

    def __init__(self, body: str, html_lang: str) -> None:
        super().__init__()
        self._name = "GridmapPanel"
        self.body = body  # already escaped by _panel_html
        self.html_lang = html_lang


def build_overview_map(
    levels: Mapping[str, gpd.GeoDataFrame],
    lang: str = "zh",
    static_url: str = "/static",
    tiles_url: str | None = None,
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
    tiles_url
        Optional XYZ template of an intranet tile server
        (``.../{z}/{x}/{y}.png``). Without it the map has no basemap.

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
    frames = {level: _to_wgs84(levels[level], level) for level in LEVELS if level in levels}
    district = frames["district"]
    if district.empty:
        raise ValueError("the district frame has no drawable geometry")

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
    m.get_root().title = html.escape(t("overview.title", lang, district=district_name))
    if tiles_url:
        folium.TileLayer(
            tiles=tiles_url,
            attr=html.escape(t("tiles.attribution", lang)),
            name=t("tiles.name", lang),
        ).add_to(m)

    # Panes must exist before the layers that name them are created.
    for level in frames:
        CustomPane(f"gridmap-{level}", z_index=_PANE_Z[level]).add_to(m)
    for level, frame in frames.items():
        _level_layer(level, frame, lang).add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    _Panel(_panel_html(frames, lang, district_name), t("html.lang", lang)).add_to(m)
    return m


def _to_wgs84(frame: gpd.GeoDataFrame, level: str) -> gpd.GeoDataFrame:
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


def _level_layer(level: str, frame: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
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


def _panel_html(frames: Mapping[str, gpd.GeoDataFrame], lang: str, district_name: str) -> str:
    items = []
    for level, frame in frames.items():
        s = LEVEL_STYLES[level]
        fill = s["fillColor"] if s.get("fill") else "transparent"
        border = "dashed" if "dashArray" in s else "solid"
        swatch = f"border: {min(s['weight'], 3)}px {border} {s['color']}; background: {fill};"
        items.append(
            f'<li><span class="swatch" style="{swatch}"></span>'
            f"<span>{html.escape(t(f'level.{level}', lang))}</span>"
            f'<span class="count">{html.escape(t("overview.count", lang, count=len(frame)))}'
            "</span></li>"
        )
    return (
        '<div class="gridmap-panel">'
        f"<h1>{html.escape(district_name)} · {html.escape(t('overview.heading', lang))}</h1>"
        f"<h2>{html.escape(t('legend.title', lang))}</h2>"
        f"<ul>{''.join(items)}</ul></div>"
    )
