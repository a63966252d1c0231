"""The dashboard's colour scales and the legend sections that explain them.

:func:`scales_and_legends` classes every figure the map colours (heat per cell and per
day, the per-grid choropleths, unowned compounds per cell) with the ramps of
:mod:`web_map.pages.dashboard.scales`, and writes one legend section per layer, with
its unit, in the page's language.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.incidents import heat

from web_map.i18n import t
from web_map.pages.dashboard.panel import Legend
from web_map.pages.dashboard.scales import (
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


@dataclass
class Classes:
    """The scales the page's script colours with, the legend, and what they counted."""

    scales: dict[str, dict] = field(default_factory=dict)
    legends: list[Legend] = field(default_factory=list)
    rising: Any = None  # per heat cell: a rising hotspot (heat.rising)
    has_previous: bool = False  # the previous window had incidents
    n_no_worker: int = 0
    mtypes: list[dict[str, Any]] = field(default_factory=list)  # management types


def scales_and_legends(
    grids: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    ucells: gpd.GeoDataFrame,
    daily: pd.DataFrame,
    *,
    res: int,
    has_gaps: bool,
    lang: str,
) -> Classes:
    """Every scale of the page and its legend section, in the order the legend shows."""
    out = Classes()
    _heat(out, cells, daily, res, lang)
    _grid_choropleths(out, grids, has_gaps, lang)
    out.scales["ucell"], ucell_items = count_scale(ucells["unowned"].to_numpy(), RAMP_UNOWNED)
    out.legends.append(Legend(t("legend.unowned_cells_unit", lang), ucell_items))
    out.n_no_worker = int((~grids["has_worker"].astype(bool)).sum())
    count = t("dashboard.no_worker_count", lang, count=out.n_no_worker)
    out.legends.append(Legend(t("layer.no_worker", lang), [(f"outline:{NO_WORKER_COLOR}", count)]))
    out.mtypes = [
        {
            "key": k,
            "color": c,
            "label": html.escape(t(f"management.{k}", lang)),
            "size": 14 if k == "unowned" else 10,
        }
        for k, c in MANAGEMENT_COLORS.items()
    ]
    out.legends.append(
        Legend(t("layer.compounds", lang), [(f"dot:{x['color']}", x["label"]) for x in out.mtypes])
    )
    return out


def _heat(out: Classes, cells: gpd.GeoDataFrame, daily: pd.DataFrame, res: int, lang: str) -> None:
    """Incident heat, whole window and per day, and the rising hotspots."""
    out.scales["heat"], heat_items = count_scale(cells["incidents"].to_numpy(), RAMP_INCIDENTS)
    out.legends.append(Legend(t("legend.heat_unit", lang, res=res), heat_items))
    out.scales["daily"], daily_items = count_scale(daily["count"].to_numpy(), RAMP_INCIDENTS)
    out.legends.append(
        Legend(t("legend.daily_unit", lang), daily_items, css_class="dash-daily", hidden=True)
    )
    out.has_previous = int(cells["previous"].sum()) > 0
    # Computed here from the figures, with the same rule as GET /v1/incidents/heat.
    out.rising = heat.rising(cells["incidents"], cells["previous"])
    if out.has_previous:
        rule = t("legend.rising", lang, min=heat.RISING_MIN_GAIN)
        out.legends.append(Legend(t("layer.rising", lang), [(f"line:{RISING_COLOR}", rule)]))
    else:
        out.legends.append(Legend(t("legend.rising_none", lang), [("", "")]))


def _grid_choropleths(out: Classes, grids: gpd.GeoDataFrame, has_gaps: bool, lang: str) -> None:
    """Coverage, days since the last patrol (grids and gaps), rate, unowned density."""
    out.scales["cov"], cov_items = break_scale(
        COVERAGE_BREAKS, RAMP_COVERAGE, fmt=lambda b: f"{b * 100:.0f}%", none=NO_DATA
    )
    out.legends.append(
        Legend(t("legend.coverage_unit", lang), [*cov_items, (NO_DATA, t("value.none", lang))])
    )
    out.scales["dsv"], dsv_items = break_scale(DAYS_BREAKS, RAMP_DAYS, fmt=str, none=NEVER_COLOR)
    # Whole days: 0, 1–2, 3–6, 7–13, ≥ 14 rather than the bounds' "< 1", "1–3" …
    day_labels = ["0", *(f"{a}–{b - 1}" for a, b in itertools.pairwise(DAYS_BREAKS))]
    labels = [*day_labels, dsv_items[-1][1]]
    dsv_items = [(c, lab) for (c, _), lab in zip(dsv_items, labels, strict=True)]
    never = (NEVER_COLOR, t("value.never", lang))
    out.legends.append(Legend(t("legend.since_unit", lang), [*dsv_items, never]))
    out.scales["gap"] = out.scales["dsv"]
    if has_gaps:
        out.legends.append(Legend(t("legend.gaps_unit", lang), [*dsv_items, never]))
    else:
        out.legends.append(Legend(t("legend.gaps_hint", lang), [("", "")]))
    out.scales["rate"], rate_items = break_scale(
        value_breaks(grids["per_1000_households"]), RAMP_RATE, fmt=str, none=NO_DATA
    )
    out.legends.append(Legend(t("legend.rate_unit", lang), rate_items))
    out.scales["ukm"], ukm_items = break_scale(
        value_breaks(grids["unowned_per_km2"]), RAMP_UNOWNED, fmt=str, none=None, zero_none=True
    )
    out.legends.append(Legend(t("legend.unowned_km2_unit", lang), [(None, "0"), *ukm_items]))


def rising_count(classes: Classes) -> int:
    """How many heat cells are rising hotspots."""
    return int(np.asarray(classes.rising).sum())
