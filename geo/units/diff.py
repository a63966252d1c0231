"""Compare a draft boundary set with the live map, unit by unit (pure).

Publishing versions only what changed: a unit whose code, name, parent and geometry
(within ``tolerance_deg``) are the same keeps its live version.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

# 1e-9° is ~0.1 mm: file round trips (GeoPackage, GeoJSON) keep far better than that.
DEFAULT_TOLERANCE_DEG = 1e-9


def _same_geometry(a, b, tolerance: float) -> bool:
    if a is None or b is None:
        return a is b
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance))


def _text(v) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)


def diff_units(
    live: gpd.GeoDataFrame, draft: gpd.GeoDataFrame, tolerance_deg: float = DEFAULT_TOLERANCE_DEG
) -> pd.DataFrame:
    """Status per code: ``unchanged``, ``changed``, ``new`` (in draft only), ``removed``.

    Both frames need columns level, code, name, parent_code, geometry. Returns a frame
    with columns code, level, status, what (comma-separated changed fields).
    """
    live_by = {(r.level, r.code): r for r in live.itertuples()}
    draft_by = {(r.level, r.code): r for r in draft.itertuples()}
    rows = []
    for key, d in draft_by.items():
        old = live_by.get(key)
        if old is None:
            rows.append((d.code, d.level, "new", ""))
            continue
        what = [
            field
            for field, same in (
                ("name", _text(old.name) == _text(d.name)),
                ("parent", _text(old.parent_code) == _text(d.parent_code)),
                ("geometry", _same_geometry(old.geometry, d.geometry, tolerance_deg)),
            )
            if not same
        ]
        rows.append((d.code, d.level, "changed" if what else "unchanged", ",".join(what)))
    for key, old in live_by.items():
        if key not in draft_by:
            rows.append((old.code, old.level, "removed", ""))
    out = pd.DataFrame(rows, columns=["code", "level", "status", "what"])
    return out.sort_values(["level", "code"], kind="stable").reset_index(drop=True)


def summary(diff: pd.DataFrame) -> dict[str, int]:
    counts = diff["status"].value_counts()
    return {s: int(counts.get(s, 0)) for s in ("unchanged", "changed", "new", "removed")}


__all__ = ["DEFAULT_TOLERANCE_DEG", "diff_units", "summary"]
