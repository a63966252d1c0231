"""Supervisor dashboard map: incident heat, patrol coverage, unowned compounds.

:func:`build_dashboard_map` is pure: frames of figures in, an offline folium map
out (the figures come from :mod:`geo.store.dashboard`). Toggleable layers, named in
the UI language:

- grid outlines with a tooltip of every per-grid figure (shown);
- incident heat: H3 cells coloured by incident count (shown);
- patrol coverage per grid and unowned compounds per grid, choropleths (hidden at
  first: they fill the same grids, so one at a time reads best);
- grids with no grid worker, outlined (shown);
- compounds as circle markers coloured by management type (hidden at first).

Beside the map sits a per-grid KPI table (sortable, a click zooms to the grid) and
over it an HTML legend; see :mod:`web_map.dashboard_panel`. Colour ramps are
ColorBrewer sequential schemes and the Okabe–Ito palette, both readable with the
common colour-vision deficiencies.
"""

from __future__ import annotations

import html
import math
from datetime import datetime, timedelta, timezone
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from folium.map import CustomPane

from web_map.assets import use_local_assets
from web_map.dashboard_panel import DashboardPanel, Legend, kpi_table_html, legend_html
from web_map.i18n import check_lang, t

COORD_DECIMALS = 6  # ~0.1 m; see web_map.overview

# ColorBrewer 5-class sequential ramps, light (low) to dark (high).
RAMP_INCIDENTS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # YlOrRd
RAMP_COVERAGE = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")  # YlGnBu
RAMP_UNOWNED = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")  # Purples
NO_DATA = "#bdbdbd"
NO_WORKER_COLOR = "#cc79a7"  # Okabe–Ito reddish purple, unlike every ramp above
# Okabe–Ito colours per management type; unowned gets the loudest one and a
# larger marker.
MANAGEMENT_COLORS = {
    "property_company": "#0072b2",
    "unit": "#009e73",
    "self_governed": "#f0e442",
    "unowned": "#d55e00",
}
COVERAGE_BREAKS = (0.2, 0.4, 0.6, 0.8)
# Dates are shown as Beijing dates (one zone, no daylight saving).
_BEIJING = timezone(timedelta(hours=8))

# Leaflet's overlayPane is 400, tooltipPane 650.
_PANES = {"fill": 405, "heat": 415, "outline": 420, "no_worker": 430, "compounds": 440}


def count_classes(values, n: int = 5) -> list[tuple[int, int]]:
    """Up to ``n`` integer classes ``(low, high)`` covering the positive ``values``.

    Class limits are quantiles of the positive values, rounded up, so each class
    holds about as many features; with ``n`` or fewer distinct values each gets its
    own class. Zero is left out (drawn as "none").
    """
    positive = np.asarray([v for v in values if v > 0], dtype=float)
    if positive.size == 0:
        return []
    distinct = np.unique(np.ceil(positive).astype(int))
    if distinct.size <= n:
        highs = distinct
    else:
        quantiles = np.quantile(positive, np.linspace(0, 1, n + 1)[1:])
        highs = np.unique(np.ceil(quantiles).astype(int))
    classes, low = [], 1
    for high in highs.tolist():
        if high >= low:
            classes.append((low, high))
            low = high + 1
    return classes


def _ramp(ramp: tuple[str, ...], k: int) -> list[str]:
    """``k`` colours spread over a 5-colour ramp (keeping both ends for k >= 2)."""
    if k <= 0:
        return []
    if k == 1:
        return [ramp[-2]]
    return [ramp[round(i)] for i in np.linspace(0, len(ramp) - 1, k)]


def _count_color(value: int, classes: list[tuple[int, int]], colors: list[str]) -> str | None:
    for (_low, high), color in zip(classes, colors, strict=True):
        if value <= high:
            return color
    return colors[-1] if value > 0 and colors else None


def _coverage_color(share: float) -> str:
    if share is None or math.isnan(share):
        return NO_DATA
    return RAMP_COVERAGE[int(np.searchsorted(COVERAGE_BREAKS, share, side="right"))]


def coverage_label(share: float) -> str:
    """``"53.3%"``, or a dash for a grid without cells."""
    if share is None or math.isnan(share):
        return "—"
    return f"{share * 100:.1f}%"


def _to_wgs84(frame: gpd.GeoDataFrame, name: str, columns: set[str]) -> gpd.GeoDataFrame:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {sorted(missing)}")
    if frame.crs is None:
        raise ValueError(f"{name} frame has no CRS; set it (EPSG:4326 expected)")
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    drawable = frame.geometry.notna() & ~frame.geometry.is_empty
    return frame[drawable]


def _features(frame: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> dict[str, Any]:
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda xy: np.round(xy, COORD_DECIMALS))
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
            for p, g in zip(props, geoms, strict=True)
        ],
    }


