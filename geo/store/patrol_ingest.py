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
    out.new_tracks = len(new)
    passes = batch.passes[batch.passes["checksum"].astype(str).isin(new)]
    visits = patrol.visits_by_worker(passes).reset_index(drop=True)
    if visits.empty:
        return out
    cells = visits["cell"].to_numpy(np.int64)
    uniq, inverse = np.unique(cells, return_inverse=True)
    centres = np.array([h3cells.cell_center(int(c)) for c in uniq]).reshape(-1, 2)
    grid_of = locator.chain_ids(locator.locate_many(centres[:, 0], centres[:, 1]))[:, 0]
    grid_ids = grid_of[inverse]
    activity.add_visits(
        conn,
        pd.DataFrame(
            {
                "h3_cell": cells,
                "day": visits["day"].to_numpy(),
                "worker_id": visits["worker_code"].astype(str).map(worker_ids).to_numpy(),
                "grid_unit_id": pd.Series(grid_ids).where(grid_ids >= 0).astype("Int64"),
                "first_seen": visits["first_seen"],  # tz-aware: CSV keeps the offset
                "last_seen": visits["last_seen"],
                "pass_count": visits["pass_count"].to_numpy(np.int64),
            }
        ),
    )
    return out
