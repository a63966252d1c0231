"""Batch reverse geocoding: arrays of points → a frame of four-level answers.

Pure and vectorised: CRS conversion through :mod:`geo.crs`, lookup through
``GridLocator.locate_many`` (so the smallest-code border rule is the locator's, the
same as the single-point endpoint), H3 cells through :mod:`geo.hexgrid`.

The code/name columns are pandas ``Categorical`` over the units of each level: one
small integer per point instead of a Python string, which keeps 200,000-row chunks
cheap to build and to write to Parquet/Arrow (dictionary-encoded). Points covered by
no grid get NA.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

from geo import hexgrid
from geo.crs import to_wgs84
from geo.lookup.locator import GridLocator
from geo.vocab import LEVEL_ORDER

RESULT_COLUMNS = tuple(f"{lvl}_{part}" for lvl in LEVEL_ORDER for part in ("code", "name"))

LevelTables = dict[str, tuple[np.ndarray, pd.Index]]
_tables: weakref.WeakKeyDictionary[GridLocator, LevelTables] = weakref.WeakKeyDictionary()


def _level_tables(locator: GridLocator) -> LevelTables:
    """Per result column: (category index per grid row, then -1; categories), once per locator."""
    cached = _tables.get(locator)
    if cached is not None:
        return cached
    ids = locator.chain_ids(np.arange(len(locator), dtype=np.int64))
    out: LevelTables = {}
    for j, lvl in enumerate(LEVEL_ORDER):  # chain_ids column order: grid first
        for part in ("code", "name"):
            values = np.array(
                [getattr(locator.units[int(u)], part) if u >= 0 else None for u in ids[:, j]],
                dtype=object,
            )
            has = np.array([v is not None for v in values], dtype=bool)
            cats = pd.Index(sorted(set(values[has].tolist())), dtype=object)
            # One slot more than there are grids, holding -1: row -1 (no grid) maps to NA.
            codes = np.full(len(values) + 1, -1, dtype=np.int32)
            codes[:-1][has] = cats.get_indexer(values[has])
            out[f"{lvl}_{part}"] = (codes, cats)
    _tables[locator] = out
    return out


def reverse_frame(
    locator: GridLocator,
    lon: np.ndarray,
    lat: np.ndarray,
    crs: str,
    h3_res: tuple[int, ...] = (),
) -> pd.DataFrame:
    """The grid, community, street and district of each point.

    Parameters
    ----------
    locator
        The live (or dated) locator.
    lon, lat
        Coordinates in ``crs``, equal length; validated by the caller (finite, in range).
    crs
        wgs84, gcj02, bd09 or cgcs2000 (see :func:`geo.crs.parse_crs`).
    h3_res
        H3 resolutions to add as ``h3_<res>`` (int64 cells of the WGS-84 point).

    Returns
    -------
    pandas.DataFrame
        One row per point, in input order: ``RESULT_COLUMNS`` (categorical, NA outside
        every grid), ``lon_wgs84``, ``lat_wgs84``, then ``h3_<res>`` per resolution.
    """
    wlon, wlat = to_wgs84(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64), crs)
    wlon = np.atleast_1d(wlon)
    wlat = np.atleast_1d(wlat)
    rows = locator.locate_many(wlon, wlat)
    cols: dict[str, object] = {}
    for name, (codes, cats) in _level_tables(locator).items():
        cols[name] = pd.Categorical.from_codes(codes.take(rows), categories=cats)
    cols["lon_wgs84"] = wlon
    cols["lat_wgs84"] = wlat
    for res in h3_res:
        cols[f"h3_{res}"] = hexgrid.cells_of(wlon, wlat, res)
    return pd.DataFrame(cols)
