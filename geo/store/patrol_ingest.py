"""Store patrol pings: clean and path-fill them (geo.patrol), then write the new tracks
and add their per-cell visits. Re-uploading the same fixes stores nothing: tracks are
keyed by the hash of their cleaned fixes, and visits come only from new tracks.
Runs in the caller's transaction.

A big upload is cut into chunks of whole workers and pipelined: while PostgreSQL
stores one chunk (a thread waits on the connection, holding no GIL), Python cleans and
path-fills the next, so both cores work. Cleaning looks at one worker's fixes at a
time, so the chunks give the same tracks, visits and report as the whole; a failing
chunk aborts the transaction, so the upload is still all or nothing.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection

from geo import hexgrid, patrol
from geo.lookup.locator import GridLocator
from geo.patrol.clean import PolygonMask
from geo.store import activity

# Pings per pipelined chunk: big enough that a chunk's round trips (a few ms) do not
# count, small enough that Python and PostgreSQL overlap for most of the upload.
CHUNK_PINGS = 50_000


@dataclass
class IngestResult:
    tracks: int = 0
    new_tracks: int = 0
    fixes_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unknown_workers: list[str] = field(default_factory=list)


def ingest_pings(
    conn: Connection,
    pings: pd.DataFrame,
    worker_ids: dict[str, int],
    locator: GridLocator,
    *,
    res: int,
    mode: str = "foot",
    district=None,
    chunk_pings: int = CHUNK_PINGS,
) -> IngestResult:
    """``pings``: worker_id, time (tz-aware), lon, lat (WGS-84), accuracy."""
    out = IngestResult()
    pings = pings.assign(worker_id=pings["worker_id"].astype(str))
    known = pings["worker_id"].isin(worker_ids)
    out.unknown_workers = sorted(set(pings.loc[~known, "worker_id"]))
    if district is not None and not isinstance(district, PolygonMask):
        district = PolygonMask(district)  # built once for all chunks
    failed = threading.Event()

    def store(batch: patrol.TrackBatch) -> int:
        if failed.is_set():  # an earlier chunk failed: the transaction is lost anyway
            return 0
        try:
            return _store(conn, batch, worker_ids, locator, mode)
        except BaseException:
            failed.set()
            raise

    stored: list[Future] = []
    with ThreadPoolExecutor(1, thread_name_prefix="ingest-db") as db:
        for chunk in _worker_chunks(pings[known], chunk_pings):
            if failed.is_set():
                break  # stop cleaning; the error is raised below
            batch = patrol.build_tracks(chunk, res, mode, district=district)
            out.tracks += len(batch.tracks)
            out.fixes_kept += batch.report.kept
            for reason, n in batch.report.dropped.items():
                out.dropped[reason] = out.dropped.get(reason, 0) + n
            stored.append(db.submit(store, batch))
    out.new_tracks = sum(f.result() for f in stored)  # raises the failed chunk's error
    return out


def _worker_chunks(pings: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    """``pings`` cut into chunks of about ``size`` rows, each holding whole workers."""
    if len(pings) <= size:
        return [pings]
    codes, _ = pd.factorize(pings["worker_id"])
    ends = np.cumsum(np.bincount(codes))
    chunk_of_worker = (ends - 1) // size
    chunk = chunk_of_worker[codes]
    order = np.argsort(chunk, kind="stable")
    bounds = np.searchsorted(chunk[order], np.arange(chunk_of_worker[-1] + 2))
    parts = [order[a:b] for a, b in itertools.pairwise(bounds)]
    return [pings.iloc[rows] for rows in parts if len(rows)]


def _store(
    conn: Connection,
    batch: patrol.TrackBatch,
    worker_ids: dict[str, int],
    locator: GridLocator,
    mode: str,
) -> int:
    """Write one chunk's new tracks and merge their visits; the number of new tracks."""
    tracks = pd.DataFrame(
        {
            "worker_id": [worker_ids[t["worker_code"]] for t in batch.tracks],
            "mode": mode,
            "started_at": [t["started_at"] for t in batch.tracks],
            "ended_at": [t["ended_at"] for t in batch.tracks],
            "point_count": [t["point_count"] for t in batch.tracks],
            "checksum": [t["checksum"] for t in batch.tracks],
            "geom": [shapely.LineString(t["coords"]) for t in batch.tracks],
        }
    )
    new = activity.insert_tracks(conn, tracks)
    passes = batch.passes[batch.passes["checksum"].astype(str).isin(new)]
    visits = patrol.visits_by_worker(passes).reset_index(drop=True)
    if visits.empty:
        return len(new)
    cells = visits["cell"].to_numpy(np.int64)
    uniq, inverse = np.unique(cells, return_inverse=True)
    grid_of = locator.chain_ids(locator.locate_many(*hexgrid.cell_centers(uniq)))[:, 0]
    grid_ids = grid_of[inverse]
    activity.add_visits(
        conn,
        pd.DataFrame(
            {
                "h3_cell": cells,
                "day": visits["day"].to_numpy(),
                "worker_id": visits["worker_code"].astype(str).map(worker_ids).to_numpy(),
                "grid_unit_id": pd.Series(grid_ids).where(grid_ids >= 0).astype("Int64"),
                "first_seen": visits["first_seen"],  # tz-aware
                "last_seen": visits["last_seen"],
                "pass_count": visits["pass_count"].to_numpy(np.int64),
            }
        ),
    )
    return len(new)
