"""Passes → visits per (worker, cell, local day), on numpy arrays, worker by worker."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

_DAY_NS = 86_400 * 10**9
_HOUR_NS = 3_600 * 10**9
CHUNK_PASSES = 1 << 18


def _utc_offset_ns(ns: np.ndarray, tz: str) -> np.ndarray:
    local = pd.DatetimeIndex(ns.astype("datetime64[ns]"), tz="UTC").tz_convert(tz)
    return local.tz_localize(None).asi8 - ns


def local_day(ns: np.ndarray, tz: str) -> np.ndarray:
    """Local calendar day (days since 1970-01-01) of UTC ns times in ``tz``.

    The UTC offset is looked up once per hour of the covered range; in the rare hour
    where it changes (a DST switch) each time is converted on its own.
    """
    ns = np.asarray(ns, dtype=np.int64)
    if len(ns) == 0:
        return ns.copy()
    hour = ns // _HOUR_NS
    lo, hi = int(hour.min()), int(hour.max())
    if hi - lo > 1_000_000:  # a century of hours: just convert every time
        return (ns + _utc_offset_ns(ns, tz)) // _DAY_NS
    starts = np.arange(lo, hi + 1, dtype=np.int64) * _HOUR_NS
    at_start = _utc_offset_ns(starts, tz)
    at_end = _utc_offset_ns(starts + _HOUR_NS - 1, tz)
    offset = at_start[hour - lo]
    mixed = np.flatnonzero((at_start != at_end)[hour - lo])
    if mixed.size:
        offset[mixed] = _utc_offset_ns(ns[mixed], tz)
    return (ns + offset) // _DAY_NS


@dataclass
class Visits:
    worker: np.ndarray  # worker code
    cell: np.ndarray
    day: np.ndarray  # days since 1970-01-01, local
    first_ns: np.ndarray
    last_ns: np.ndarray
    passes: np.ndarray


def _fold(worker, cell, day, enter, leave) -> Visits:
    """Group one chunk by (worker, cell, day), sorted that way."""
    c_codes, c_uniq = pd.factorize(cell, sort=True)
    w0, d0 = int(worker.min()), int(day.min())
    n_cells = len(c_uniq)
    n_days = int(day.max()) - d0 + 1
    key = ((worker - w0) * n_cells + c_codes) * n_days + (day - d0)
    order = np.argsort(key, kind="stable")
    key = key[order]
    start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    k = key[start]
    return Visits(
        k // n_days // n_cells + w0,
        np.asarray(c_uniq, dtype=np.int64)[k // n_days % n_cells],
        k % n_days + d0,
        np.minimum.reduceat(enter[order], start),
        np.maximum.reduceat(leave[order], start),
        np.diff(np.r_[start, len(key)]),
    )


def visits(
    worker: np.ndarray,
    cell: np.ndarray,
    enter: np.ndarray,
    leave: np.ndarray,
    tz: str,
    threads: int = 1,
) -> Visits:
    """Visits from passes given as arrays (worker codes ordered like the names);
    chunks of whole workers, on ``threads`` threads."""
    worker = np.asarray(worker, dtype=np.int64)
    if len(worker) > 1 and np.any(worker[1:] < worker[:-1]):
        order = np.argsort(worker, kind="stable")
        worker, cell, enter, leave = (a[order] for a in (worker, cell, enter, leave))
    cuts = [0]
    while cuts[-1] < len(worker):
        target = cuts[-1] + CHUNK_PASSES
        cuts.append(
            len(worker)
            if target >= len(worker)
            else int(np.searchsorted(worker, worker[target], "right"))
        )

    def fold(ab: tuple[int, int]) -> Visits:
        a, b = ab
        return _fold(worker[a:b], cell[a:b], local_day(enter[a:b], tz), enter[a:b], leave[a:b])

    spans = list(itertools.pairwise(cuts))
    if threads > 1 and len(spans) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(fold, spans))
    else:
        parts = [fold(ab) for ab in spans]
    return Visits(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in Visits.__dataclass_fields__)
    )
