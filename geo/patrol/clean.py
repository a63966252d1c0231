"""Cleaning the GPS fixes of many patrollers at once (numpy, no per-row Python).

Per worker, in this order, each fix is dropped for the first reason that applies:

``invalid``
    no time, or a coordinate that is not a number or off the globe.
``implausible_time``
    a time before 2000-01-01 or more than a day ahead of the clock (a phone whose
    clock was reset, a GPX file dated 2100): such fixes would escape the purge of old
    tracks or land in a year nobody patrolled (bounds in :mod:`geo.vocab`).
``poor_accuracy``
    reported accuracy (68 % radius, m) above ``CleanRules.max_accuracy_m``; a fix with
    no accuracy is kept.
``outside_district``
    outside the district polygon, when one is given (its border counts as outside).
``duplicate``
    the same worker and the same time as the fix before it (the first one is kept).
``impossible_speed``
    GPS jumps. Consecutive fixes are *inconsistent* when the distance between them is
    more than ``speed × max(dt, 1 s) + speed_slack_m`` for the mode's speed. The fixes
    between inconsistent links form pieces; a piece of at most ``max_outlier_run``
    fixes is dropped when its neighbours are consistent with each other (a jump out
    and back) or, at the start or end of a run of fixes, when it is shorter than the
    piece next to it. Repeated until nothing changes (at most 4 rounds). A jump that is
    still left (a real teleport, or the wrong mode) is not drawn: the track is split.
``short_track``
    (by :func:`track_numbers`) tracks of fewer than ``min_track_fixes`` fixes.

A worker's fixes are split into tracks at silences longer than ``split_gap_s``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo.errors import InvalidInput
from geo.plausible import EARLIEST, FUTURE

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

REASONS = (
    "invalid",
    "implausible_time",
    "poor_accuracy",
    "outside_district",
    "duplicate",
    "impossible_speed",
    "short_track",
)
_R = 6_371_008.8
_EARLIEST_NS = int(EARLIEST.timestamp()) * 10**9
_FUTURE_NS = int(FUTURE.total_seconds()) * 10**9


def _now_ns() -> int:
    return time.time_ns()


_MAX_ROUNDS = 8


@dataclass(frozen=True)
class CleanRules:
    """Thresholds of cleaning; the defaults suit phones on foot patrol."""

    max_accuracy_m: float = 50.0
    max_speed_mps: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"foot": 3.0, "bicycle": 10.0, "vehicle": 40.0})
    )
    speed_slack_m: float = 30.0  # GPS noise of two fixes
    split_gap_s: float = 15 * 60.0
    max_outlier_run: int = 3
    min_track_fixes: int = 2

    def speed_limit(self, mode: str) -> float:
        try:
            return float(self.max_speed_mps[mode])
        except KeyError:
            modes = ", ".join(self.max_speed_mps)
            raise InvalidInput(
                f"unknown patrol mode {mode!r}; use one of: {modes}",
                f"未知的巡查方式 {mode!r}；请使用：{modes}",
            ) from None


@dataclass
class CleanReport:
    """Fixes kept, fixes dropped per reason, tracks and why tracks were split."""

    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    tracks: int = 0
    splits: dict[str, int] = field(default_factory=dict)

    def add(self, other: CleanReport) -> None:
        self.kept += other.kept
        self.tracks += other.tracks
        for mine, theirs in ((self.dropped, other.dropped), (self.splits, other.splits)):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


@dataclass
class Cleaned:
    """Result of :func:`clean`: the kept rows, in (worker, time) order."""

    rows: np.ndarray  # positions in the input of the kept fixes
    new_track: np.ndarray  # bool per kept fix: a track starts here
    report: CleanReport


class PolygonMask:
    """``shapely.contains_xy`` for many points, answering most of them by a box grid.

    The polygon's bounding box is cut into ``boxes``² boxes once; points in boxes
    wholly inside (``contains_properly``) or wholly outside are answered at once, the
    rest (boxes the border crosses) by shapely. Same answers, several times faster.
    """

    def __init__(self, polygon, boxes: int = 128):
        self.polygon = polygon
        self.boxes = boxes
        x0, y0, x1, y1 = polygon.bounds
        self.origin = (x0, y0)
        self.size = (max(x1 - x0, 1e-12) / boxes, max(y1 - y0, 1e-12) / boxes)
        gx = x0 + np.arange(boxes + 1) * self.size[0]
        gy = y0 + np.arange(boxes + 1) * self.size[1]
        bx, by = np.meshgrid(np.arange(boxes), np.arange(boxes), indexing="ij")
        cells = shapely.box(gx[bx], gy[by], gx[bx + 1], gy[by + 1])
        shapely.prepare(polygon)
        # 0: outside, 1: inside, 2: ask shapely. Flattened, plus a final "outside" slot.
        state = np.where(
            shapely.contains_properly(polygon, cells),
            1,
            np.where(shapely.intersects(polygon, cells), 2, 0),
        )
        self.state = np.r_[state.ravel(), 0].astype(np.int8)

    def __call__(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        b = self.boxes
        with np.errstate(invalid="ignore"):
            ix = np.floor((lon - self.origin[0]) / self.size[0])
            iy = np.floor((lat - self.origin[1]) / self.size[1])
        in_box = (ix >= 0) & (ix < b) & (iy >= 0) & (iy < b)
        flat = np.where(in_box, ix * b + iy, b * b).astype(np.int64)
        s = self.state[flat]
        out = s == 1
        exact = np.flatnonzero(s == 2)
        out[exact] = shapely.contains_xy(self.polygon, lon[exact], lat[exact])
        return out


def _too_fast(dt_ns, dlon, dlat, coslat, limit, slack) -> np.ndarray:
    """Is the second fix out of reach of the first at the speed limit?"""
    dt = np.maximum(dt_ns * 1e-9, 1.0)
    dist = np.radians(np.hypot(dlon * coslat, dlat)) * _R  # equirectangular, < 0.1 % off
    return dist > limit * dt + slack


def _piece_drops(idx, link, bad, reach, max_run) -> np.ndarray:
    """Fixes to drop (bool per idx) by the piece rules of the module doc, simplest
    explanation first: one stray piece between consistent neighbours; else a cluster
    of stray pieces between consistent neighbours; else a short cluster at the start
    or end of a run of fixes."""
    starts = np.flatnonzero(np.r_[True, ~link | bad])
    ends = np.r_[starts[1:] - 1, len(idx) - 1]
    size = ends - starts + 1
    before = np.r_[False, bad][starts]
    after = np.r_[bad, False][ends]
    short = size <= max_run
    drop = np.zeros(len(starts), dtype=bool)
    one = np.flatnonzero(short & before & after)
    drop[one] = reach(idx[starts[one] - 1], idx[ends[one] + 1])
    if drop.any():
        return np.repeat(drop, size)
    # Clusters: consecutive short pieces joined by inconsistent links.
    joined = np.r_[False, short[1:] & short[:-1] & before[1:]]
    cl = np.cumsum(~joined) - 1
    first = np.flatnonzero(~joined)
    last = np.r_[first[1:] - 1, len(starts) - 1]
    total = np.add.reduceat(size, first)
    ok = np.logical_and.reduceat(short, first) & (total <= max_run)
    left, right = before[first], after[last]
    drop = np.zeros(len(first), dtype=bool)
    mid = np.flatnonzero(ok & left & right)
    drop[mid] = reach(idx[starts[first[mid]] - 1], idx[ends[last[mid]] + 1])
    if not drop.any():
        head = np.flatnonzero(ok & right & ~left)
        drop[head] = total[head] < size[last[head] + 1]
        tail = np.flatnonzero(ok & left & ~right)
        drop[tail] = total[tail] < size[first[tail] - 1]
    return np.repeat(drop[cl], size)


def _edge_drops(idx, link, bad, reach) -> np.ndarray:
    """For each inconsistent link a→b: drop b if a reaches b's successor, else drop a
    if a's predecessor reaches b (a single stray fix at the edge of a piece)."""
    out = np.zeros(len(idx), dtype=bool)
    j = np.flatnonzero(bad)  # link j: idx[j] → idx[j + 1]
    has_next = j + 2 < len(idx)
    jn = j[has_next]
    jn = jn[link[jn + 1]]
    drop_b = np.zeros(len(j), dtype=bool)
    drop_b[np.searchsorted(j, jn)] = reach(idx[jn], idx[jn + 2])
    out[j[drop_b] + 1] = True
    rest = j[~drop_b]
    rest = rest[(rest >= 1)]
    rest = rest[link[rest - 1]]
    out[rest[reach(idx[rest - 1], idx[rest + 1])]] = True
    return out


