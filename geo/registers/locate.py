"""Placing ledger rows: compounds without coordinates through the forward geocoder,
and any point into the street, community and grid it falls in (for exports)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import geopandas as gpd
import shapely

from geo.registers.fields import MIN_SCORE, PLACE_KINDS
from geo.registers.records import CompoundRecord, RowReport


def locate(
    records: Iterable[CompoundRecord],
    search: Callable[[str], list],
    reports: dict[int, RowReport],
    *,
    min_score: float = MIN_SCORE,
) -> None:
    """Place records without coordinates through the forward geocoder.

    ``search(text)`` returns candidates (``kind, name, score, lon, lat, matched``)
    best first, WGS-84. The address is tried, then the name; the first candidate of
    a kind in ``PLACE_KINDS`` scoring at least ``min_score`` wins. ``reports``
    (row → report) are updated: ``located`` with the score, or ``unlocatable``.
    """
    for rec in records:
        report = reports[rec.row]
        best = None
        for text in (rec.address, rec.name):
            if not text:
                continue
            best = next(
                (c for c in search(text) if c.kind in PLACE_KINDS and c.score >= min_score),
                None,
            )
            if best is not None:
                break
        if best is None:
            report.status = "unlocatable"
            report.reason = (
                "no coordinates and the address matched no known place; place it by hand"
            )
            report.reason_zh = "无坐标且地址未匹配到已知地点，请人工落点"
            continue
        rec.lon, rec.lat = float(best.lon), float(best.lat)
        rec.located_by, rec.match_score = "address", float(best.score)
        rec.matched = f"{best.kind}:{best.name} ({best.matched})"
        report.status, report.score, report.matched = "located", rec.match_score, rec.matched


def place_chains(units: gpd.GeoDataFrame, points: Sequence[shapely.Point]) -> list[dict]:
    """Per WGS-84 point: street/community/grid names and the grid code it falls in.

    ``units`` are the live streets, communities and grids (``level, name, code``)."""
    out = [dict.fromkeys(("street", "community", "grid", "grid_code")) for _ in points]
    if len(units) == 0 or not points:
        return out
    tree = shapely.STRtree(units.geometry.values)
    pi, ui = tree.query(points, predicate="within")
    levels, names, codes = (units[c].to_numpy() for c in ("level", "name", "code"))
    for p, u in zip(pi.tolist(), ui.tolist(), strict=True):
        if out[p][levels[u]] is None:
            out[p][levels[u]] = names[u]
            if levels[u] == "grid":
                out[p]["grid_code"] = codes[u]
    return out
