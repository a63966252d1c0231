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
import json
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium.map import CustomPane
from folium.template import Template

from web_map.assets import use_local_assets
from web_map.i18n import check_lang, t
from web_map.overview import (
    COORD_DECIMALS,
    LEVEL_STYLES,
    _level_layer,
    _Panel,
    _panel_html,
    _to_wgs84,
)

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


class _Editor(MacroElement):
    """The editor panel and its script; it finds the map and grid layer by their names."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <link rel="stylesheet" href="{{ this.geoman_css }}"/>
        <script src="{{ this.geoman_js }}"></script>
        <style>
          .gm-panel { position: fixed; top: 10px; left: 54px; z-index: 1000; width: 330px;
            max-height: calc(100vh - 40px); overflow: auto;
            background: rgba(255,255,255,0.96); padding: 8px 12px; border-radius: 4px;
            box-shadow: 0 1px 4px rgba(0,0,0,.35);
            font: 13px/1.5 "PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif; }
          .gm-panel h1 { font-size: 15px; margin: 0 0 6px; }
          .gm-panel input[type=text] { width: 100%; box-sizing: border-box; margin: 2px 0; }
          .gm-panel button { margin: 2px 2px 2px 0; }
          .gm-panel .msg { margin-top: 4px; white-space: pre-wrap; }
          .gm-panel .err { color: #b10026; }
          .gm-panel .ok { color: #006d2c; }
          .gm-panel table { border-collapse: collapse; width: 100%; font-size: 12px; }
          .gm-panel td, .gm-panel th { border-bottom: 1px solid #ddd; padding: 1px 3px;
            text-align: right; }
          .gm-panel td:first-child, .gm-panel th:first-child { text-align: left; }
          .gm-label { background: none; border: none; box-shadow: none; font-weight: bold;
            color: #00441b; text-shadow: 0 0 3px #fff, 0 0 3px #fff; white-space: nowrap; }
          .gm-label.street { color: #08306b; font-size: 14px; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <div class="gm-panel" id="gm-panel">
          <h1>{{ this.heading }}</h1>
          <input type="text" id="gm-search" placeholder="{{ this.s.search }}"/>
          <div id="gm-hint">{{ this.s.hint }}</div>
          <div id="gm-findings-count">{{ this.findings_count }}</div>
          <div id="gm-selected" style="display:none">
            <b>{{ this.s.selected }}</b>: <span id="gm-code"></span> <span id="gm-name"></span>
            {% if this.editable %}
            (<span>{{ this.s.version }}</span> <span id="gm-etag"></span>)
            <div>
              <button id="gm-edit">{{ this.s.edit }}</button>
              <button id="gm-split">{{ this.s.split }}</button>
              <button id="gm-merge">{{ this.s.merge }}</button>
              <button id="gm-border">{{ this.s.border }}</button>
            </div>
            <div><input type="text" id="gm-community" placeholder="{{ this.s.community_code }}"/>
              <button id="gm-move">{{ this.s.move }}</button></div>
            <input type="text" id="gm-reason" placeholder="{{ this.s.reason }}"/>
            <div>
              <button id="gm-preview">{{ this.s.preview }}</button>
              <button id="gm-save">{{ this.s.save }}</button>
              <button id="gm-cancel">{{ this.s.cancel }}</button>
            </div>
            {% endif %}
          </div>
          <div id="gm-msg" class="msg"></div>
          <div id="gm-impact"></div>
        </div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        (function () {
          const map = {{ this._parent.get_name() }};
          const grids = {{ this.grid_layer }};
          const findingsLayer = {{ this.findings_layer }};
          const labels = {{ this.labels|tojson }};
          const labelGroup = {{ this.label_group }};
          const S = {{ this.s|tojson }};
          const API = {{ this.api_base|tojson }};
          const SEL = {color: "#d94801", weight: 3, fillOpacity: 0.55};
          const $ = (id) => document.getElementById(id);
          let sel = null, etag = null, mode = null, other = null, otherEtag = null, line = null;
          map.attributionControl.setPrefix("Leaflet");
          map.pm.setLang({{ this.lang|tojson }} === "zh" ? "zh" : "en");
          labels.forEach(function (l) {
            L.marker([l.lat, l.lon], {interactive: false, icon: L.divIcon({
              className: "gm-label " + l.level, html: l.name, iconSize: null})})
              .addTo(labelGroup);
          });
          function byCode(code) {
            let found = null;
            grids.eachLayer(function (l) { if (l.feature.properties.code === code) found = l; });
            return found;
          }
          function say(text, cls) { const m = $("gm-msg"); m.textContent = text;
            m.className = "msg " + (cls || ""); }
          function resetStyles() { grids.eachLayer(function (l) { grids.resetStyle(l); }); }
          function stopEditing() {
            if (sel && sel.pm) sel.pm.disable();
            map.pm.disableDraw();
            if (line) { map.removeLayer(line); line = null; }
          }
          function clearSelection() {
            stopEditing(); resetStyles(); sel = null; etag = null; mode = null; other = null;
            $("gm-selected").style.display = "none"; $("gm-impact").innerHTML = "";
          }
          const EDITABLE = {{ this.editable|tojson }};
          async function fetchEtag(code) {
            if (!EDITABLE) return null;  // a saved file has no server behind it
            const r = await fetch(API + "/v1/grids/" + encodeURIComponent(code));
            return r.ok ? r.headers.get("ETag") : null;
          }
          async function select(layer) {
            clearSelection();
            sel = layer; layer.setStyle(SEL); layer.bringToFront();
            const p = layer.feature.properties;
            $("gm-code").textContent = p.code; $("gm-name").textContent = p.name;
            etag = await fetchEtag(p.code);
            if (EDITABLE) $("gm-etag").textContent = etag || "?";
            $("gm-selected").style.display = "block"; say("");
          }
          grids.on("click", async function (e) {
            const layer = e.layer;
            if ((mode === "merge" || mode === "border-pick") && sel && layer !== sel) {
              other = layer; otherEtag = await fetchEtag(layer.feature.properties.code);
              layer.setStyle({color: "#2171b5", weight: 3});
              if (mode === "border-pick") { mode = "border"; drawLine(); }
              else { say(layer.feature.properties.code); }
              return;
            }
            if (mode === "reshape" && layer === sel) return;
            // Drawing a split or border line: the clicks place its points.
            if (map.pm.globalDrawModeEnabled() || mode === "split" || mode === "border") return;
            select(layer);
          });
          function drawLine() {
            say(S.draw_line);
            map.pm.enableDraw("Line", {snappable: false, finishOn: "dblclick"});
          }
          map.on("pm:create", function (e) {
            if (e.shape !== "Line") return;
            line = e.layer; map.pm.disableDraw(); say("");
          });
          if (EDITABLE) {
          $("gm-edit").onclick = async function () {
            stopEditing(); mode = "reshape";
            // The map shows simplified shapes; edit the exact one. No snapping: it would
          // snap to those display shapes, and neighbours follow on the server anyway.
            const code = sel.feature.properties.code;
            const r = await fetch(API + "/v1/grids/" + encodeURIComponent(code));
            if (r.ok) {
              const f = await r.json();
              etag = r.headers.get("ETag"); $("gm-etag").textContent = etag;
              grids.removeLayer(sel);
              grids.addData({type: "Feature", id: f.id, properties: {code: code,
                name: sel.feature.properties.name}, geometry: f.geometry});
              sel = byCode(code); sel.setStyle(SEL);
            }
            sel.pm.enable({allowSelfIntersection: false, snappable: false});
          };
          $("gm-split").onclick = function () { stopEditing(); mode = "split"; drawLine(); };
          $("gm-merge").onclick = function () { stopEditing(); mode = "merge"; say(S.pick_other); };
          $("gm-border").onclick = function () {
            stopEditing(); mode = "border-pick"; say(S.pick_other); };
          $("gm-move").onclick = function () { stopEditing(); mode = "move";
            save(true); };
          $("gm-cancel").onclick = clearSelection;
          $("gm-preview").onclick = function () { save(true); };
          $("gm-save").onclick = function () { save(false); };
          }
          function request() {
            const code = sel.feature.properties.code;
            const reason = $("gm-reason").value.trim();
            const tags = [etag];
            let url, body;
            if (mode === "reshape") {
              url = "/v1/grids/" + encodeURIComponent(code) + "/reshape";
              body = {geometry: sel.toGeoJSON(false).geometry, crs: "wgs84", mode: "clip"};
            } else if (mode === "split" && line) {
              url = "/v1/grids/" + encodeURIComponent(code) + "/split";
              body = {line: line.toGeoJSON(false).geometry, crs: "wgs84"};
            } else if (mode === "merge" && other) {
              url = "/v1/grids/merge";
              body = {grids: [code, other.feature.properties.code], keep: code};
              tags.push(otherEtag);
            } else if (mode === "border" && other && line) {
              url = "/v1/grids/border";
              body = {grids: [code, other.feature.properties.code],
                      line: line.toGeoJSON(false).geometry, crs: "wgs84"};
              tags.push(otherEtag);
            } else if (mode === "move") {
              url = "/v1/grids/" + encodeURIComponent(code) + "/move";
              body = {community: $("gm-community").value.trim()};
            } else { return null; }
            body.reason = reason || "-";
            return {url: url, body: body, tags: tags, reason: reason};
          }
          function showImpact(impact) {
            const rows = Object.keys(impact.workload_after || {})
              .concat(Object.keys(impact.workload_before || {}))
              .filter(function (v, i, a) { return a.indexOf(v) === i; }).sort();
            const cell = function (g, k) {
              const b = (impact.workload_before[g] || {})[k];
              const a = (impact.workload_after[g] || {})[k];
              return (b === undefined ? "–" : b) + " → " + (a === undefined ? "–" : a);
            };
            let h = "<b>" + S.impact + "</b><br>" +
              S.compounds_moving + ": " + impact.compounds.length + "<br>" +
              S.households_moving + ": " + impact.households + "<br>" +
              S.incidents_moving + ": " + impact.open_incidents.length + "<br>" +
              S.cells_moving + ": " + impact.patrol_cells.length + "<br>" +
              S.workers_losing + ": " + impact.workers_losing_grid.length + "<br>" +
              "<b>" + S.workload + "</b><table><tr><th>" + S["col.grid"] + "</th><th>" +
              S["col.households"] + "</th><th>" + S["col.compounds"] + "</th><th>" +
              S["col.unowned"] + "</th><th>" + S["col.incidents"] + "</th></tr>";
            rows.forEach(function (g) {
              h += "<tr><td>" + g + "</td><td>" + cell(g, "households") + "</td><td>" +
                cell(g, "compounds") + "</td><td>" + cell(g, "unowned_compounds") + "</td><td>" +
                cell(g, "incidents_30d") + "</td></tr>";
            });
            $("gm-impact").innerHTML = h + "</table>";
          }
          async function refreshGrid(code) {
            const r = await fetch(API + "/v1/grids/" + encodeURIComponent(code));
            const old = byCode(code);
            if (old) grids.removeLayer(old);
            if (!r.ok) return;
            const f = await r.json();
            grids.addData({type: "Feature", id: f.id, properties: {
              code: f.properties.code, name: f.properties.name}, geometry: f.geometry});
          }
          async function save(dryRun) {
            if (!sel) return;
            const req = request();
            if (!req) return;
            if (!dryRun && !req.reason) { say(S.no_reason, "err"); return; }
            findingsLayer.clearLayers();
            const r = await fetch(API + req.url + (dryRun ? "?dry_run=true" : ""), {
              method: "POST",
              headers: {"Content-Type": "application/json", "If-Match": req.tags.join(", ")},
              body: JSON.stringify(req.body)});
            const out = await r.json();
            if (r.status === 412) { say(S.stale, "err"); return; }
            if (!r.ok) {
              say(S.refused + ": " + (({{ this.lang|tojson }} === "zh") ?
                  out.detail_zh : out.detail), "err");
              if (out.findings) findingsLayer.addData(out.findings);
              return;
            }
            showImpact(out.impact);
            if (dryRun) return;
            const keep = sel.feature.properties.code;
            stopEditing(); sel = null;
            for (const code of Object.keys(out.etags)) await refreshGrid(code);
            for (const code of out.retired) {  // merged away: no longer live, nothing to fetch
              const gone = byCode(code);
              if (gone) grids.removeLayer(gone);
            }
            say(S.saved + ": " + Object.entries(out.etags).map(function (e) {
              return e[0] + " " + e[1]; }).join(", "), "ok");
            mode = null;
            const again = byCode(keep);
            if (again) { await select(again); say(S.saved, "ok"); showImpact(out.impact); }
            window.gridmapPlanner.saved += 1;
          }
          $("gm-search").addEventListener("keydown", function (e) {
            if (e.key !== "Enter") return;
            const q = e.target.value.trim();
            let hit = null;
            grids.eachLayer(function (l) { const p = l.feature.properties;
              if (!hit && (p.code === q || p.name.indexOf(q) >= 0)) hit = l; });
            const lab = labels.find(function (l) {
              return l.code === q || l.name.indexOf(q) >= 0; });
            if (hit) { map.fitBounds(hit.getBounds()); select(hit); }
            else if (lab) { map.setView([lab.lat, lab.lon], 15); }
            else { say(S.not_found + ": " + q, "err"); }
          });
          window.gridmapPlanner = {map: map, grids: grids, byCode: byCode, select: select,
                                   saved: 0, editing: function () { return mode; },
                                   current: function () { return sel; }};
        })();
        {% endmacro %}
        """
    )

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
    tiles_url: str | None = None,
    editable: bool = True,
) -> folium.Map:
    """Build the planner page.

    ``levels`` maps each level to a GeoDataFrame (code, name, parent_code, geometry);
    ``special`` the special grids; ``findings`` the live topology findings as GeoJSON
    (:func:`geo.topology.findings_to_geojson`). ``api_base`` is the edit API's origin
    (empty: the page's own server). ``editable=False`` leaves the editor out (a saved
    file has no server to save to): layers, labels, search and findings remain.
    """
    check_lang(lang)
    frames = {lvl: _to_wgs84(f, lvl) for lvl, f in levels.items() if f is not None}
    district = frames["district"]
    use_local_assets(static_url)
    x0, y0, x1, y1 = (float(v) for v in district.total_bounds)
    name = " / ".join(str(n) for n in district["name"])
    # Canvas, not SVG: one <canvas> draws 20,000 grids far faster than 20,000 <path>s.
    m = folium.Map(
        location=[(y0 + y1) / 2, (x0 + x1) / 2],
        zoom_start=13,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    m.get_root().title = html.escape(_s("title", lang, district=name))
    if tiles_url:
        folium.TileLayer(tiles=tiles_url, attr="intranet", name="basemap").add_to(m)
    # Only the grid pane takes the mouse: the panes above it draw outlines only and let
    # clicks through, so a click (or hover) anywhere reaches the grid under it.
    for level in ("grid", "special", "community", "street", "district"):
        CustomPane(
            f"gridmap-{level}", z_index=_PANE_Z[level], pointer_events=level == "grid"
        ).add_to(m)
    grid_style = LEVEL_STYLES["grid"]
    grid_layer = folium.GeoJson(
        _grid_collection(frames.get("grid", district.iloc[:0])),
        name={"zh": "网格", "en": "Grids"}[lang],
        style_function=lambda _f: grid_style,
        tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=["", ""], sticky=True),
        pane="gridmap-grid",
    )
    grid_layer.add_to(m)
    for level in ("community", "street", "district"):
        if level in frames:
            shown = frames[level].set_geometry(_display(frames[level].geometry), crs=4326)
            _level_layer(level, shown, lang).add_to(m)
    if special is not None and len(special):
        sp = (
            special.to_crs(4326) if special.crs and not special.crs.equals("EPSG:4326") else special
        )
        folium.GeoJson(
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
                    for r, g in zip(sp.to_dict("records"), _rounded(sp.geometry), strict=True)
                ],
            },
            name=_s("layer.special", lang),
            style_function=lambda _f: _SPECIAL_STYLE,
            tooltip=folium.GeoJsonTooltip(fields=["code", "name", "kind"], aliases=["", "", ""]),
            pane="gridmap-special",
        ).add_to(m)
    findings = findings or {"type": "FeatureCollection", "features": []}
    for f in findings["features"]:
        f["properties"] = {
            k: html.escape(str(v)) for k, v in f["properties"].items() if not isinstance(v, dict)
        }
    findings_layer = folium.GeoJson(
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
    findings_layer.add_to(m)
    label_group = folium.FeatureGroup(name=_s("layer.labels", lang))
    label_group.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.fit_bounds([[y0, x0], [y1, x1]])
    # The legend of the levels (with counts) and the page language, as on the overview.
    _Panel(_panel_html(frames, lang, name), t("html.lang", lang)).add_to(m)
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
    ).add_to(m)
    return m


def planner_findings_json(findings) -> dict:
    """Live findings for the page: only what a planner acts on (errors and warnings)."""
    from geo.topology import findings_to_geojson

    doc = findings_to_geojson(findings)
    return json.loads(json.dumps(doc, default=str))
