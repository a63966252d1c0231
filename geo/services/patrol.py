"""Patrol use cases: a track file in (cleaned, path-filled, stored), coverage out.

- :func:`ingest_track_file`: a GPX, GeoJSON or CSV-pings upload, read
  (:mod:`geo.io.tracks`), its workers checked, then stored by
  :func:`ingest_pings` in ONE transaction; shared by ``POST /v1/patrol/tracks`` and
  ``gridmap ingest tracks``.
- :func:`ingest_pings`: clean and path-fill pings (:mod:`geo.patrol`), then write the
  new tracks and add their per-cell visits (:mod:`geo.store.patrol`), in the caller's
  transaction. Re-uploading the same fixes stores nothing: tracks are keyed by the hash
  of their cleaned fixes, and visits come only from new tracks.
- :func:`coverage_of`: the patrol coverage of the map in a window, for a unit the
  caller may see; shared by ``GET /v1/coverage/{code}`` and ``gridmap coverage``.

A big upload is cut into chunks of whole workers and pipelined: while PostgreSQL
stores one chunk (a thread waits on the connection, holding no GIL), Python cleans and
path-fills the next, so both cores work. Cleaning looks at one worker's fixes at a
time, so the chunks give the same tracks, visits and report as the whole; a failing
chunk aborts the transaction, so the upload is still all or nothing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo import hexgrid, patrol
from geo.errors import InvalidInput, NotFound
from geo.io.tracks import read_track_file
from geo.lookup.locator import GridLocator
from geo.patrol.clean import PolygonMask
from geo.patrol.coverage import Coverage, coverage
from geo.store import boundaries as bstore
from geo.store import patrol as patrol_store
from geo.store import registers
from geo.store.db import Connection, Engine

# Pings per pipelined chunk: big enough that a chunk's round trips (a few ms) do not
# count, small enough that Python and PostgreSQL overlap for most of the upload.
CHUNK_PINGS = 50_000


@dataclass
class IngestResult:
    """What :func:`ingest_pings` stored and dropped."""

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
    district: BaseGeometry | PolygonMask | None = None,
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

    stored: list[Future[int]] = []
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
    new = patrol_store.insert_tracks(conn, tracks)
    passes = batch.passes[batch.passes["checksum"].astype(str).isin(new)]
    visits = patrol.visits_by_worker(passes).reset_index(drop=True)
    if visits.empty:
        return len(new)
    cells = visits["cell"].to_numpy(np.int64)
    uniq, inverse = np.unique(cells, return_inverse=True)
    grid_of = locator.chain_ids(locator.locate_many(*hexgrid.cell_centers(uniq)))[:, 0]
    grid_ids = grid_of[inverse]
    patrol_store.add_visits(
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


# --- The use cases ------------------------------------------------------------------


@dataclass(frozen=True)
class FileIngest:
    """The report of one uploaded track file."""

    fixes_received: int
    fixes_kept: int
    dropped: dict[str, int]
    tracks: int
    new_tracks: int


def ingest_track_file(
    engine: Engine,
    locator: GridLocator,
    data: bytes,
    filename: str,
    *,
    worker_id: str | None,
    crs: str | None,
    mode: str,
    res: int,
    check_worker: Callable[[str], None] | None = None,
) -> FileIngest:
    """Read a track file and store its tracks and visits, all or nothing.

    ``worker_id`` names the worker of a GPX/GeoJSON file without ids, ``crs`` the CRS
    of a file without one per row; ``check_worker(code)`` raises for a worker the
    caller may not upload for (a grid worker uploads only their own tracks).
    """
    pings = read_track_file(data, filename, worker_id=worker_id, crs=crs)
    if check_worker is not None:
        for code in sorted(set(pings["worker_id"].astype(str))):
            check_worker(code)
    with engine.begin() as conn:
        workers = registers.worker_ids(conn)
        unknown = sorted(set(pings["worker_id"].astype(str)) - set(workers))
        if unknown:
            raise InvalidInput(
                f"unknown worker id(s) {unknown[:10]}; register them first",
                f"未登记的人员编号 {unknown[:10]}；请先登记",
                unknown_workers=unknown[:100],
            )
        district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
        result = ingest_pings(conn, pings, workers, locator, res=res, mode=mode, district=district)
    return FileIngest(
        fixes_received=len(pings),
        fixes_kept=result.fixes_kept,
        dropped=result.dropped,
        tracks=result.tracks,
        new_tracks=result.new_tracks,
    )


@dataclass(frozen=True)
class MapCoverage:
    """Patrol coverage of the whole live map in a window, and the map's units."""

    units: gpd.GeoDataFrame
    coverage: Coverage


def coverage_of(
    engine: Engine,
    code: str,
    start: date,
    end: date,
    *,
    stale_after_days: int = 7,
    check_unit: Callable[[list[int]], None] | None = None,
) -> MapCoverage:
    """Coverage from ``start`` to ``end`` (local days), for the live unit ``code``.

    Raises NotFound when no live unit has ``code``; ``check_unit(chain unit ids)``
    raises when the caller may not see it.
    """
    with engine.connect() as conn:
        chain = bstore.chain_unit_ids(conn, code)
        if not chain:
            raise NotFound(f"no live unit has code {code}", f"没有编码为 {code} 的现行单元")
        if check_unit is not None:
            check_unit(chain)
        units = bstore.units_frame(conn)
        visits = patrol_store.visits_frame(conn, end=end)
    cov = coverage(units, visits, start, end, stale_after_days=stale_after_days)
    return MapCoverage(units, cov)
