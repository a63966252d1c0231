"""The dashboard's page data: the figures as the compact JSON its script draws from.

:func:`page_data` is written once into the page as ``gridmapDash``
(:class:`web_map.pages.dashboard.layers.DashData`): grids with every per-grid figure,
heat cells (whole window, per day, rising), patrol gaps, unowned-compound cells,
compounds as ``[lat, lon, type, name, households]`` rows, the colour scales and the
tooltip labels. Coordinates are rounded to 6 decimals (~0.1 m); names are
HTML-escaped, since tooltips are HTML.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from web_map.i18n import t
from web_map.pages.dashboard.legends import Classes
from web_map.pages.dashboard.scales import MANAGEMENT_COLORS, NO_WORKER_COLOR, RISING_COLOR

COORD_DECIMALS = 6  # ~0.1 m; see web_map.pages.overview

_EMPTY = {"type": "FeatureCollection", "features": []}


@dataclass
class DashFrames:
    """The figures' frames as drawn: checked, in EPSG:4326, on the basemap's datum."""

    grids: gpd.GeoDataFrame
    cells: gpd.GeoDataFrame
    ucells: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame | None


def _nan_none(v: Any, digits: int = 4) -> float | None:
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


_LABELS = {
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


def _labels(lang: str) -> dict[str, str]:
    return {k: html.escape(t(v, lang)) for k, v in _LABELS.items()}


def _daily(daily: pd.DataFrame) -> dict[str, list[int]]:
    """``{cell: [day, count, day, count, …]}``: compact for the page."""
    out: dict[str, list[int]] = {}
    for cell, day, count in zip(daily["cell"], daily["day"], daily["count"], strict=True):
        out.setdefault(str(cell), []).extend((int(day), int(count)))
    return out


def _heat(cells: gpd.GeoDataFrame, rising: Any) -> dict:
    return _feature_collection(
        cells,
        [
            {"cell": c, "n": int(n), "p": int(p), "up": bool(u)}
            for c, n, p, u in zip(
                cells["cell"], cells["incidents"], cells["previous"], rising, strict=True
            )
        ],
    )


def _gaps(gaps: gpd.GeoDataFrame | None) -> dict:
    if gaps is None:
        return _EMPTY
    return _feature_collection(
        gaps,
        [
            {"cell": c, "grid": html.escape(str(g)), "dsv": _nan_none(d, 0)}
            for c, g, d in zip(
                gaps["cell"], gaps["grid_code"], gaps["days_since_visit"], strict=True
            )
        ],
    )


def _ucells(ucells: gpd.GeoDataFrame) -> dict:
    return _feature_collection(
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
    )


def _compounds(compounds: gpd.GeoDataFrame) -> list[list[Any]]:
    type_index = {k: i for i, k in enumerate(MANAGEMENT_COLORS)}
    pts = compounds.geometry
    households = compounds["households"] if "households" in compounds else [None] * len(pts)
    return [
        [
            round(float(y), COORD_DECIMALS),
            round(float(x), COORD_DECIMALS),
            type_index.get(mt, 0),
            html.escape(str(name)),
            None if hh is None or (isinstance(hh, float) and math.isnan(hh)) else int(hh),
        ]
        for x, y, mt, name, hh in zip(
            pts.x, pts.y, compounds["management_type"], compounds["name"], households, strict=True
        )
    ]


def page_data(
    frames: DashFrames,
    daily: pd.DataFrame,
    window: Any,
    classes: Classes,
    lang: str,
) -> dict[str, Any]:
    """The ``gridmapDash`` object of the page (``window``: a :class:`geo.incidents.heat.Window`)."""
    first_day = window.first_day()
    n_days = (window.last_day() - first_day).days + 1
    return {
        "grids": _feature_collection(frames.grids, _grid_props(frames.grids)),
        "heat": _heat(frames.cells, classes.rising),
        "daily": _daily(daily),
        "days_labels": [f"{first_day + timedelta(days=i):%Y-%m-%d}" for i in range(n_days)],
        "gaps": _gaps(frames.gaps),
        "ucells": _ucells(frames.ucells),
        "compounds": _compounds(frames.compounds),
        "mtypes": classes.mtypes,
        "scales": classes.scales,
        "colors": {"no_worker": NO_WORKER_COLOR, "rising": RISING_COLOR},
        "L": _labels(lang),
    }
