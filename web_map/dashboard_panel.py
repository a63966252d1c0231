"""The dashboard's HTML around the map: side panel with the KPI table, and the legend.

Plain HTML, CSS and a few lines of vanilla JavaScript (no jQuery, no CDN): a click
on a table header sorts by that column, a click on a row zooms the map to the grid.
The legend is HTML too, since branca's colormap legend loads d3 from a CDN.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass

import geopandas as gpd
from branca.element import MacroElement
from folium.template import Template

from web_map.i18n import t

SIDE_WIDTH_PX = 540


@dataclass
class Legend:
    """One legend section: a title and ``(swatch, label)`` items.

    A swatch is a fill colour, ``None`` (empty box), ``"outline:<colour>"`` (dashed
    outline) or ``"dot:<colour>"`` (a circle marker).
    """

    title: str
    items: list[tuple[str | None, str]]


def _swatch(spec: str | None) -> str:
    if spec is None:
        style = "border: 1px solid #737373; background: transparent;"
        cls = "sw"
    elif spec.startswith("outline:"):
        style = f"border: 2px dashed {spec.split(':', 1)[1]}; background: transparent;"
        cls = "sw"
    elif spec.startswith("dot:"):
        style = f"background: {spec.split(':', 1)[1]}; border: 1px solid #333;"
        cls = "sw dot"
    else:
        style = f"background: {spec}; border: 1px solid rgba(0,0,0,0.25);"
        cls = "sw"
    return f'<span class="{cls}" style="{html.escape(style)}"></span>'


def legend_html(sections: list[Legend], title: str) -> str:
    """The legend box: one compact section per layer."""
    parts = [f'<div class="dash-legend"><h2>{html.escape(title)}</h2>']
    for s in sections:
        items = "".join(
            f"<li>{_swatch(sw)}<span>{html.escape(label)}</span></li>" for sw, label in s.items
        )
        parts.append(f"<h3>{html.escape(s.title)}</h3><ul>{items}</ul>")
    parts.append("</div>")
    return "".join(parts)


def kpi_table_html(grids: gpd.GeoDataFrame, lang: str) -> str:
    """Per-grid KPI table; rows carry the grid's bounds, cells their sort values.

    ``grids`` is in EPSG:4326 with columns code, name, incidents, coverage,
    unowned, has_worker.
    """
    head = [
        ("code", "text", t("field.code", lang)),
        ("name", "text", t("field.name", lang)),
        ("incidents", "num", t("field.incidents", lang)),
        ("coverage", "num", t("field.coverage", lang)),
        ("unowned", "num", t("field.unowned", lang)),
        ("worker", "text", t("field.worker", lang)),
    ]
    ths = "".join(
        f'<th data-key="{k}" data-type="{typ}" scope="col">{html.escape(label)}</th>'
        for k, typ, label in head
    )
    rows = []
    bounds = grids.geometry.bounds.to_numpy()
    for r, (x0, y0, x1, y1) in zip(grids.itertuples(), bounds, strict=True):
        cov = r.coverage
        has_cov = cov is not None and not math.isnan(cov)
        cov_v = f"{cov:.4f}" if has_cov else "-1"
        cov_text = f"{cov * 100:.1f}%" if has_cov else "—"
        worker = t("value.yes" if r.has_worker else "value.no", lang)
        box = json.dumps([[round(y0, 6), round(x0, 6)], [round(y1, 6), round(x1, 6)]])
        code, name = html.escape(str(r.code)), html.escape(str(r.name))
        flag = "" if r.has_worker else ' class="no-worker"'
        rows.append(
            f'<tr data-code="{code}" data-bounds="{html.escape(box)}"{flag}>'
            f'<td data-v="{code}">{code}</td>'
            f'<td data-v="{name}">{name}</td>'
            f'<td class="n" data-v="{int(r.incidents)}">{int(r.incidents)}</td>'
            f'<td class="n" data-v="{cov_v}">{cov_text}</td>'
            f'<td class="n" data-v="{int(r.unowned)}">{int(r.unowned)}</td>'
            f'<td data-v="{html.escape(worker)}">{html.escape(worker)}</td></tr>'
        )
    return (
        f'<table id="dash-kpi"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


class DashboardPanel(MacroElement):
    """Side panel (heading, window, legend, KPI table), layout CSS and the table's JS."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <script>document.documentElement.lang = {{ this.html_lang|tojson }};</script>
        <style>
          .folium-map { position: absolute !important; top: 0; bottom: 0; left: 0;
            width: calc(100% - {{ this.side }}px) !important; height: 100% !important; }
          .dash-side, .dash-legend {
            font: 13px/1.45 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
              "WenQuanYi Micro Hei", sans-serif; color: #222; }
          .dash-side { position: fixed; top: 0; right: 0; bottom: 0;
            width: {{ this.side }}px; box-sizing: border-box; display: flex;
            flex-direction: column; background: #fff; border-left: 1px solid #ccc; }
          .dash-side header { padding: 10px 12px 6px; border-bottom: 1px solid #e0e0e0; }
          .dash-side h1 { font-size: 16px; margin: 0 0 2px; }
          .dash-side p { margin: 0; color: #555; font-size: 12px; }
          .dash-side .dash-kpi-title { padding: 6px 12px 4px; font-weight: 600; color: #333; }
          .dash-table { overflow: auto; flex: 1; }
          #dash-kpi { border-collapse: collapse; width: 100%; font-size: 12px; }
          #dash-kpi th { position: sticky; top: 0; background: #f3f3f3; cursor: pointer;
            text-align: left; padding: 5px 6px; border-bottom: 1px solid #bbb;
            white-space: nowrap; user-select: none; }
          #dash-kpi th[data-type="num"], #dash-kpi td.n { text-align: right; }
          #dash-kpi th[aria-sort="ascending"]::after { content: " ▲"; font-size: 10px; }
          #dash-kpi th[aria-sort="descending"]::after { content: " ▼"; font-size: 10px; }
          #dash-kpi td { padding: 3px 5px; border-bottom: 1px solid #eee; white-space: nowrap; }
          #dash-kpi tbody tr { cursor: pointer; }
          #dash-kpi tbody tr:hover { background: #eef4fb; }
          #dash-kpi tbody tr.selected { background: #d6e6f7; }
          #dash-kpi tr.no-worker td:last-child { color: #a4366f; font-weight: 600; }
          .dash-legend { padding: 6px 12px 8px; border-bottom: 1px solid #e0e0e0;
            display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px;
            align-items: center; }
          .dash-legend h2 { font-size: 13px; margin: 0; grid-column: 1 / -1; }
          .dash-legend h3 { font-size: 12px; margin: 0; color: #444; font-weight: 600; }
          .dash-legend ul { list-style: none; margin: 0; padding: 0; display: flex;
            flex-wrap: wrap; gap: 1px 8px; font-size: 11px; }
          .dash-legend li { display: flex; align-items: center; gap: 3px; }
          .dash-legend .sw { display: inline-block; width: 16px; height: 11px;
            box-sizing: border-box; }
          .dash-legend .sw.dot { width: 10px; height: 10px; border-radius: 50%; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <aside class="dash-side">
          <header><h1>{{ this.heading }}</h1><p>{{ this.window }}</p>
          </header>
          {{ this.legend }}
          <p class="dash-kpi-title">{{ this.kpi_title }}</p>
          <div class="dash-table">{{ this.table }}</div>
        </aside>
        {% endmacro %}
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.setPrefix("Leaflet");
        (function () {
          var map = {{ this._parent.get_name() }};
          var table = document.getElementById("dash-kpi");
          var body = table.tBodies[0];
          var heads = table.tHead.rows[0].cells;
          var picked = null;
          table.tHead.addEventListener("click", function (e) {
            var th = e.target.closest("th");
            if (!th) { return; }
            var idx = th.cellIndex, num = th.dataset.type === "num";
            var dir = th.getAttribute("aria-sort") === "descending" ? "ascending"
              : (th.getAttribute("aria-sort") === "ascending" ? "descending"
              : (num ? "descending" : "ascending"));
            for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
            th.setAttribute("aria-sort", dir);
            var sign = dir === "ascending" ? 1 : -1;
            var rows = Array.prototype.slice.call(body.rows);
            rows.sort(function (a, b) {
              var x = a.cells[idx].dataset.v, y = b.cells[idx].dataset.v;
              return sign * (num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, "zh"));
            });
            rows.forEach(function (r) { body.appendChild(r); });
          });
          body.addEventListener("click", function (e) {
            var tr = e.target.closest("tr");
            if (!tr) { return; }
            var old = body.querySelector("tr.selected");
            if (old) { old.classList.remove("selected"); }
            tr.classList.add("selected");
            map.fitBounds(JSON.parse(tr.dataset.bounds), {maxZoom: 16, padding: [40, 40]});
            {% if this.outline_name %}
            var outline = {{ this.outline_name }};
            if (picked) { outline.resetStyle(picked); picked = null; }
            outline.eachLayer(function (layer) {
              if (layer.feature.properties.code === tr.dataset.code) { picked = layer; }
            });
            if (picked) {
              if (!map.hasLayer(outline)) { map.addLayer(outline); }
              picked.setStyle({color: "#000000", weight: 4, opacity: 1});
              picked.bringToFront();
            }
            {% endif %}
          });
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        *,
        heading: str,
        window: str,
        legend: str,
        table: str,
        html_lang: str,
        kpi_title: str,
        outline_name: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "DashboardPanel"
        # heading/window/kpi_title are plain text; legend and table are built escaped.
        self.heading = html.escape(heading)
        self.window = html.escape(window)
        self.kpi_title = html.escape(kpi_title)
        self.legend = legend
        self.table = table
        self.html_lang = html_lang
        self.side = SIDE_WIDTH_PX
        # JS name of the grid-outline GeoJson whose shape a row click highlights.
        self.outline_name = outline_name
