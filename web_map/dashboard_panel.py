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

SIDE_WIDTH_PX = 620


@dataclass
class Legend:
    """One legend section: a title and ``(swatch, label)`` items.

    A swatch is a fill colour, ``None`` (empty box), ``"outline:<colour>"`` (dashed
    outline) or ``"dot:<colour>"`` (a circle marker).
    """

    title: str
    items: list[tuple[str | None, str]]
    css_class: str = ""
    hidden: bool = False


def _swatch(spec: str | None) -> str:
    if spec == "":
        return ""
    if spec is None:
        style = "border: 1px solid #737373; background: transparent;"
        cls = "sw"
    elif spec.startswith("outline:"):
        style = f"border: 2px dashed {spec.split(':', 1)[1]}; background: transparent;"
        cls = "sw"
    elif spec.startswith("line:"):
        style = f"border: 2.5px solid {spec.split(':', 1)[1]}; background: transparent;"
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
        cls = f' class="{html.escape(s.css_class)}"' if s.css_class else ""
        hidden = " hidden" if s.hidden else ""
        if s.items == [("", "")]:  # a note, no swatches
            parts.append(f'<p class="dash-note"{hidden}>{html.escape(s.title)}</p>')
            continue
        items = "".join(
            f"<li>{_swatch(sw)}<span>{html.escape(label)}</span></li>" for sw, label in s.items
        )
        parts.append(f"<h3{cls}{hidden}>{html.escape(s.title)}</h3><ul{cls}{hidden}>{items}</ul>")
    parts.append("</div>")
    return "".join(parts)


