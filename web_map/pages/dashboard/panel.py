"""The dashboard's HTML around the map: side panel with the KPI table, and the legend.

Plain HTML, CSS and a few lines of vanilla JavaScript (no jQuery, no CDN): a click
on a table header sorts by that column, a click on a row zooms the map to the grid.
The legend is HTML too, since branca's colormap legend loads d3 from a CDN.

This module gathers what the panel shows; the markup is in the templates
``dashboard_panel.html``, ``dashboard_legend.html``, ``dashboard_kpi_table.html`` and
``dashboard_filter_form.html`` (with ``css/dashboard.css``, ``js/dashboard_panel.js``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd

from web_map.i18n import t
from web_map.templating import TemplateElement, render

SIDE_WIDTH_PX = 620


@dataclass
class Legend:
    """One legend section: a title and ``(swatch, label)`` items.

    A swatch is a fill colour, ``None`` (empty box), ``"outline:<colour>"`` (dashed
    outline) or ``"dot:<colour>"`` (a circle marker).
    """

    title: str
    items: Sequence[tuple[str | None, str]]
    css_class: str = ""
    hidden: bool = False


def _swatch(spec: str | None) -> dict[str, str] | None:
    """The swatch's class and style (None: no swatch)."""
    if spec == "":
        return None
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
    return {"cls": cls, "style": style}


def legend_html(sections: list[Legend], title: str) -> str:
    """The legend box: one compact section per layer."""
    shown = [
        {
            "title": s.title,
            "css_class": s.css_class,
            "hidden": s.hidden,
            "note": list(s.items) == [("", "")],  # a note, no swatches
            "entries": [{"swatch": _swatch(sw), "label": label} for sw, label in s.items],
        }
        for s in sections
    ]
    return render("dashboard_legend.html", title=title, sections=shown)


def _num(v: Any, digits: int) -> tuple[str, str]:
    """(sort value, shown text) of a number that may be NaN ("-1" sorts it last)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-1", "—"
    return f"{float(v):.{digits}f}", f"{float(v):.{digits}f}"


_KPI_HEAD = (
    ("code", "text", "field.code"),
    ("name", "text", "field.name"),
    ("incidents", "num", "field.incidents_short"),
    ("change", "num", "field.change_short"),
    ("rate", "num", "field.rate_short"),
    ("coverage", "num", "field.coverage_short"),
    ("since_visit", "num", "field.since_visit_short"),
    ("unowned", "num", "field.unowned_short"),
    ("unowned_km2", "num", "field.unowned_km2_short"),
)


def _kpi_cells(r: Any, lang: str) -> list[tuple[str, str]]:
    """``(data-v, text)`` of a grid's numeric cells, in :data:`_KPI_HEAD` order."""
    cov = r.coverage
    has_cov = cov is not None and not math.isnan(cov)
    dsv = r.days_since_visit
    change = int(r.change)
    return [
        (str(int(r.incidents)), str(int(r.incidents))),
        (str(change), f"{change:+d}"),
        _num(r.per_1000_households, 1),
        (f"{cov:.4f}", f"{cov * 100:.1f}%") if has_cov else ("-1", "—"),
        ("9999", t("value.never_short", lang))
        if math.isnan(dsv)
        else (str(int(dsv)), str(int(dsv))),
        (str(int(r.unowned)), str(int(r.unowned))),
        _num(r.unowned_per_km2, 1),
    ]


def kpi_table_html(grids: gpd.GeoDataFrame, lang: str) -> str:
    """Per-grid KPI table; rows carry the grid's bounds, cells their sort values.

    ``grids`` is in EPSG:4326 with the columns of
    :data:`geo.store.dashboard.GRID_COLUMNS` (``data-v`` holds the exact figure:
    coverage as a share 0–1, rates with one decimal, ``-1`` for "unknown").
    """
    head = [{"key": k, "type": typ, "label": t(label, lang)} for k, typ, label in _KPI_HEAD]
    bounds = grids.geometry.bounds.to_numpy()
    rows = [
        {
            "code": str(r.code),
            "name": str(r.name),
            "has_worker": bool(r.has_worker),
            "bounds": json.dumps([[round(y0, 6), round(x0, 6)], [round(y1, 6), round(x1, 6)]]),
            "cells": _kpi_cells(r, lang),
        }
        for r, (x0, y0, x1, y1) in zip(grids.itertuples(), bounds, strict=True)
    ]
    no_worker = t("dashboard.no_worker_badge", lang)
    return render("dashboard_kpi_table.html", head=head, rows=rows, no_worker=no_worker)


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


_FILTER_LABELS = {
    "from": "filter.from",
    "to": "filter.to",
    "category": "filter.category",
    "street": "filter.street",
    "community": "filter.community",
    "res": "filter.res",
    "all": "filter.all",
    "apply": "filter.apply",
}


def _filter_summary(form: FilterForm, lang: str) -> str:
    every = t("filter.all", lang)
    communities = {c: n for c, n, _ in form.communities}
    return " · ".join(
        [
            f"{t('filter.category', lang)}: " + dict(form.categories).get(form.category, every),
            f"{t('filter.street', lang)}: " + dict(form.streets).get(form.street, every),
            f"{t('filter.community', lang)}: " + communities.get(form.community, every),
            f"H3 {form.res}",
        ]
    )


def filter_form_html(form: FilterForm, lang: str, *, interactive: bool) -> str:
    """The filter form (GET to the page itself), or a plain summary in an export.

    An exported file has no server to ask, so it shows what was chosen instead.
    """
    by_street: dict[str, list[tuple[str, str]]] = {}
    for code, name, street in form.communities:
        by_street.setdefault(street, []).append((code, name))
    street_names = dict(form.streets)
    return render(
        "dashboard_filter_form.html",
        interactive=interactive,
        summary=_filter_summary(form, lang) if not interactive else "",
        form=form,
        lang=lang,
        L={k: t(v, lang) for k, v in _FILTER_LABELS.items()},
        groups=[(street_names.get(s, s), items) for s, items in by_street.items()],
    )


class DashboardPanel(TemplateElement):
    """Side panel (heading, window, legend, KPI table), layout CSS and the table's JS."""

    template_name = "dashboard_panel.html"

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
        # heading/window/kpi_title are plain text (the template escapes them); legend,
        # table and filters are markup from their own templates.
        self.heading = heading
        self.window = window
        self.kpi_title = kpi_title
        self.legend = legend
        self.table = table
        self.filters = filters
        self.bounds = bounds  # [[south, west], [north, east]] to fit at load
        self.html_lang = html_lang
        self.side = SIDE_WIDTH_PX
        # JS name of the grid-outline GeoJson whose shape a row click highlights.
        self.outline_name = outline_name
