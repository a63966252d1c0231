"""Patrol pings → cleaned tracks, H3 passes and per-cell visits (pure: pandas in and out).

The work is vectorised over all workers at once:

- :mod:`geo.patrol.clean` drops invalid, poor-accuracy, out-of-district, duplicate
  and impossible-speed fixes (GPS jumps) and splits tracks at long silences; the
  :class:`CleanReport` counts every dropped fix by reason.
- :mod:`geo.hexgrid.path` fills the path: a track's cells are the cells that the
  straight (great-circle) segments between its consecutive fixes pass through, so a
  walker sampled every 30 s skips no res-10 cell. A *pass* is one consecutive run in
  a cell, entered when the segment crosses into it.
- :func:`visits_by_worker` folds passes into visits per (worker, cell, local day).

Times are tz-aware; days are local days (Asia/Shanghai by default).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo.errors import InvalidInput
from geo.hexgrid.path import path_passes
from geo.patrol import batch as patrol_batch
from geo.patrol import visits as patrol_visits
from geo.patrol.clean import REASONS, CleanReport, CleanRules, clean

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from geo.patrol.clean import Cleaned, PolygonMask

__all__ = [
    "REASONS",
    "CleanReport",
    "CleanRules",
    "TrackBatch",
    "build_tracks",
    "clean_fixes",
    "epoch_seconds",
    "path_cells",
    "split_tracks",
    "track_checksum",
    "visits_by_worker",
]

DEFAULT_RULES = CleanRules()
MAX_SPEED_MPS = dict(DEFAULT_RULES.max_speed_mps)
MAX_ACCURACY_M = DEFAULT_RULES.max_accuracy_m
SPLIT_GAP_S = DEFAULT_RULES.split_gap_s
VISIT_COLUMNS = ["worker_code", "cell", "day", "first_seen", "last_seen", "pass_count"]


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """Seconds since 1970 as float, whatever the series' datetime unit (ns, us …).

    Whole seconds and the fraction are converted apart, so the value is the same for
    any unit (as pandas' ``total_seconds`` does since 3.0); NaT gives NaN.
    """
    return _seconds(_epoch_ns(times))


def _seconds(ns: np.ndarray) -> np.ndarray:
    whole, frac = np.divmod(ns, 10**9)
    out = whole + frac / 1e9
    out[ns == np.iinfo(np.int64).min] = np.nan
    return out


def _epoch_ns(times: pd.Series) -> np.ndarray:
    """int64 ns since 1970 UTC of a tz-aware series (NaT stays numpy's NaT value)."""
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        raise InvalidInput(
            "patrol fix times must carry a UTC offset (tz-aware), e.g. 2026-10-01T08:00:00+08:00",
            "巡查定位时间必须带时区偏移，例如 2026-10-01T08:00:00+08:00",
        )
    return times.dt.as_unit("ns").array.asi8


def _speed_limits(fixes: pd.DataFrame, mode: str, rules: CleanRules) -> np.ndarray | float:
    if "mode" not in fixes:
        return rules.speed_limit(mode)
    modes = fixes["mode"].fillna(mode).astype(str)
    codes, uniq = pd.factorize(modes)
    return np.array([rules.speed_limit(m) for m in uniq], dtype=float)[codes]


@dataclass
class _Columns:
    """The columns of a pings frame as numpy arrays, read once."""

    worker: np.ndarray  # int codes, in sorted order of worker_id
    names: np.ndarray  # worker_id per code (object)
    t_ns: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    accuracy: np.ndarray | None

    @classmethod
    def of(cls, fixes: pd.DataFrame) -> _Columns:
        if "worker_id" in fixes:
            worker, names = pd.factorize(fixes["worker_id"], sort=True)
            names = np.asarray(names, dtype=object)
        else:
            worker, names = np.zeros(len(fixes), dtype=np.int64), np.array([""], dtype=object)
        acc = fixes["accuracy"].to_numpy(dtype=float) if "accuracy" in fixes else None
        return cls(
            worker,
            names,
            _epoch_ns(fixes["time"]),
            fixes["lon"].to_numpy(dtype=float),
            fixes["lat"].to_numpy(dtype=float),
            acc,
        )


def _clean(
    fixes: pd.DataFrame,
    cols: _Columns,
    mode: str,
    rules: CleanRules,
    district: BaseGeometry | PolygonMask | None,
) -> Cleaned:
    limits = _speed_limits(fixes, mode, rules)
    return clean(cols.worker, cols.t_ns, cols.lon, cols.lat, cols.accuracy, limits, rules, district)


def clean_fixes(
    fixes: pd.DataFrame,
    mode: str = "foot",
    *,
    rules: CleanRules | None = None,
    district: BaseGeometry | PolygonMask | None = None,
) -> tuple[pd.DataFrame, CleanReport]:
    """Drop invalid, poor-accuracy, out-of-district, duplicate and jump fixes.

    Parameters
    ----------
    fixes
        Columns time (tz-aware), lon, lat (WGS-84), optionally accuracy (m),
        worker_id (else: one worker) and mode (per fix; else ``mode``).
    mode
        foot, bicycle or vehicle: sets the impossible speed (``rules``).
    district
        Optional shapely (Multi)Polygon in lon/lat; fixes outside are dropped.

    Returns
    -------
    (DataFrame, CleanReport)
        Kept rows sorted by (worker_id, time), index reset, with a boolean column
        ``new_track`` (a new worker, a silence > ``split_gap_s`` or a jump that could
        not be removed starts a track there); the report's ``dropped`` counts fixes by
        reason (tracks are not cut to length here: no ``short_track``).
    """
    res = _clean(fixes, _Columns.of(fixes), mode, rules or DEFAULT_RULES, district)
    out = fixes.iloc[res.rows].reset_index(drop=True)
    out["new_track"] = res.new_track
    return out, res.report


def split_tracks(fixes: pd.DataFrame, gap_s: float = SPLIT_GAP_S) -> list[pd.DataFrame]:
    """Split time-sorted fixes into tracks: at silences longer than ``gap_s``, at a new
    worker_id and where a ``new_track`` column (from :func:`clean_fixes`) says so.
    Parts of one fix are left out."""
    if fixes.empty:
        return []
    t = _epoch_ns(fixes["time"])
    cut = np.r_[True, np.diff(t) > gap_s * 1e9]
    if "worker_id" in fixes:
        w = fixes["worker_id"].to_numpy()
        cut[1:] |= w[1:] != w[:-1]
    if "new_track" in fixes:
        cut |= fixes["new_track"].to_numpy(dtype=bool)
    bounds = [*np.flatnonzero(cut).tolist(), len(fixes)]
    parts = [fixes.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return [p.reset_index(drop=True) for p in parts if len(p) >= 2]


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]"), tz="UTC").as_unit("us")


def path_cells(fixes: pd.DataFrame, res: int) -> pd.DataFrame:
    """H3 cells along one track (fixes sorted by time), in the order passed.

    Returns columns cell (int64), time (entered) and left_at (left: the next pass's
    entry, or the last fix's time), one row per pass — a cell left and re-entered
    counts twice. The cells are those the straight segments between consecutive
    fixes pass through (see :mod:`geo.hexgrid.path`).
    """
    t = _epoch_ns(fixes["time"])
    p = path_passes(
        np.zeros(len(fixes), dtype=np.int64),
        t,
        fixes["lon"].to_numpy(dtype=float),
        fixes["lat"].to_numpy(dtype=float),
        res,
    )
    return pd.DataFrame({"cell": p.cell, "time": _utc(p.enter_ns), "left_at": _utc(p.leave_ns)})


def track_checksum(worker_code: str, fixes: pd.DataFrame) -> str:
    """Identity of a cleaned track: the same fixes of the same worker hash the same.

    sha256 of the worker code (UTF-8), the fix times in whole milliseconds and the
    lon/lat pairs in 1e-7 degrees, as little-endian int64: exact, so a file written
    and read again (GPX, GeoJSON, CSV with 7 decimals) gives the same checksum.
    """
    ms, e7 = patrol_batch.checksum_arrays(
        _epoch_ns(fixes["time"]), fixes["lon"].to_numpy(float), fixes["lat"].to_numpy(float)
    )
    return patrol_batch.digest(worker_code, ms, e7)


@dataclass
class TrackBatch:
    """Cleaned tracks of many workers and the H3 passes along each."""

    tracks: list[dict]  # worker_code, mode, started_at, ended_at, point_count, checksum, coords
    passes: pd.DataFrame  # track, checksum, worker_code, cell, time (entered), left_at
    report: CleanReport


def build_tracks(
    pings: pd.DataFrame,
    res: int,
    mode: str = "foot",
    *,
    rules: CleanRules | None = None,
    district: BaseGeometry | PolygonMask | None = None,
    threads: int = 1,
) -> TrackBatch:
    """Clean, split and path-fill the pings of many workers. Pure: nothing is stored.

    Parameters
    ----------
    pings
        Columns worker_id, time (tz-aware), lon, lat (WGS-84), optionally accuracy
        (m) and mode; any row order.
    res
        H3 resolution of the passes (10 for patrol coverage).
    mode, rules, district
        As in :func:`clean_fixes`.
    threads
        Threads to run chunks of workers on (numpy releases the GIL: 2 threads use
        2 cores).

    Returns
    -------
    TrackBatch
        ``tracks``: one dict per track (``coords`` is an (n, 2) lon/lat array);
        ``passes``: one row per pass, ``track`` indexing ``tracks``, ``checksum`` and
        ``worker_code`` categorical; ``report``: fixes kept/dropped per reason
        (``short_track``: in tracks of fewer than ``rules.min_track_fixes`` fixes).
    """
    rules = rules or DEFAULT_RULES
    cols = _Columns.of(pings)
    limits = _speed_limits(pings, mode, rules)
    names = cols.names.astype(str)
    batch = patrol_batch.run(
        cols.worker, cols.t_ns, cols.lon, cols.lat, cols.accuracy, limits, rules, res,
        names, district, threads,
    )  # fmt: skip
    tr, p = batch.tracks, batch.passes
    worker = np.concatenate(tr.worker)
    first_row = np.concatenate(tr.first_row)
    size = np.concatenate(tr.size).tolist()
    started = _utc(np.concatenate(tr.start_ns)).tolist()
    ended = _utc(np.concatenate(tr.end_ns)).tolist()
    codes = names[worker].tolist()
    modes = (
        pings["mode"].to_numpy()[first_row].astype(str).tolist()
        if "mode" in pings
        else [mode] * len(codes)
    )
    tracks = [
        {
            "worker_code": code,
            "mode": m,
            "started_at": a,
            "ended_at": b,
            "point_count": k,
            "checksum": digest,
            "coords": xy,
        }
        for code, m, a, b, k, digest, xy in zip(
            codes, modes, started, ended, size, tr.checksum, tr.coords, strict=True
        )
    ]
    passes = pd.DataFrame(
        {
            "track": p.track,
            "checksum": pd.Categorical.from_codes(p.track, categories=tr.checksum),
            "worker_code": pd.Categorical.from_codes(
                worker[p.track], categories=pd.Index(names, dtype=object)
            ),
            "cell": p.cell,
            "time": _utc(p.enter_ns),
            "left_at": _utc(p.leave_ns),
        }
    )
    return TrackBatch(tracks, passes, batch.report)


def visits_by_worker(
    passes: pd.DataFrame, tz: str = "Asia/Shanghai", *, threads: int = 1
) -> pd.DataFrame:
    """Visits per (worker_code, cell, local day of entry): first/last seen, passes.

    ``passes`` has columns worker_code, cell, time (entered, tz-aware) and optionally
    left_at. ``last_seen`` is the latest time a pass left the cell (its ``left_at``;
    the entry time when there is none). Sorted by worker_code, cell, day; ``day`` is a
    ``datetime.date``, first/last seen UTC, worker_code categorical. ``threads`` as
    in :func:`build_tracks`.
    """
    if passes.empty:
        return pd.DataFrame(columns=VISIT_COLUMNS)
    enter = _epoch_ns(passes["time"])
    leave = _epoch_ns(passes["left_at"]) if "left_at" in passes else enter
    wc = passes["worker_code"]
    if isinstance(wc.dtype, pd.CategoricalDtype):
        codes = wc.cat.codes.to_numpy(np.int64)
        names = pd.Index(wc.cat.categories.astype(str), dtype=object)
        rank = np.argsort(np.argsort(names.to_numpy(), kind="stable"))
        codes = rank[codes]
        names = names[np.argsort(names.to_numpy(), kind="stable")]
    else:
        codes, names = pd.factorize(wc.astype(str), sort=True)
        names = pd.Index(names, dtype=object)
    cells = passes["cell"].to_numpy(np.int64)
    v = patrol_visits.visits(codes, cells, enter, leave, tz, threads)
    return pd.DataFrame(
        {
            "worker_code": pd.Categorical.from_codes(v.worker, categories=names),
            "cell": v.cell,
            "day": v.day.astype("datetime64[D]").astype(object),
            "first_seen": _utc(v.first_ns),
            "last_seen": _utc(v.last_ns),
            "pass_count": v.passes,
        }
    )