def _num(v, digits: int) -> tuple[str, str]:
    """(sort value, shown text) of a number that may be NaN ("-1" sorts it last)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-1", "—"
    return f"{float(v):.{digits}f}", f"{float(v):.{digits}f}"


def kpi_table_html(grids: gpd.GeoDataFrame, lang: str) -> str:
    """Per-grid KPI table; rows carry the grid's bounds, cells their sort values.

    ``grids`` is in EPSG:4326 with the columns of
    :data:`geo.store.dashboard.GRID_COLUMNS` (``data-v`` holds the exact figure:
    coverage as a share 0–1, rates with one decimal, ``-1`` for "unknown").
    """
    head = [
        ("code", "text", t("field.code", lang)),
        ("name", "text", t("field.name", lang)),
        ("incidents", "num", t("field.incidents_short", lang)),
        ("change", "num", t("field.change_short", lang)),
        ("rate", "num", t("field.rate_short", lang)),
        ("coverage", "num", t("field.coverage_short", lang)),
        ("since_visit", "num", t("field.since_visit_short", lang)),
        ("unowned", "num", t("field.unowned_short", lang)),
        ("unowned_km2", "num", t("field.unowned_km2_short", lang)),
    ]
    ths = "".join(
        f'<th data-key="{k}" data-type="{typ}" scope="col">{html.escape(label)}</th>'
        for k, typ, label in head
    )
    rows = []
    bounds = grids.geometry.bounds.to_numpy()
    no_worker = t("dashboard.no_worker_badge", lang)
    for r, (x0, y0, x1, y1) in zip(grids.itertuples(), bounds, strict=True):
        cov = r.coverage
        has_cov = cov is not None and not math.isnan(cov)
        cov_v = f"{cov:.4f}" if has_cov else "-1"
        cov_text = f"{cov * 100:.1f}%" if has_cov else "—"
        dsv = r.days_since_visit
        dsv_v, dsv_text = (
            ("9999", t("value.never_short", lang))
            if math.isnan(dsv)
            else (str(int(dsv)), str(int(dsv)))
        )
        rate_v, rate_text = _num(r.per_1000_households, 1)
        ukm_v, ukm_text = _num(r.unowned_per_km2, 1)
        badge = "" if r.has_worker else f'<span class="nw">{html.escape(no_worker)}</span>'
        box = json.dumps([[round(y0, 6), round(x0, 6)], [round(y1, 6), round(x1, 6)]])
        code, name = html.escape(str(r.code)), html.escape(str(r.name))
        change = int(r.change)
        flag = "" if r.has_worker else ' class="no-worker"'
        rows.append(
            f'<tr data-code="{code}" data-bounds="{html.escape(box)}"{flag}>'
            f'<td data-v="{code}">{code}</td>'
            f'<td data-v="{name}">{name}{badge}</td>'
            f'<td class="n" data-v="{int(r.incidents)}">{int(r.incidents)}</td>'
            f'<td class="n" data-v="{change}">{change:+d}</td>'
            f'<td class="n" data-v="{rate_v}">{rate_text}</td>'
            f'<td class="n" data-v="{cov_v}">{cov_text}</td>'
            f'<td class="n" data-v="{dsv_v}">{dsv_text}</td>'
            f'<td class="n" data-v="{int(r.unowned)}">{int(r.unowned)}</td>'
            f'<td class="n" data-v="{ukm_v}">{ukm_text}</td></tr>'
        )
    return (
        f'<table id="dash-kpi"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


@dataclass
class FilterForm:
    """The filter choices shown on the page (values as given, codes for places)."""

    start: str
    end: str
    res: int
    category: str
    street: str
    community: str
    categories: list[tuple[str, str]]  # (code, label)
    streets: list[tuple[str, str]]  # (code, name)
    communities: list[tuple[str, str, str]]  # (code, name, street code)


def _options(pairs: list[tuple[str, str]], chosen: str, all_label: str | None) -> str:
    out = [f'<option value="">{html.escape(all_label)}</option>'] if all_label else []
    for value, label in pairs:
        sel = " selected" if value == chosen else ""
        out.append(f'<option value="{html.escape(value)}"{sel}>{html.escape(label)}</option>')
    return "".join(out)


def filter_form_html(form: FilterForm, lang: str, *, interactive: bool) -> str:
    """The filter form (GET to the page itself), or a plain summary in an export.

    An exported file has no server to ask, so it shows what was chosen instead.
    """
    if not interactive:
        parts = [
            f"{t('filter.category', lang)}: "
            + (dict(form.categories).get(form.category, t("filter.all", lang))),
            f"{t('filter.street', lang)}: "
            + (dict(form.streets).get(form.street, t("filter.all", lang))),
            f"{t('filter.community', lang)}: "
            + ({c: n for c, n, _ in form.communities}.get(form.community, t("filter.all", lang))),
            f"H3 {form.res}",
        ]
        return f'<p class="dash-filter-summary">{html.escape(" · ".join(parts))}</p>'
    all_label = t("filter.all", lang)
    by_street: dict[str, list[tuple[str, str]]] = {}
    for code, name, street in form.communities:
        by_street.setdefault(street, []).append((code, name))
    street_names = dict(form.streets)
    groups = "".join(
        f'<optgroup label="{html.escape(street_names.get(s, s))}">'
        f"{_options(items, form.community, None)}</optgroup>"
        for s, items in by_street.items()
    )
    res = "".join(
        f'<option value="{r}"{" selected" if r == form.res else ""}>{r}</option>'
        for r in range(7, 13)
    )
    return (
        '<form class="dash-filter" method="get">'
        f'<input type="hidden" name="lang" value="{html.escape(lang)}">'
        f"<label>{html.escape(t('filter.from', lang))}"
        f'<input type="date" name="from" value="{html.escape(form.start)}"></label>'
        f"<label>{html.escape(t('filter.to', lang))}"
        f'<input type="date" name="to" value="{html.escape(form.end)}"></label>'
        f'<label>{html.escape(t("filter.category", lang))}<select name="category">'
        f"{_options(form.categories, form.category, all_label)}</select></label>"
        f'<label>{html.escape(t("filter.street", lang))}<select name="street">'
        f"{_options(form.streets, form.street, all_label)}</select></label>"
        f'<label>{html.escape(t("filter.community", lang))}<select name="community">'
        f'<option value="">{html.escape(all_label)}</option>{groups}</select></label>'
        f'<label>{html.escape(t("filter.res", lang))}<select name="res">{res}</select></label>'
        f'<button type="submit">{html.escape(t("filter.apply", lang))}</button>'
        "</form>"
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
          #dash-kpi { border-collapse: collapse; width: 100%; font-size: 11.5px; }
          #dash-kpi th { position: sticky; top: 0; background: #f3f3f3; cursor: pointer;
            text-align: left; padding: 4px 4px; border-bottom: 1px solid #bbb;
            vertical-align: bottom; user-select: none; }
          #dash-kpi th[data-type="num"], #dash-kpi td.n { text-align: right; }
          #dash-kpi th[aria-sort="ascending"]::after { content: " ▲"; font-size: 10px; }
          #dash-kpi th[aria-sort="descending"]::after { content: " ▼"; font-size: 10px; }
          #dash-kpi td { padding: 3px 4px; border-bottom: 1px solid #eee; white-space: nowrap; }
          #dash-kpi tbody tr { cursor: pointer; }
          #dash-kpi tbody tr:hover { background: #eef4fb; }
          #dash-kpi tbody tr.selected { background: #d6e6f7; }
          .dash-legend { padding: 6px 12px 8px; border-bottom: 1px solid #e0e0e0;
            display: grid; grid-template-columns: minmax(0, 210px) 1fr; gap: 2px 10px;
            align-items: center; }
          .dash-legend h2 { font-size: 13px; margin: 0; grid-column: 1 / -1; }
          .dash-legend h3 { font-size: 12px; margin: 0; color: #444; font-weight: 600; }
          .dash-legend ul { list-style: none; margin: 0; padding: 0; display: flex;
            flex-wrap: wrap; gap: 1px 8px; font-size: 11px; }
          .dash-legend li { display: flex; align-items: center; gap: 3px; }
          .dash-legend .sw { display: inline-block; width: 16px; height: 11px;
            box-sizing: border-box; }
          .dash-legend .sw.dot { width: 10px; height: 10px; border-radius: 50%; }
          .dash-legend .dash-note { grid-column: 1 / -1; font-size: 11px; color: #666;
            margin: 0; }
          .dash-legend [hidden] { display: none !important; }
          .leaflet-control-layers { font-size: 12px; line-height: 1.5; }
          #dash-kpi .nw { margin-left: 4px; padding: 0 3px; border-radius: 3px;
            background: #cc79a7; color: #fff; font-size: 10px; }
          .dash-filter { display: flex; flex-wrap: wrap; gap: 4px 8px; margin-top: 6px;
            font-size: 12px; align-items: center; }
          .dash-filter label { display: flex; align-items: center; gap: 3px; }
          .dash-filter input, .dash-filter select { font: inherit; max-width: 150px; }
          .dash-filter button { font: inherit; padding: 1px 10px; }
          .dash-filter-summary { margin-top: 4px !important; }
          table.dash-tip { border-collapse: collapse; font: 12px/1.35 "PingFang SC",
            "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; }
          table.dash-tip th { text-align: left; color: #555; font-weight: 600;
            padding: 0 8px 0 0; white-space: nowrap; }
          table.dash-tip td { padding: 0; white-space: nowrap; }
          .dash-slider { background: #fff; padding: 5px 8px; font: 12px/1.4 "PingFang SC",
            "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; }
          .dash-slider label { display: block; }
          .dash-slider input { width: 240px; }
          .dash-cluster div { width: 100%; height: 100%; border-radius: 50%;
            display: flex; align-items: center; justify-content: center;
            box-shadow: 0 0 0 2px rgba(255,255,255,0.9), 0 1px 3px rgba(0,0,0,0.5); }
          .dash-cluster span { background: #fff; border-radius: 9px; padding: 0 4px;
            font: 600 11px/16px sans-serif; color: #222; }
          .dash-cpd span { display: block; width: 100%; height: 100%; border-radius: 50%;
            border: 1px solid #333; box-sizing: border-box; }
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        <aside class="dash-side">
          <header><h1>{{ this.heading }}</h1><p>{{ this.window }}</p>
          {{ this.filters }}
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
          // Fit below the layer control (top right), so it hides none of the grids;
          // deferred: the control is created by a later script.
          map.fitBounds({{ this.bounds|tojson }}, {animate: false});
          setTimeout(function () {
            var ctl = document.querySelector(".leaflet-control-layers");
            var top = ctl ? Math.min(ctl.offsetHeight + 10, map.getSize().y / 3) : 10;
            map.fitBounds({{ this.bounds|tojson }},
              {paddingTopLeft: [10, top], paddingBottomRight: [10, 70], animate: false});
          }, 0);
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
        bounds: list | None = None,
        filters: str = "",
    ) -> None:
        super().__init__()
        self._name = "DashboardPanel"
        # heading/window/kpi_title are plain text; legend and table are built escaped.
        self.heading = html.escape(heading)
        self.window = html.escape(window)
        self.kpi_title = html.escape(kpi_title)
        self.legend = legend
        self.table = table
        self.filters = filters  # built escaped by filter_form_html
        self.bounds = bounds  # [[south, west], [north, east]] to fit at load
        self.html_lang = html_lang
        self.side = SIDE_WIDTH_PX
        # JS name of the grid-outline GeoJson whose shape a row click highlights.
        self.outline_name = outline_name