def _drop_outliers(w, t, lon, lat, limit, rules) -> tuple[np.ndarray, np.ndarray]:
    """Drop jump fixes (see module doc) from sorted arrays of the fixes kept so far.

    Returns the positions kept and, per kept fix, whether the link to the next one
    is still inconsistent. Only links next to dropped fixes are recomputed.
    """
    gap_ns = int(rules.split_gap_s * 1e9)
    slack = rules.speed_slack_m
    coslat = np.cos(np.radians(lat))

    def too_fast(a, b):
        return _too_fast(t[b] - t[a], lon[b] - lon[a], lat[b] - lat[a], coslat[a], limit[b], slack)

    def reach(a, b):
        return ~too_fast(a, b)

    link = (w[1:] == w[:-1]) & (np.diff(t) <= gap_ns)
    bad = link & _too_fast(np.diff(t), np.diff(lon), np.diff(lat), coslat[:-1], limit[1:], slack)
    idx = np.arange(len(t))
    for _ in range(_MAX_ROUNDS):
        if not bad.any():
            break
        drop = _piece_drops(idx, link, bad, reach, rules.max_outlier_run)
        if not drop.any():
            drop = _edge_drops(idx, link, bad, reach)
        if not drop.any():
            break
        kept = np.flatnonzero(~drop)
        idx = idx[kept]
        same = kept[1:] == kept[:-1] + 1
        link = link[kept[:-1]] & same
        bad = bad[kept[:-1]] & same
        ch = np.flatnonzero(~same)
        a, b = idx[ch], idx[ch + 1]
        link[ch] = (w[a] == w[b]) & (t[b] - t[a] <= gap_ns)
        ch = ch[link[ch]]
        bad[ch] = too_fast(idx[ch], idx[ch + 1])
    return idx, bad


