"""The planner map (``/planner``): the four levels and special grids with labels, search
by code or name, the live topology findings, and the grid editor.

The editor is leaflet-geoman (vendored under ``static/vendor/leaflet-geoman``), driven by
a small script that talks to the edit API of the same server: select a grid, edit its
vertices, split it by drawing a line, merge it with a neighbour, move a shared border,
preview the impact (``dry_run``), save with ``If-Match``. A refused edit shows its
findings on the map; a stale one says so and changes nothing.
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

from geo.services.boundaries import findings_for_live
from geo.store import boundaries as bstore
from geo.store import registers
from geo.topology import findings_to_geojson
from geo.vocab import LEVELS

from web_map.assets import use_local_assets
from web_map.basemaps import (
    Basemap,
    add_tile_layers,
    settings_basemap,
    shift_geojson,
    shift_geometries,
)
from web_map.i18n import check_lang
from web_map.pages.overview import (
    COORD_DECIMALS,
    LEVEL_STYLES,
    LevelsPanel,
    level_layer,
    shift_frames,
    to_wgs84,
)
from web_map.templating import TemplateElement

if TYPE_CHECKING:
    from geo.services.state import ServiceState

GEOMAN_JS = "vendor/leaflet-geoman/leaflet-geoman.min.js"
GEOMAN_CSS = "vendor/leaflet-geoman/leaflet-geoman.css"
_PANE_Z = {"grid": 410, "special": 415, "community": 420, "street": 430, "district": 440}
_SPECIAL_STYLE = {"color": "#6a3d9a", "weight": 2, "fillColor": "#cab2d6", "fillOpacity": 0.3}
_FINDING_STYLE = {"color": "#e31a1c", "weight": 2, "fillColor": "#e31a1c", "fillOpacity": 0.45}

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "{district} 网格规划编辑",
        "heading": "网格规划编辑",
        "search": "按编码或名称查找…",
        "layer.special": "专属网格",
        "layer.labels": "名称标注",
        "layer.findings": "拓扑问题",
        "hint": "点击网格选中；拖动顶点、画线分割，或选择相邻网格合并。",
        "selected": "已选网格",
        "version": "版本",
        "edit": "编辑顶点",
        "split": "画线分割",
        "merge": "与相邻网格合并",
        "border": "重画共同边界",
        "move": "移入社区",
        "preview": "预览影响",
        "save": "保存",
        "cancel": "取消",
        "reason": "修改原因（必填）",
        "pick_other": "请点击要合并/共边的相邻网格",
        "draw_line": "请在地图上画线（双击结束）",
        "saved": "已保存",
        "stale": "该网格已被他人修改，请刷新后重做",
        "refused": "修改被拒绝",
        "no_reason": "请先填写修改原因",
        "impact": "影响预览",
        "compounds_moving": "改变所属网格的楼院",
        "households_moving": "涉及户数",
        "incidents_moving": "改变所属网格的未办结事件",
        "cells_moving": "改变所属网格的巡防 H3 单元",
        "workers_losing": "失去网格的网格员",
        "workload": "工作量（前 → 后）",
        "col.grid": "网格",
        "col.households": "户数",
        "col.compounds": "楼院",
        "col.unowned": "无主管楼院",
        "col.incidents": "近30天事件",
        "findings_count": "拓扑问题：{count} 个",
        "community_code": "目标社区编码",
        "not_found": "未找到",
    },
    "en": {
        "title": "{district} grid planner",
        "heading": "Grid planner",
        "search": "Find by code or name…",
        "layer.special": "Special grids",
        "layer.labels": "Labels",
        "layer.findings": "Topology findings",
        "hint": (
            "Click a grid to select it; drag vertices, split by a line, or merge with a neighbour."
        ),
        "selected": "Selected grid",
        "version": "version",
        "edit": "Edit vertices",
        "split": "Split by a line",
        "merge": "Merge with a neighbour",
        "border": "Redraw shared border",
        "move": "Move to community",
        "preview": "Preview impact",
        "save": "Save",
        "cancel": "Cancel",
        "reason": "Reason (required)",
        "pick_other": "Click the neighbouring grid to merge with / share the border with",
        "draw_line": "Draw a line on the map (double-click to finish)",
        "saved": "Saved",
        "stale": "Someone else changed this grid; reload and redo your edit",
        "refused": "Edit refused",
        "no_reason": "Enter a reason first",
        "impact": "Impact preview",
        "compounds_moving": "Compounds changing grid",
        "households_moving": "Households affected",
        "incidents_moving": "Open incidents changing grid",
        "cells_moving": "Patrol H3 cells changing grid",
        "workers_losing": "Grid workers losing their grid",
        "workload": "Workload (before → after)",
        "col.grid": "Grid",
        "col.households": "Households",
        "col.compounds": "Compounds",
        "col.unowned": "Unowned",
        "col.incidents": "Incidents 30 d",
        "findings_count": "Topology findings: {count}",
        "community_code": "Target community code",
        "not_found": "Not found",
    },
}


def _s(key: str, lang: str, **fields: Any) -> str:
    return STRINGS[lang][key].format(**fields)


# Display coordinates: 5 decimals (≤ 1.1 m), matching the display simplification;
# shared vertices round alike, so borders stay shared on screen.
DISPLAY_DECIMALS = 5


def _rounded(geoms, decimals: int = COORD_DECIMALS) -> list:
    return list(
        shapely.transform(np.asarray(geoms, dtype=object), lambda xy: np.round(xy, decimals))
    )


# Display shapes are simplified together (shared borders stay shared) to this
# tolerance in degrees, about 1 m: invisible on screen, far fewer vertices at city
# scale. The editor fetches a grid's exact shape before editing it.
DISPLAY_TOLERANCE_DEG = 1e-5


def _display(geoms) -> list:
    arr = np.asarray(list(geoms), dtype=object)
    if len(arr) == 0:
        return []
    try:
        simple = shapely.coverage_simplify(arr, DISPLAY_TOLERANCE_DEG)
    except shapely.errors.GEOSException:  # not a clean coverage: simplify one by one
        simple = shapely.simplify(arr, DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    return _rounded(simple, DISPLAY_DECIMALS)


def _grid_collection(grids: gpd.GeoDataFrame) -> dict:
    features = []
    for rec, geom in zip(grids.to_dict("records"), _display(grids.geometry), strict=True):
        features.append(
            {
                "type": "Feature",
                "id": str(rec["code"]),
                "properties": {
                    "code": html.escape(str(rec["code"])),
                    "name": html.escape(str(rec["name"])),
                },
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    return {"type": "FeatureCollection", "features": features}


class _Editor(TemplateElement):
    """The editor panel and its script; it finds the map and grid layer by their names."""

    template_name = "planner_editor.html"

    def __init__(self, **kw: Any) -> None:
        super().__init__()
        self._name = "GridmapPlanner"
        for k, v in kw.items():
            setattr(self, k, v)


def _labels(frames: Mapping[str, gpd.GeoDataFrame]) -> list[dict]:
    out = []
    for level in ("street", "community"):
        frame = frames.get(level)
        if frame is None or frame.empty:
            continue
        points = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
        for code, name, pt in zip(frame["code"], frame["name"], points, strict=True):
            out.append(
                {
                    "level": level,
                    "code": str(code),
                    "name": html.escape(str(name)),
                    "lon": round(float(pt.x), COORD_DECIMALS),
                    "lat": round(float(pt.y), COORD_DECIMALS),
                }
            )
    return out


def build_planner_map(
    levels: Mapping[str, gpd.GeoDataFrame],
    special: gpd.GeoDataFrame | None = None,
    findings: dict | None = None,
    *,
    lang: str = "zh",
    static_url: str = "/static",
    api_base: str = "",
    basemap: Basemap | None = None,
    editable: bool = True,
) -> folium.Map:
    """Build the planner page.

    ``levels`` maps each level to a GeoDataFrame (code, name, parent_code, geometry);
    ``special`` the special grids; ``findings`` the live topology findings as GeoJSON
    (:func:`geo.topology.findings_to_geojson`). ``api_base`` is the edit API's origin
    (empty: the page's own server). ``basemap`` is drawn under the layers
    (:mod:`web_map.basemaps`); on a GCJ-02 one every layer is shifted to GCJ-02 and the
    editor sends and fetches shapes in GCJ-02. ``editable=False`` leaves the editor out
    (a saved file has no server to save to): layers, labels, search and findings remain.
    """
    check_lang(lang)
    shift = basemap.shift if basemap else None
    frames = {lvl: to_wgs84(f, lvl) for lvl, f in levels.items() if f is not None}
    frames = shift_frames(frames, basemap)
    district = frames["district"]
    use_local_assets(static_url)
    name = " / ".join(str(n) for n in district["name"])
    m = _new_map(district, _s("title", lang, district=name))
    add_tile_layers(m, basemap, lang)
    # Only the grid pane takes the mouse: the panes above it draw outlines only and let
    # clicks through, so a click (or hover) anywhere reaches the grid under it.
    for level in ("grid", "special", "community", "street", "district"):
        CustomPane(
            f"gridmap-{level}", z_index=_PANE_Z[level], pointer_events=level == "grid"
        ).add_to(m)
    grid_layer = _grid_layer(frames.get("grid", district.iloc[:0]), lang)
    grid_layer.add_to(m)
    for level in ("community", "street", "district"):
        if level in frames:
            shown = frames[level].set_geometry(_display(frames[level].geometry), crs=4326)
            level_layer(level, shown, lang).add_to(m)
    if special is not None and len(special):
        _special_layer(special, lang, shift).add_to(m)
    findings = shift_geojson(_escaped(findings), shift)
    findings_layer = _findings_layer(findings, lang)
    findings_layer.add_to(m)
    label_group = folium.FeatureGroup(name=_s("layer.labels", lang))
    label_group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    x0, y0, x1, y1 = (float(v) for v in district.total_bounds)
    m.fit_bounds([[y0, x0], [y1, x1]])
    # The legend of the levels (with counts) and the page language, as on the overview.
    LevelsPanel(frames, lang, name).add_to(m)
    _Editor(
        geoman_js=f"{static_url}/{GEOMAN_JS}",
        geoman_css=f"{static_url}/{GEOMAN_CSS}",
        heading=_s("heading", lang),
        findings_count=_s("findings_count", lang, count=len(findings["features"])),
        s=STRINGS[lang],
        lang=lang,
        api_base=api_base,
        grid_layer=grid_layer.get_name(),
        findings_layer=findings_layer.get_name(),
        label_group=label_group.get_name(),
        labels=_labels(frames),
        editable=editable,
        crs=shift or "wgs84",
    ).add_to(m)
    return m


def _new_map(district: gpd.GeoDataFrame, title: str) -> folium.Map:
    x0, y0, x1, y1 = (float(v) for v in district.total_bounds)
    # Canvas, not SVG: one <canvas> draws 20,000 grids far faster than 20,000 <path>s.
    m = folium.Map(
        location=[(y0 + y1) / 2, (x0 + x1) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    m.get_root().title = html.escape(title)  # type: ignore[attr-defined]
    return m


def _grid_layer(grids: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    grid_style = LEVEL_STYLES["grid"]
    return folium.GeoJson(
        _grid_collection(grids),
        name={"zh": "网格", "en": "Grids"}[lang],
        style_function=lambda _f: grid_style,
        tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=["", ""], sticky=True),
        pane="gridmap-grid",
    )


def _special_layer(special: gpd.GeoDataFrame, lang: str, shift: str | None) -> folium.GeoJson:
    sp = special.to_crs(4326) if special.crs and not special.crs.equals("EPSG:4326") else special
    geoms = _rounded(shift_geometries(sp.geometry.to_numpy(), shift))
    return folium.GeoJson(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {
                        "code": html.escape(str(r["code"])),
                        "name": html.escape(str(r["name"])),
                        "kind": html.escape(str(r.get("kind", ""))),
                    },
                    "geometry": shapely.geometry.mapping(g),
                }
                for r, g in zip(sp.to_dict("records"), geoms, strict=True)
            ],
        },
        name=_s("layer.special", lang),
        style_function=lambda _f: _SPECIAL_STYLE,
        tooltip=folium.GeoJsonTooltip(fields=["code", "name", "kind"], aliases=["", "", ""]),
        pane="gridmap-special",
    )


def _escaped(findings: dict | None) -> dict:
    """The findings with their properties HTML-escaped (tooltips are HTML)."""
    findings = findings or {"type": "FeatureCollection", "features": []}
    for f in findings["features"]:
        f["properties"] = {
            k: html.escape(str(v)) for k, v in f["properties"].items() if not isinstance(v, dict)
        }
    return findings


def _findings_layer(findings: dict, lang: str) -> folium.GeoJson:
    return folium.GeoJson(
        findings,
        name=_s("layer.findings", lang),
        style_function=lambda _f: _FINDING_STYLE,
        tooltip=folium.GeoJsonTooltip(
            fields=["type", "message_zh" if lang == "zh" else "message"], aliases=["", ""]
        )
        if findings["features"]
        else None,
        pane="gridmap-district",
    )


def render_planner(
    engine: Engine,
    lang: str,
    *,
    static_url: str = "/static",
    basemap: Basemap | None = None,
    editable: bool = True,
) -> str:
    """The planner page of the live map as HTML (also for ``gridmap map planner``)."""
    with engine.connect() as conn:
        units = bstore.units_frame(conn)
        special = registers.special_grids_frame(conn)
        findings = findings_for_live(conn)
    levels = {lvl: units[units["level"] == lvl] for lvl in LEVELS}
    m = build_planner_map(
        levels,
        special,
        findings_to_geojson(findings),
        lang=lang,
        static_url=static_url,
        basemap=basemap,
        editable=editable,
    )
    return m.get_root().render()


def planner_page(state: ServiceState, lang: str, *, static_url: str = "/static") -> str:
    """The page at ``/planner``: cached per language until the live map changes."""
    version = state.geocoder.version if state.geocoder else ""
    basemap = settings_basemap(state.settings)
    return state.cached_map(
        (version, lang, "planner"),
        lambda: render_planner(state.engine, lang, static_url=static_url, basemap=basemap),
    )
