"""Patrol GPS pings of the sample district (grid workers and volunteers on foot).

Each patroller walks their own area (a worker: their grid and 80 m around it; a
volunteer: a whole old-town community) on most of the 30 days, once, for 45–80
minutes: straight legs between random waypoints at a walking speed of 1.0–1.6 m/s,
one fix every 10–30 s. Fixes carry GPS noise of a few metres and an ``accuracy`` in
metres; about 1.5% are poor fixes (50–200 m), about 0.3% are one-fix jumps of several
hundred metres, and some sessions lose the signal for a few minutes. Workers of about
a fifth of the communities never upload tracks, so parts of the district are never
patrolled.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from shapely import Polygon

from boundaries.sample_activity import END_DATE, N_DAYS
from boundaries.sample_geometry import random_points_in, xy_to_wgs84
from boundaries.sample_hierarchy import Hierarchy

N_WORKER_PATROLLERS = 62
N_VOLUNTEERS = 6
UNPATROLLED_COMMUNITY_SHARE = 0.2
# Start hour of a patrol: morning round, afternoon round, evening round.
_START_WINDOWS = ((8.0, 11.0, 0.5), (14.0, 17.0, 0.35), (19.0, 20.5, 0.15))


def _walk(
    rng: np.random.Generator, area: Polygon, duration: float, speed: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fix times (s from start) and true positions of one walk through ``area``."""
    n_way = 8
    while True:
        wx, wy = random_points_in(area, n_way, rng)
        legs = np.hypot(np.diff(wx), np.diff(wy))
        leg_speed = np.clip(speed * rng.uniform(0.9, 1.1, legs.size), 1.0, 1.6)
        t_way = np.concatenate([[0.0], np.cumsum(legs / leg_speed)])
        if t_way[-1] >= duration:
            break
        n_way *= 2
    n_fix = int(duration / 10) + 2
    t = np.cumsum(rng.uniform(10, 30, n_fix)) - 10
    t = t[t <= duration]
    return t, np.interp(t, t_way, wx), np.interp(t, t_way, wy)


def build_patrol_pings(
    h: Hierarchy, workers: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Pings of about 70 patrollers over the 30 days ending ``END_DATE``."""
    grids = {g.code: g for g in h.grids}
    comm_codes = [c.code for c in h.communities]
    n_silent = int(len(comm_codes) * UNPATROLLED_COMMUNITY_SHARE)
    silent = set(rng.choice(comm_codes, n_silent, replace=False))
    candidates = workers[(workers["role"] == "worker") & ~workers["community_code"].isin(silent)]
    chosen = candidates.iloc[
        np.sort(rng.choice(len(candidates), N_WORKER_PATROLLERS, replace=False))
    ]
    patrollers: list[tuple[str, Polygon]] = [
        (wid, grids[code].geometry.buffer(80.0).intersection(h.district.geometry))
        for wid, code in zip(chosen["worker_id"], chosen["grid_code"], strict=True)
    ]
    old = [c for c in h.communities if c.zone == "old" and c.code not in silent]
    for i in range(N_VOLUNTEERS):
        patrollers.append((f"V{i + 1:03d}", old[int(rng.integers(len(old)))].geometry))

    days = pd.date_range(end=END_DATE, periods=N_DAYS, freq="D")
    ids, times, xs, ys = [], [], [], []
    for wid, area in patrollers:
        active = rng.uniform(0.6, 0.95)
        speed = rng.uniform(1.05, 1.5)
        for day in days:
            if rng.random() > active:
                continue
            lo, hi, _ = _START_WINDOWS[rng.choice(3, p=[w for *_, w in _START_WINDOWS])]
            start = day + pd.Timedelta(hours=rng.uniform(lo, hi))
            t, x, y = _walk(rng, area, rng.uniform(45, 80) * 60, speed)
            if rng.random() < 0.1:  # lost signal in a stairwell or an underpass
                gap_start = rng.uniform(0, t[-1])
                keep = (t < gap_start) | (t > gap_start + rng.uniform(120, 300))
                t, x, y = t[keep], x[keep], y[keep]
            ids.append(np.full(t.size, wid))
            # Whole seconds, as phones log them.
            times.append((start.value // 10**9 + t.astype(np.int64)) * 10**9)
            xs.append(x)
            ys.append(y)
    wid_all = np.concatenate(ids)
    x, y = np.concatenate(xs), np.concatenate(ys)
    n = x.size
    accuracy = rng.gamma(3.0, 1.2, n) + 2.0  # mostly 3–10 m, as phones report outdoors
    poor = rng.random(n) < 0.015
    accuracy[poor] = rng.uniform(50, 200, poor.sum())
    # Phones report the 68% radius; for a 2-D normal error that is about 1.5 sigma.
    x = x + rng.normal(0, accuracy / 1.5)
    y = y + rng.normal(0, accuracy / 1.5)
    jump = rng.random(n) < 0.003
    angle = rng.uniform(0, 2 * np.pi, jump.sum())
    dist = rng.uniform(300, 900, jump.sum())
    x[jump] += dist * np.cos(angle)
    y[jump] += dist * np.sin(angle)
    lon, lat = xy_to_wgs84(x, y)
    time = pd.to_datetime(np.concatenate(times), utc=True).tz_convert(END_DATE.tz)
    df = pd.DataFrame({
        "worker_id": wid_all,
        "time": time,
        "lon": np.round(lon, 6),
        "lat": np.round(lat, 6),
        "accuracy": np.round(accuracy, 1),
    })  # fmt: skip
    return df.sort_values(["worker_id", "time"], kind="stable").reset_index(drop=True)
