"""Patrol pings → cleaned tracks and per-H3-cell visits (pure: numpy/pandas in and out).

Cleaning drops fixes with poor accuracy and fixes reached at an impossible speed for
the mode (GPS jumps), then splits a worker's day at long silences. Cells are taken
along the path, densified between consecutive fixes, so a walker sampled every 30 s
skips no res-10 cell.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo import h3cells

MAX_SPEED_MPS = {"foot": 3.0, "bicycle": 10.0, "vehicle": 40.0}
MAX_ACCURACY_M = 50.0
SPLIT_GAP_S = 15 * 60
DENSIFY_STEP_M = 15.0  # well below the ~65 m edge of a res-10 cell


def haversine_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def epoch_seconds(times: pd.Series) -> np.ndarray:
    """Seconds since 1970 as float, whatever the series' datetime unit (ns, us …)."""
    return (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()


@dataclass
class CleanReport:
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


def clean_fixes(fixes: pd.DataFrame, mode: str = "foot") -> tuple[pd.DataFrame, CleanReport]:
    """Drop poor-accuracy, duplicate and impossible-speed fixes of ONE worker.

    ``fixes`` has columns time (tz-aware), lon, lat and optionally accuracy (m).
    """
    report = CleanReport()
    df = fixes.sort_values("time").reset_index(drop=True)
    if "accuracy" in df:
        poor = df["accuracy"].fillna(0) > MAX_ACCURACY_M
        report.dropped["poor_accuracy"] = int(poor.sum())
        df = df[~poor]
    dup = df.duplicated(subset=["time"])
    report.dropped["duplicate"] = int(dup.sum())
    df = df[~dup].reset_index(drop=True)
    limit = MAX_SPEED_MPS[mode]
    keep = np.ones(len(df), dtype=bool)
    last = 0
    t = epoch_seconds(df["time"])
    lon, lat = df["lon"].to_numpy(), df["lat"].to_numpy()
    for i in range(1, len(df)):
        dt = t[i] - t[last]
        d = haversine_m(lon[last], lat[last], lon[i], lat[i])
        # A jump: too fast from the last good fix (after a long silence, allow it).
        if dt < SPLIT_GAP_S and d > limit * max(dt, 1.0) + 30.0:
            keep[i] = False
        else:
            last = i
    report.dropped["impossible_speed"] = int((~keep).sum())
    df = df[keep].reset_index(drop=True)
    report.kept = len(df)
    return df, report


def split_tracks(fixes: pd.DataFrame, gap_s: float = SPLIT_GAP_S) -> list[pd.DataFrame]:
    """Split cleaned fixes of one worker at silences longer than ``gap_s``."""
    if fixes.empty:
        return []
    t = epoch_seconds(fixes["time"])
    breaks = np.flatnonzero(np.diff(t) > gap_s) + 1
    bounds = [0, *breaks.tolist(), len(fixes)]
    parts = [fixes.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return [p.reset_index(drop=True) for p in parts if len(p) >= 2]


def path_cells(fixes: pd.DataFrame, res: int) -> pd.DataFrame:
    """H3 cells along a track with the time each was reached.

    Returns columns cell, time, one row per consecutive run of the same cell
    (so a cell left and re-entered counts as two passes).
    """
    lon, lat = fixes["lon"].to_numpy(), fixes["lat"].to_numpy()
    t = epoch_seconds(fixes["time"])
    seg = haversine_m(lon[:-1], lat[:-1], lon[1:], lat[1:])
    steps = np.maximum(1, np.ceil(seg / DENSIFY_STEP_M).astype(int))
    xs, ys, ts = [], [], []
    for i, n in enumerate(steps):
        f = np.arange(n) / n
        xs.append(lon[i] + (lon[i + 1] - lon[i]) * f)
        ys.append(lat[i] + (lat[i + 1] - lat[i]) * f)
        ts.append(t[i] + (t[i + 1] - t[i]) * f)
    xs.append(lon[-1:]), ys.append(lat[-1:]), ts.append(t[-1:])
    x, y, tt = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
    cells = h3cells.cells_of(x, y, res)
    run_start = np.r_[True, cells[1:] != cells[:-1]]
    return pd.DataFrame(
        {
            "cell": cells[run_start],
            "time": pd.to_datetime(np.round(tt[run_start], 6), unit="s", utc=True).as_unit("us"),
        }
    )


def track_checksum(worker_code: str, fixes: pd.DataFrame) -> str:
    """Identity of a cleaned track: the same fixes of the same worker hash the same."""
    h = hashlib.sha256(worker_code.encode())
    h.update(np.round(epoch_seconds(fixes["time"]), 3).tobytes())
    h.update(np.round(fixes[["lon", "lat"]].to_numpy(dtype=float), 7).tobytes())
    return h.hexdigest()


@dataclass
class TrackBatch:
    """Cleaned tracks of many workers and the H3 passes along each."""

    tracks: list[dict]  # worker_code, started_at, ended_at, point_count, checksum, coords
    passes: pd.DataFrame  # checksum, worker_code, cell, time
    report: CleanReport


def build_tracks(pings: pd.DataFrame, res: int, mode: str = "foot") -> TrackBatch:
    """Clean, split and cell every worker's pings (columns worker_id, time, lon, lat,
    accuracy). Pure: nothing is stored here."""
    report = CleanReport()
    tracks: list[dict] = []
    passes: list[pd.DataFrame] = []
    for code, fixes in pings.groupby("worker_id", sort=True):
        clean, rep = clean_fixes(fixes, mode)
        report.kept += rep.kept
        for k, v in rep.dropped.items():
            report.dropped[k] = report.dropped.get(k, 0) + v
        for part in split_tracks(clean):
            digest = track_checksum(str(code), part)
            tracks.append(
                {
                    "worker_code": str(code),
                    "started_at": part["time"].iloc[0],
                    "ended_at": part["time"].iloc[-1],
                    "point_count": len(part),
                    "checksum": digest,
                    "coords": part[["lon", "lat"]].to_numpy(dtype=float),
                }
            )
            cells = path_cells(part, res)
            passes.append(cells.assign(checksum=digest, worker_code=str(code)))
    all_passes = (
        pd.concat(passes, ignore_index=True)
        if passes
        else pd.DataFrame(columns=["cell", "time", "checksum", "worker_code"])
    )
    return TrackBatch(tracks, all_passes, report)


def visits_by_worker(passes: pd.DataFrame, tz: str = "Asia/Shanghai") -> pd.DataFrame:
    """Visits per (worker_code, cell, local day): first/last seen and number of passes."""
    if passes.empty:
        return pd.DataFrame(
            columns=["worker_code", "cell", "day", "first_seen", "last_seen", "pass_count"]
        )
    local_day = passes["time"].dt.tz_convert(tz).dt.date
    return (
        passes.assign(day=local_day)
        .groupby(["worker_code", "cell", "day"], as_index=False)
        .agg(first_seen=("time", "min"), last_seen=("time", "max"), pass_count=("time", "size"))
    )
