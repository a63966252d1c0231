"""Cleaning and path filling of many workers' fixes, in chunks of whole workers.

Workers are independent, so the fixes (sorted by worker and time) are cut at worker
boundaries into chunks of about ``CHUNK_FIXES``: numpy's temporaries then stay small
(on this class of machine a pass over 10 M-element arrays costs several times more
per element than over 250 k), and chunks can run on several threads — numpy releases
the GIL inside its loops, so two threads use two cores.
"""

from __future__ import annotations

import hashlib
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geo.hexgrid.path import Passes, path_passes
from geo.patrol.clean import CleanReport, CleanRules, PolygonMask, clean, track_numbers

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

CHUNK_FIXES = 1 << 18


def checksum_arrays(
    t_ns: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact integers a track checksum hashes: ms since 1970 and 1e-7 degrees (~1 cm)."""
    ms = (np.asarray(t_ns, dtype=np.int64) + 500_000) // 1_000_000
    e7 = np.rint(np.column_stack([lon, lat]) * 1e7).astype("<i8")
    return ms.astype("<i8"), e7


def digest(worker_code: str, ms: np.ndarray, e7: np.ndarray) -> str:
    h = hashlib.sha256(worker_code.encode())
    h.update(ms.tobytes())
    h.update(e7.tobytes())
    return h.hexdigest()


@dataclass
class Tracks:
    """Per track: worker code number, first row, first/last time, size, checksum, coords."""

    worker: list[np.ndarray] = field(default_factory=list)
    first_row: list[np.ndarray] = field(default_factory=list)
    start_ns: list[np.ndarray] = field(default_factory=list)
    end_ns: list[np.ndarray] = field(default_factory=list)
    size: list[np.ndarray] = field(default_factory=list)
    checksum: list[str] = field(default_factory=list)
    coords: list[np.ndarray] = field(default_factory=list)


@dataclass
class BatchResult:
    """Tracks and the passes along them (``passes.track`` indexes the tracks)."""

    tracks: Tracks
    passes: Passes
    report: CleanReport


def _worker_slices(worker: np.ndarray, size: int) -> list[slice]:
    """Cut sorted worker codes into slices of ≥ ``size`` rows at worker boundaries."""
    n = len(worker)
    cuts = [0]
    while cuts[-1] < n:
        target = cuts[-1] + size
        cuts.append(n if target >= n else int(np.searchsorted(worker, worker[target], "right")))
    return [slice(a, b) for a, b in itertools.pairwise(cuts)]


def _worker_time_order(worker: np.ndarray, t_ns: np.ndarray) -> np.ndarray | None:
    """The order sorting rows by worker, then time; None when they are sorted already."""
    sorted_ok = len(worker) < 2 or bool(
        np.all((worker[1:] > worker[:-1]) | ((worker[1:] == worker[:-1]) & (t_ns[1:] >= t_ns[:-1])))
    )
    return None if sorted_ok else np.lexsort((t_ns, worker))


def run(
    worker: np.ndarray,
    t_ns: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    accuracy: np.ndarray | None,
    limit: np.ndarray | float,
    rules: CleanRules,
    res: int,
    names: np.ndarray,
    district: BaseGeometry | PolygonMask | None = None,
    threads: int = 1,
) -> BatchResult:
    """Clean (:func:`geo.patrol.clean.clean`), cut into tracks and path-fill
    (:func:`geo.hexgrid.path.path_passes`) fixes of many workers, in any row order.

    ``worker`` holds codes into ``names`` (the worker ids, for the checksums).
    """
    n = len(worker)
    worker = np.asarray(worker, dtype=np.int64)
    t_ns = np.asarray(t_ns, dtype=np.int64)
    order = _worker_time_order(worker, t_ns)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    limits = np.broadcast_to(np.asarray(limit, dtype=float), (n,))
    if order is not None:
        worker, t_ns, lon, lat, limits = (a[order] for a in (worker, t_ns, lon, lat, limits))
        accuracy = None if accuracy is None else np.asarray(accuracy, dtype=float)[order]
    mask = None
    if district is not None:
        mask = district if isinstance(district, PolygonMask) else PolygonMask(district)

    def work(sl: slice):
        cl = clean(
            worker[sl],
            t_ns[sl],
            lon[sl],
            lat[sl],
            None if accuracy is None else accuracy[sl],
            limits[sl],
            rules,
            mask,
        )
        track, keep = track_numbers(cl.new_track, rules.min_track_fixes)
        rows = cl.rows[keep] + sl.start
        cl.report.dropped["short_track"] = int((~keep).sum())
        cl.report.kept = len(rows)
        n_tracks = int(track[-1]) + 1 if len(track) else 0
        cl.report.tracks = n_tracks
        tt, x, y = t_ns[rows], lon[rows], lat[rows]
        passes = path_passes(track, tt, x, y, res)
        bounds = np.searchsorted(track, np.arange(n_tracks + 1))
        first, last = bounds[:-1], bounds[1:] - 1
        ms, e7 = checksum_arrays(tt, x, y)
        lonlat = np.column_stack([x, y])
        w = worker[rows[first]]
        out = Tracks(
            [w],
            [rows[first] if order is None else order[rows[first]]],
            [tt[first]],
            [tt[last]],
            [np.diff(bounds)],
            [
                digest(str(names[c]), ms[a : b + 1], e7[a : b + 1])
                for c, a, b in zip(w.tolist(), first.tolist(), last.tolist(), strict=True)
            ],
            [lonlat[a : b + 1] for a, b in zip(first.tolist(), last.tolist(), strict=True)],
        )
        return out, passes, cl.report

    slices = _worker_slices(worker, CHUNK_FIXES) or [slice(0, 0)]
    if threads > 1 and len(slices) > 1:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(work, slices))
    else:
        parts = [work(sl) for sl in slices]
    return _joined(parts)


def _joined(parts: list[tuple[Tracks, Passes, CleanReport]]) -> BatchResult:
    """The slices' results as one, track numbers running on across slices."""
    report = CleanReport()
    tracks = Tracks()
    offset = 0
    p_track = []
    for tr, pp, rep in parts:
        for f in Tracks.__dataclass_fields__:
            getattr(tracks, f).extend(getattr(tr, f))
        p_track.append(pp.track + offset)
        offset += rep.tracks
        report.add(rep)
    passes = Passes(
        np.concatenate(p_track),
        *(
            np.concatenate([getattr(x[1], f) for x in parts])
            for f in ("cell", "enter_ns", "leave_ns")
        ),
    )
    return BatchResult(tracks, passes, report)