def _usable(
    t_ns: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    accuracy: np.ndarray | None,
    rules: CleanRules,
    district: BaseGeometry | PolygonMask | None,
    report: CleanReport,
) -> np.ndarray:
    """Which fixes have a time and a valid position, are accurate enough and lie in the
    district; what each check drops is counted in ``report``."""
    nat = np.iinfo(np.int64).min
    ok = (
        (t_ns != nat)
        & np.isfinite(lon)
        & np.isfinite(lat)
        & (np.abs(lat) <= 90)
        & (np.abs(lon) <= 180)
    )
    report.dropped["invalid"] = int(len(t_ns) - ok.sum())
    implausible = ok & ((t_ns < _EARLIEST_NS) | (t_ns > _now_ns() + _FUTURE_NS))
    report.dropped["implausible_time"] = int(implausible.sum())
    ok &= ~implausible
    if accuracy is not None:
        poor = ok & (np.asarray(accuracy, dtype=float) > rules.max_accuracy_m)
        report.dropped["poor_accuracy"] = int(poor.sum())
        ok &= ~poor
    if district is not None:
        sel = np.flatnonzero(ok)
        mask = (
            district
            if isinstance(district, PolygonMask)
            else PolygonMask(district, boxes=int(np.clip(np.sqrt(len(sel)) / 8, 8, 128)))
        )
        outside = ~mask(lon[sel], lat[sel])
        report.dropped["outside_district"] = int(outside.sum())
        ok[sel[outside]] = False
    return ok


