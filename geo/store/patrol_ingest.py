"""Store patrol pings: clean and path-fill them (geo.patrol), then write the new tracks
and add their per-cell visits. Re-uploading the same fixes stores nothing: tracks are
keyed by the hash of their cleaned fixes, and visits come only from new tracks.
Runs in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection

from geo import h3cells, patrol
from geo.locator import GridLocator
from geo.store import activity
from geo.store.db import ewkt


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
) -> IngestResult:
    """``pings``: worker_id, time (tz-aware), lon, lat (WGS-84), accuracy."""
    out = IngestResult()
    pings = pings.assign(worker_id=pings["worker_id"].astype(str))
    known = pings["worker_id"].isin(worker_ids)
    out.unknown_workers = sorted(set(pings.loc[~known, "worker_id"]))
    batch = patrol.build_tracks(pings[known], res, mode, district=district)
    out.tracks = len(batch.tracks)
    out.fixes_kept = batch.report.kept
    out.dropped = dict(batch.report.dropped)
    new = activity.insert_tracks(
        conn,
        [
            {
                "worker_id": worker_ids[t["worker_code"]],
                "mode": mode,
                "started_at": t["started_at"].to_pydatetime(),
                "ended_at": t["ended_at"].to_pydatetime(),
                "point_count": t["point_count"],
                "checksum": t["checksum"],
                "geom": ewkt(shapely.LineString(t["coords"])),
            }
            for t in batch.tracks
        ],
    )
    out.new_tracks = len(new)
    passes = batch.passes[batch.passes["checksum"].astype(str).isin(new)]
    visits = patrol.visits_by_worker(passes)
    if visits.empty:
        return out
    centres = np.array([h3cells.cell_center(int(c)) for c in visits["cell"]])
    grid_ids = locator.chain_ids(locator.locate_many(centres[:, 0], centres[:, 1]))[:, 0]
    activity.add_visits(
        conn,
        [
            {
                "h3_cell": int(v.cell),
                "day": v.day,
                "worker_id": worker_ids[str(v.worker_code)],
                "grid_unit_id": int(g) if g >= 0 else None,
                "first_seen": v.first_seen.to_pydatetime(),
                "last_seen": v.last_seen.to_pydatetime(),
                "pass_count": int(v.pass_count),
            }
            for v, g in zip(visits.itertuples(), grid_ids, strict=True)
        ],
    )
    return out
