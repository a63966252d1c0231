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
table linked to the map (:mod:`web_map.dashboard_panel`). Ramps are ColorBrewer
sequential schemes and the Okabe–Ito palette, readable with the common colour-vision
deficiencies. With an Amap basemap every overlay is shifted to GCJ-02
(:mod:`web_map.basemap`).
"""

from __future__ import annotations

import html
import itertools
import math
from datetime import timedelta
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from folium.map import CustomPane

from geo.incidents import heat
from geo.incidents.records import DEFAULT_CATEGORIES
from geo.store.dashboard import GRID_COLUMNS, DashboardFigures

from web_map.assets import use_local_assets
from web_map.basemap import Basemap, shift_frame
from web_map.dashboard_layers import (
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
from web_map.dashboard_panel import (
    DashboardPanel,
    FilterForm,
    Legend,
    filter_form_html,
    kpi_table_html,
    legend_html,
)
from web_map.dashboard_scales import (
    COVERAGE_BREAKS,
    DAYS_BREAKS,
    MANAGEMENT_COLORS,
    NEVER_COLOR,
    NO_DATA,
    NO_WORKER_COLOR,
    RAMP_COVERAGE,
    RAMP_DAYS,
    RAMP_INCIDENTS,
    RAMP_RATE,
    RAMP_UNOWNED,
    RISING_COLOR,
    break_scale,
    count_scale,
    value_breaks,
)
from web_map.i18n import check_lang, t

COORD_DECIMALS = 6  # ~0.1 m; see web_map.overview

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


def _nan_none(v, digits: int = 4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return round(float(v), digits)


def _feature_collection(frame: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> dict:
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda xy: np.round(xy, COORD_DECIMALS))
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": p, "geometry": shapely.geometry.mapping(g)}
            for p, g in zip(props, geoms, strict=True)
        ],
    }


def _grid_props(grids: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    # Tooltips are HTML: names are escaped here.
    return [
        {
            "code": html.escape(str(r.code)),
            "name": html.escape(str(r.name)),
            "worker": html.escape(str(r.worker)),
            "hw": bool(r.has_worker),
            "inc": int(r.incidents),
            "chg": int(r.change),
            "r1000": _nan_none(r.per_1000_households, 2),
            "cov": _nan_none(r.coverage),
            "dsv": None if math.isnan(r.days_since_visit) else int(r.days_since_visit),
            "uo": int(r.unowned),
            "ukm": _nan_none(r.unowned_per_km2, 2),
            "u1000": _nan_none(r.unowned_per_1000, 2),
        }
        for r in grids.itertuples()
    ]


def _labels(lang: str) -> dict[str, str]:
    keys = {
        "code": "field.code",
        "name": "field.name",
        "worker": "field.worker",
        "no_worker": "value.no_worker",
        "incidents": "field.incidents",
        "vs_previous": "field.vs_previous",
        "rate": "field.rate",
        "coverage": "field.coverage",
        "since_visit": "field.since_visit",
        "never": "value.never",
        "days_unit": "value.days_unit",
        "unowned": "field.unowned",
        "per_km2": "field.per_km2",
        "per_1000": "field.per_1000",
        "cell": "field.cell",
        "previous": "field.previous",
        "change": "field.change",
        "compound": "field.compound",
        "management": "field.management_type",
        "households": "field.households",
        "slider": "slider.title",
        "all_days": "slider.all",
    }
    return {k: html.escape(t(v, lang)) for k, v in keys.items()}


def _check(frame, name: str, columns: set[str]) -> gpd.GeoDataFrame:
    missing = columns - set(frame.columns)
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {sorted(missing)}")
    if frame.crs is None:
        raise ValueError(f"{name} frame has no CRS; set it (EPSG:4326 expected)")
    if not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs("EPSG:4326")
    return frame[frame.geometry.notna() & ~frame.geometry.is_empty]


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
        Tiles to draw under the layers (:func:`web_map.basemap.resolve_basemap`);
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
    grids = _check(figures.grids, "grids", set(GRID_COLUMNS) - {"unit_id"})
    if grids.empty:
        raise ValueError("the grids frame has no drawable geometry")
    cells = _check(figures.cells, "cells", {"cell", "incidents", "previous"})
    ucells = _check(figures.unowned_cells, "unowned_cells", {"cell", "unowned", "per_km2"})
    compounds = _check(figures.compounds, "compounds", {"name", "management_type"})
    gaps = None
    if figures.gaps is not None:
        gaps = _check(figures.gaps, "gaps", {"grid_code", "cell", "days_since_visit"})
    shift = basemap.shift if basemap else None
    grids, cells, ucells, compounds, gaps = (
        shift_frame(f, shift) for f in (grids, cells, ucells, compounds, gaps)
    )

    use_local_assets(static_url)
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in grids.total_bounds)
    m = folium.Map(
        location=[(min_lat + max_lat) / 2, (min_lon + max_lon) / 2],
        zoom_start=12,
        tiles=None,
        control_scale=True,
        maxZoom=18,  # markercluster needs a map maxZoom (max_zoom only goes to tiles)
        zoomSnap=0.25,  # fit the chosen area closely, not to the next whole zoom
    )
    m.get_root().title = html.escape(t("dashboard.title", lang, district=district_name).strip())
    for i, spec in enumerate(basemap.layers if basemap else ()):
        folium.TileLayer(
            tiles=spec.url,
            attr=html.escape(spec.attribution),
            name=t("tiles.name", lang) if i == 0 else spec.name,
            subdomains=spec.subdomains or "abc",
            overlay=i > 0,
            control=i == 0,
            max_zoom=18,
        ).add_to(m)
    for pane, z in _PANES.items():
        CustomPane(f"dash-{pane}", z_index=z).add_to(m)

    window = figures.window
    legends: list[Legend] = []
    scales: dict[str, dict] = {}

    # Incident heat, whole window and per day.
    heat_counts = cells["incidents"].to_numpy()
    scales["heat"], heat_items = count_scale(heat_counts, RAMP_INCIDENTS)
    legends.append(Legend(t("legend.heat_unit", lang, res=figures.res), heat_items))
    daily = figures.daily
    scales["daily"], daily_items = count_scale(daily["count"].to_numpy(), RAMP_INCIDENTS)
    legends.append(
        Legend(t("legend.daily_unit", lang), daily_items, css_class="dash-daily", hidden=True)
    )
    has_previous = int(cells["previous"].sum()) > 0
    # Computed here from the figures, with the same rule as GET /v1/incidents/heat.
    rising = heat.rising(cells["incidents"], cells["previous"])
    if has_previous:
        legends.append(
            Legend(
                t("layer.rising", lang),
                [(f"line:{RISING_COLOR}", t("legend.rising", lang, min=heat.RISING_MIN_GAIN))],
            )
        )
    else:
        legends.append(Legend(t("legend.rising_none", lang), [("", "")]))

    # Per-grid choropleths.
    scales["cov"], cov_items = break_scale(
        COVERAGE_BREAKS, RAMP_COVERAGE, fmt=lambda b: f"{b * 100:.0f}%", none=NO_DATA
    )
    legends.append(
        Legend(t("legend.coverage_unit", lang), [*cov_items, (NO_DATA, t("value.none", lang))])
    )
    scales["dsv"], dsv_items = break_scale(DAYS_BREAKS, RAMP_DAYS, fmt=str, none=NEVER_COLOR)
    # Whole days: 0, 1–2, 3–6, 7–13, ≥ 14 rather than the bounds' "< 1", "1–3" …
    day_labels = ["0", *(f"{a}–{b - 1}" for a, b in itertools.pairwise(DAYS_BREAKS))]
    labels = [*day_labels, dsv_items[-1][1]]
    dsv_items = [(c, lab) for (c, _), lab in zip(dsv_items, labels, strict=True)]
    never = (NEVER_COLOR, t("value.never", lang))
    legends.append(Legend(t("legend.since_unit", lang), [*dsv_items, never]))
    scales["gap"] = scales["dsv"]
    if gaps is not None:
        legends.append(Legend(t("legend.gaps_unit", lang), [*dsv_items, never]))
    else:
        legends.append(Legend(t("legend.gaps_hint", lang), [("", "")]))
    scales["rate"], rate_items = break_scale(
        value_breaks(grids["per_1000_households"]), RAMP_RATE, fmt=str, none=NO_DATA
    )
    legends.append(Legend(t("legend.rate_unit", lang), rate_items))
    scales["ukm"], ukm_items = break_scale(
        value_breaks(grids["unowned_per_km2"]), RAMP_UNOWNED, fmt=str, none=None, zero_none=True
    )
    legends.append(Legend(t("legend.unowned_km2_unit", lang), [(None, "0"), *ukm_items]))
    scales["ucell"], ucell_items = count_scale(ucells["unowned"].to_numpy(), RAMP_UNOWNED)
    legends.append(Legend(t("legend.unowned_cells_unit", lang), ucell_items))
    n_no_worker = int((~grids["has_worker"].astype(bool)).sum())
    legends.append(
        Legend(
            t("layer.no_worker", lang),
            [
                (
                    f"outline:{NO_WORKER_COLOR}",
                    t("dashboard.no_worker_count", lang, count=n_no_worker),
                )
            ],
        )
    )
    mtypes = [
        {
            "key": k,
            "color": c,
            "label": html.escape(t(f"management.{k}", lang)),
            "size": 14 if k == "unowned" else 10,
        }
        for k, c in MANAGEMENT_COLORS.items()
    ]
    legends.append(
        Legend(t("layer.compounds", lang), [(f"dot:{x['color']}", x["label"]) for x in mtypes])
    )

    first_day = window.first_day()
    n_days = (window.last_day() - first_day).days + 1
    type_index = {k: i for i, k in enumerate(MANAGEMENT_COLORS)}
    pts = compounds.geometry
    data = {
        "grids": _feature_collection(grids, _grid_props(grids)),
        "heat": _feature_collection(
            cells,
            [
                {"cell": c, "n": int(n), "p": int(p), "up": bool(u)}
                for c, n, p, u in zip(
                    cells["cell"], cells["incidents"], cells["previous"], rising, strict=True
                )
            ],
        ),
        "daily": _daily(daily),
        "days_labels": [f"{first_day + timedelta(days=i):%Y-%m-%d}" for i in range(n_days)],
        "gaps": _feature_collection(
            gaps,
            [
                {"cell": c, "grid": html.escape(str(g)), "dsv": _nan_none(d, 0)}
                for c, g, d in zip(
                    gaps["cell"], gaps["grid_code"], gaps["days_since_visit"], strict=True
                )
            ],
        )
        if gaps is not None
        else {"type": "FeatureCollection", "features": []},
        "ucells": _feature_collection(
            ucells,
            [
                {
                    "cell": r.cell,
                    "n": int(r.unowned),
                    "hh": int(r.households),
                    "km2": _nan_none(r.per_km2, 2),
                    "r1000": _nan_none(r.per_1000, 2),
                }
                for r in ucells.itertuples()
            ],
        ),
        "compounds": [
            [
                round(float(y), COORD_DECIMALS),
                round(float(x), COORD_DECIMALS),
                type_index.get(mt, 0),
                html.escape(str(name)),
                None if hh is None or (isinstance(hh, float) and math.isnan(hh)) else int(hh),
            ]
            for x, y, mt, name, hh in zip(
                pts.x,
                pts.y,
                compounds["management_type"],
                compounds["name"],
                compounds["households"] if "households" in compounds else [None] * len(pts),
                strict=True,
            )
        ],
        "mtypes": mtypes,
        "scales": scales,
        "colors": {"no_worker": NO_WORKER_COLOR, "rising": RISING_COLOR},
        "L": _labels(lang),
    }
    DashData(data).add_to(m)

    JsLayer(grid_layer("cov", "cov", "dash-fill"), t("layer.coverage", lang), show=False).add_to(m)
    JsLayer(grid_layer("dsv", "dsv", "dash-fill"), t("layer.since_visit", lang), show=False).add_to(
        m
    )
    JsLayer(grid_layer("r1000", "rate", "dash-fill"), t("layer.rate", lang), show=False).add_to(m)
    JsLayer(
        grid_layer("ukm", "ukm", "dash-fill"), t("layer.unowned_density", lang), show=False
    ).add_to(m)
    if gaps is not None:
        JsLayer(GAPS_JS, f"{t('layer.gaps', lang)} ({len(gaps)})", show=True).add_to(m)
    heat_layer = JsLayer(HEAT_JS, t("layer.incident_heat", lang), show=True).add_to(m)
    JsLayer(UNOWNED_CELLS_JS, t("layer.unowned_cells", lang), show=False).add_to(m)
    outline = JsLayer(OUTLINE_JS, t("layer.grid_outline", lang), show=True).add_to(m)
    if has_previous:
        JsLayer(RISING_JS, f"{t('layer.rising', lang)} ({int(rising.sum())})", show=True).add_to(m)
    JsLayer(NO_WORKER_JS, f"{t('layer.no_worker', lang)} ({n_no_worker})", show=True).add_to(m)
    ClusterLayer(t("layer.compounds", lang), static_url, show=False).add_to(m)
    DaySlider(heat_layer.get_name()).add_to(m)

    folium.LayerControl(collapsed=False).add_to(m)
    heading = t("dashboard.heading", lang)
    if district_name:
        heading = f"{district_name} · {heading}"
    prev = window.previous
    DashboardPanel(
        heading=heading,
        window=t(
            "dashboard.window",
            lang,
            start=f"{first_day:%Y-%m-%d}",
            end=f"{window.last_day():%Y-%m-%d}",
            days=f"{window.days:g}",
            pstart=f"{prev.first_day():%Y-%m-%d}",
            pend=f"{prev.last_day():%Y-%m-%d}",
        ),
        legend=legend_html(legends, t("legend.title", lang)),
        table=kpi_table_html(grids, lang),
        html_lang=t("html.lang", lang),
        kpi_title=t("dashboard.kpi", lang),
        outline_name=outline.get_name(),
        bounds=[[min_lat, min_lon], [max_lat, max_lon]],
        filters=filter_form_html(_form(figures, lang), lang, interactive=interactive),
    ).add_to(m)
    return m


def _daily(daily) -> dict[str, list[int]]:
    """``{cell: [day, count, day, count, …]}``: compact for the page."""
    out: dict[str, list[int]] = {}
    for cell, day, count in zip(daily["cell"], daily["day"], daily["count"], strict=True):
        out.setdefault(str(cell), []).extend((int(day), int(count)))
    return out


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