def clean(
    worker: np.ndarray,
    t_ns: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    accuracy: np.ndarray | None,
    limit_mps: np.ndarray | float,
    rules: CleanRules,
    district: BaseGeometry | PolygonMask | None = None,
) -> Cleaned:
    """Clean fixes of many workers: arrays in, kept row positions out.

    Parameters
    ----------
    worker
        Integer worker number per fix (e.g. from ``pandas.factorize``).
    t_ns
        Time as int64 nanoseconds since 1970 UTC; ``numpy``'s NaT value means missing.
    lon, lat
        WGS-84 degrees.
    accuracy
        Metres (NaN: unknown), or None.
    limit_mps
        Speed limit per fix (its worker's mode), or one for all.
    district
        Optional shapely (Multi)Polygon in lon/lat, or a :class:`PolygonMask` of one
        (build it once when cleaning in chunks); fixes outside are dropped.
    """
    n = len(worker)
    worker = np.asarray(worker, dtype=np.int64)
    t_ns = np.asarray(t_ns, dtype=np.int64)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    limit = np.broadcast_to(np.asarray(limit_mps, dtype=float), (n,))
    sorted_ok = n < 2 or bool(
        np.all((worker[1:] > worker[:-1]) | ((worker[1:] == worker[:-1]) & (t_ns[1:] >= t_ns[:-1])))
    )
    order = np.arange(n) if sorted_ok else np.lexsort((t_ns, worker))
    if not sorted_ok:
        worker, t_ns, lon, lat, limit = (a[order] for a in (worker, t_ns, lon, lat, limit))
        accuracy = None if accuracy is None else np.asarray(accuracy, dtype=float)[order]
    report = CleanReport(
        dropped=dict.fromkeys(REASONS[:-1], 0), splits={"gap": 0, "impossible_speed": 0}
    )
    ok = _usable(t_ns, lon, lat, accuracy, rules, district, report)
    idx = np.flatnonzero(ok)
    dup = (worker[idx[1:]] == worker[idx[:-1]]) & (t_ns[idx[1:]] == t_ns[idx[:-1]])
    report.dropped["duplicate"] = int(dup.sum())
    idx = idx[np.r_[True, ~dup]] if len(idx) else idx
    if len(idx) == 0:
        return Cleaned(order[idx], np.zeros(0, dtype=bool), report)
    before = len(idx)
    worker, t_ns, lon, lat, limit = (a[idx] for a in (worker, t_ns, lon, lat, limit))
    order = order[idx]
    idx, bad = _drop_outliers(worker, t_ns, lon, lat, limit, rules)
    report.dropped["impossible_speed"] = before - len(idx)
    new_worker = np.r_[True, worker[idx[1:]] != worker[idx[:-1]]]
    gap = np.r_[False, (t_ns[idx[1:]] - t_ns[idx[:-1]]) > rules.split_gap_s * 1e9]
    gap &= ~new_worker
    jump = np.r_[False, bad]
    report.splits = {"gap": int(gap.sum()), "impossible_speed": int(jump.sum())}
    report.kept = len(idx)
    return Cleaned(order[idx], new_worker | gap | jump, report)


def track_numbers(new_track: np.ndarray, min_fixes: int) -> tuple[np.ndarray, np.ndarray]:
    """Track number per fix (0, 1, … over kept tracks) and which fixes are kept.

    Tracks of fewer than ``min_fixes`` fixes are dropped (``short_track``).
    """
    track = np.cumsum(new_track) - 1
    size = np.bincount(track) if len(track) else np.zeros(0, dtype=np.int64)
    keep_track = size >= min_fixes
    keep = keep_track[track] if len(track) else np.zeros(0, dtype=bool)
    renumber = np.cumsum(keep_track) - 1
    return renumber[track[keep]], keep