def _grid_props(grids: gpd.GeoDataFrame, lang: str) -> list[dict[str, Any]]:
    # folium's tooltip writes values into innerHTML unescaped: escape names here.
    return [
        {
            "code": html.escape(str(r.code)),
            "name": html.escape(str(r.name)),
            "incidents": int(r.incidents),
            "coverage": coverage_label(r.coverage),
            "unowned": int(r.unowned),
            "worker": t("value.yes" if r.has_worker else "value.no", lang),
        }
        for r in grids.itertuples()
    ]


def _grid_tooltip(lang: str) -> folium.GeoJsonTooltip:
    fields = ["code", "name", "incidents", "coverage", "unowned", "worker"]
    aliases = [
        t("field.code", lang),
        t("field.name", lang),
        t("field.incidents", lang),
        t("field.coverage", lang),
        t("field.unowned", lang),
        t("field.worker", lang),
    ]
    return folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True)


def build_dashboard_map(
    grids: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    compounds: gpd.GeoDataFrame,
    *,
    start: datetime,
    end: datetime,
    days: int,
    district_name: str = "",
    lang: str = "zh",
    static_url: str = "/static",
    tiles_url: str | None = None,
) -> folium.Map:
    """Build the offline supervisor dashboard.

    Parameters
    ----------
    grids
        One row per grid: ``code``, ``name``, ``incidents``, ``coverage`` (share
        0–1, NaN if unknown), ``unowned``, ``has_worker``, polygon ``geometry``.
    cells
        Heatmap cells: ``cell`` (id), ``incidents``, hexagon ``geometry``.
    compounds
        ``name``, ``management_type``, point ``geometry``.
    start, end, days
        The time window the figures describe (shown in the heading).
    district_name
        For the page title and heading.
    lang
        ``"zh"`` (default) or ``"en"``.
    static_url
        Where ``web_map/static`` is served; see :func:`web_map.assets.use_local_assets`.
    tiles_url
        Optional XYZ template of an intranet tile server; no basemap without it.

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
    grids = _to_wgs84(
        grids, "grids", {"code", "name", "incidents", "coverage", "unowned", "has_worker"}
    )
    cells = _to_wgs84(cells, "cells", {"cell", "incidents"})
    compounds = _to_wgs84(compounds, "compounds", {"name", "management_type"})
    if grids.empty:
        raise ValueError("the grids frame has no drawable geometry")

    use_local_assets(static_url)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in grids.total_bounds)
    m = folium.Map(
        location=[(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=True,
    )
    # branca writes the title into <title> without escaping.
    m.get_root().title = html.escape(t("dashboard.title", lang, district=district_name).strip())
    if tiles_url:
        folium.TileLayer(
            tiles=tiles_url,
            attr=html.escape(t("tiles.attribution", lang)),
            name=t("tiles.name", lang),
        ).add_to(m)
    for pane, z in _PANES.items():
        CustomPane(f"dash-{pane}", z_index=z).add_to(m)

    props = _grid_props(grids, lang)
    legends: list[Legend] = []

    # Coverage choropleth.
    cover_fill = [_coverage_color(c) for c in grids["coverage"]]
    _grid_layer(grids, props, cover_fill, "layer.coverage", lang, show=False).add_to(m)
    labels = ["< 20%", "20–40%", "40–60%", "60–80%", "≥ 80%"]
    legends.append(
        Legend(
            t("layer.coverage", lang),
            [*zip(RAMP_COVERAGE, labels, strict=True), (NO_DATA, t("value.none", lang))],
        )
    )

    # Unowned-compound choropleth.
    u_classes = count_classes(grids["unowned"])
    u_colors = _ramp(RAMP_UNOWNED, len(u_classes))
    u_fill = [_count_color(int(v), u_classes, u_colors) for v in grids["unowned"]]
    _grid_layer(grids, props, u_fill, "layer.unowned", lang, show=False).add_to(m)
    legends.append(
        Legend(t("layer.unowned", lang), [(None, "0"), *_class_items(u_classes, u_colors)])
    )

    # Incident heat per H3 cell.
    c_classes = count_classes(cells["incidents"])
    c_colors = _ramp(RAMP_INCIDENTS, len(c_classes))
    _heat_layer(cells, c_classes, c_colors, lang).add_to(m)
    legends.append(Legend(t("layer.incident_heat", lang), _class_items(c_classes, c_colors)))

    # Grid outlines carry the full tooltip; above the heat cells, hover falls through
    # their transparent interior only where no cell is drawn.
    outline = _grid_layer(grids, props, None, "layer.grid_outline", lang, show=True).add_to(m)

    lacking = ~grids["has_worker"].astype(bool).to_numpy()
    no_worker = grids[lacking]
    no_worker_props = [p for p, keep in zip(props, lacking, strict=True) if keep]
    folium.GeoJson(
        _features(no_worker, no_worker_props),
        name=f"{t('layer.no_worker', lang)} ({len(no_worker)})",
        style_function=lambda _f: {
            "color": NO_WORKER_COLOR,
            "weight": 3.5,
            "dashArray": "8 5",
            "fill": False,
        },
        tooltip=_grid_tooltip(lang) if no_worker_props else None,
        pane="dash-no_worker",
    ).add_to(m)
    legends.append(
        Legend(
            t("layer.no_worker", lang),
            [
                (
                    f"outline:{NO_WORKER_COLOR}",
                    t("dashboard.no_worker_count", lang, count=len(no_worker)),
                )
            ],
        )
    )

    _compound_layer(compounds, lang).add_to(m)
    legends.append(
        Legend(
            t("layer.compounds", lang),
            [(f"dot:{c}", t(f"management.{k}", lang)) for k, c in MANAGEMENT_COLORS.items()],
        )
    )

    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    period = (
        f"{start.astimezone(_BEIJING):%Y-%m-%d}",
        f"{end.astimezone(_BEIJING):%Y-%m-%d}",
    )
    heading = t("dashboard.heading", lang)
    if district_name:
        heading = f"{district_name} · {heading}"
    DashboardPanel(
        heading=heading,
        window=t("dashboard.window", lang, start=period[0], end=period[1], days=days),
        legend=legend_html(legends, t("legend.title", lang)),
        table=kpi_table_html(grids, lang),
        html_lang=t("html.lang", lang),
        kpi_title=t("dashboard.kpi", lang),
        outline_name=outline.get_name(),
    ).add_to(m)
    return m


def _class_items(classes: list[tuple[int, int]], colors: list[str]) -> list[tuple[str, str]]:
    return [
        (c, str(lo) if lo == hi else f"{lo}–{hi}")
        for (lo, hi), c in zip(classes, colors, strict=True)
    ]


def _grid_layer(
    grids: gpd.GeoDataFrame,
    props: list[dict[str, Any]],
    fills: list[str | None] | None,
    name_key: str,
    lang: str,
    *,
    show: bool,
) -> folium.GeoJson:
    """Grids as a choropleth (``fills``) or, with ``fills=None``, as thin outlines."""
    if fills is None:
        style = {"color": "#525252", "weight": 0.8, "opacity": 0.9, "fillOpacity": 0.0}
        data = _features(grids, props)
        pane = "dash-outline"

        def style_function(_f: dict) -> dict:
            return style
    else:
        features = [{**p, "_fill": f} for p, f in zip(props, fills, strict=True)]
        data = _features(grids, features)
        pane = "dash-fill"

        def style_function(f: dict) -> dict:
            fill = f["properties"]["_fill"]
            return {
                "color": "#737373",
                "weight": 0.6,
                "fillColor": fill or "#ffffff",
                "fillOpacity": 0.8 if fill else 0.0,
            }

    return folium.GeoJson(
        data,
        name=t(name_key, lang),
        style_function=style_function,
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        tooltip=_grid_tooltip(lang),
        pane=pane,
        show=show,
    )


def _heat_layer(
    cells: gpd.GeoDataFrame, classes: list[tuple[int, int]], colors: list[str], lang: str
) -> folium.GeoJson:
    props = [
        {"cell": str(c), "incidents": int(n), "_fill": _count_color(int(n), classes, colors)}
        for c, n in zip(cells["cell"], cells["incidents"], strict=True)
    ]
    return folium.GeoJson(
        _features(cells, props),
        name=t("layer.incident_heat", lang),
        style_function=lambda f: {
            "color": "#ffffff",
            "weight": 0.4,
            "fillColor": f["properties"]["_fill"],
            "fillOpacity": 0.75,
        },
        # folium refuses a tooltip on an empty collection (no field to check).
        tooltip=folium.GeoJsonTooltip(
            fields=["cell", "incidents"],
            aliases=[t("field.cell", lang), t("field.incidents", lang)],
            sticky=True,
        )
        if props
        else None,
        pane="dash-heat",
    )


def _compound_layer(compounds: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    props = [
        {
            "name": html.escape(str(r.name)),
            "type": t(f"management.{r.management_type}", lang),
            "_fill": MANAGEMENT_COLORS.get(r.management_type, NO_DATA),
        }
        for r in compounds.itertuples()
    ]
    points = compounds.set_geometry(shapely.point_on_surface(compounds.geometry.to_numpy()))
    return folium.GeoJson(
        _features(points, props),
        name=t("layer.compounds", lang),
        marker=folium.CircleMarker(radius=4),
        style_function=lambda f: {
            "color": "#333333",
            "weight": 0.6,
            "fill": True,
            "fillColor": f["properties"]["_fill"],
            "fillOpacity": 0.9,
            "radius": 5.5 if f["properties"]["_fill"] == MANAGEMENT_COLORS["unowned"] else 4,
            # folium drops a CircleMarker's pane; the style is merged into the
            # marker's options, so the pane goes here.
            "pane": "dash-compounds",
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "type"],
            aliases=[t("field.compound", lang), t("field.management_type", lang)],
            sticky=True,
        )
        if props
        else None,
        pane="dash-compounds",
        show=False,
    )
