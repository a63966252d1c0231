"""Colour ramps and classes for the dashboard's layers and legends.

Ramps are ColorBrewer 5-class sequential schemes (single- or multi-hue, light = low)
and the Okabe–Ito palette for categories: all readable with the common colour-vision
deficiencies. A *scale* is what the page's JavaScript needs to colour a value:
``{"uppers": [...], "colors": [...], "none": colour for no data, "zero_none": bool}``
— a value takes the first colour whose upper bound is greater than it (see
``gridmapDash.classify`` in ``templates/js/dashboard.js``); each scale comes with
its legend items ``(colour, label)``.
"""

from __future__ import annotations

import numpy as np

# ColorBrewer 5-class sequential ramps, light (low) to dark (high).
RAMP_INCIDENTS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # YlOrRd
RAMP_COVERAGE = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")  # YlGnBu
RAMP_UNOWNED = ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f")  # Purples
RAMP_RATE = ("#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603")  # Oranges
RAMP_DAYS = ("#f7f7f7", "#d9d9d9", "#bdbdbd", "#969696", "#636363")  # Greys
NEVER_COLOR = "#3f3f3f"  # never patrolled: darker than every class of RAMP_DAYS
NO_DATA = "#bdbdbd"
NO_WORKER_COLOR = "#cc79a7"  # Okabe–Ito reddish purple, unlike every ramp above
RISING_COLOR = "#0072b2"  # Okabe–Ito blue: stands out on the yellow–red heat
# Okabe–Ito colours per management type; unowned gets the loudest and a larger dot.
MANAGEMENT_COLORS = {
    "property_company": "#0072b2",
    "unit": "#009e73",
    "self_governed": "#f0e442",
    "unowned": "#d55e00",
}
COVERAGE_BREAKS = (0.2, 0.4, 0.6, 0.8)
DAYS_BREAKS = (1, 3, 7, 14)  # days since last patrol: 0, 1–2, 3–6, 7–13, ≥ 14


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


def value_breaks(values, n: int = 5, decimals: int = 1) -> list[float]:
    """Up to ``n - 1`` rounded quantile breaks of the positive, finite ``values``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return []
    qs = np.quantile(v, np.linspace(0, 1, n + 1)[1:-1])
    breaks = sorted({round(float(q), decimals) for q in qs if round(float(q), decimals) > 0})
    return breaks


def ramp_colors(ramp: tuple[str, ...], k: int) -> list[str]:
    """``k`` colours spread over a 5-colour ramp (keeping both ends for k >= 2)."""
    if k <= 0:
        return []
    if k == 1:
        return [ramp[-2]]
    return [ramp[round(i)] for i in np.linspace(0, len(ramp) - 1, k)]


def count_scale(values, ramp) -> tuple[dict, list[tuple[str, str]]]:
    classes = count_classes(values)
    colors = ramp_colors(ramp, len(classes))
    scale = {
        "uppers": [hi + 1 for _lo, hi in classes],
        "colors": colors,
        "none": None,
        "zero_none": True,
    }
    items = [
        (c, str(lo) if lo == hi else f"{lo}–{hi}")
        for (lo, hi), c in zip(classes, colors, strict=True)
    ]
    return scale, items


def break_scale(
    breaks, ramp, *, fmt, none: str | None, zero_none: bool = False
) -> tuple[dict, list[tuple[str, str]]]:
    colors = ramp_colors(ramp, len(breaks) + 1) if breaks else [ramp[2]]
    labels = []
    for i, color in enumerate(colors):
        if not breaks:
            labels.append((color, "> 0"))
        elif i == 0:
            labels.append((color, f"< {fmt(breaks[0])}"))
        elif i == len(breaks):
            labels.append((color, f"≥ {fmt(breaks[-1])}"))
        else:
            labels.append((color, f"{fmt(breaks[i - 1])}–{fmt(breaks[i])}"))
    scale = {"uppers": list(breaks), "colors": colors, "none": none, "zero_none": zero_none}
    return scale, labels
