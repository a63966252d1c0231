"""End-to-end patrol ingest into PostGIS: pings → cleaned tracks + per-cell visits.

Uses the sample district's ~290,000 patrol pings against the local cluster's
database. ``--copies K`` ingests K copies of them, each shifted past the one before
(K periods of the district's patrols; 34 copies are ~10 million pings), one
``ingest_pings`` call per upload, all in one transaction that is rolled back at the
end of the run. Before each run the two patrol tables are vacuumed (outside the
timing): rolled-back runs leave dead index entries that a real, committed history
does not have, and that made every later run slower. Prints pings/s per run and the
median. Target (issue 5): ≥ 300,000 pings/s.

    uv run python -m benchmarks.bench_ingest --runs 5
    uv run python -m benchmarks.bench_ingest --runs 3 --copies 34 [--one-upload]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from geo.services.patrol import ingest_pings
from geo.services.state import ServiceState
from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store import registers
from geo.store.db import make_engine

from boundaries.sample import generate_sample_district


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--copies", type=int, default=1, help="copies per run, a day apart")
    ap.add_argument(
        "--one-upload",
        action="store_true",
        help="all copies in one ingest call (one big file, as `gridmap ingest tracks`)",
    )
    args = ap.parse_args()
    settings = Settings()
    engine = make_engine(settings)
    state = ServiceState(settings, engine)
    state.refresh()
    pings = generate_sample_district(settings.sample_seed).patrol_pings
    pings = pings.assign(time=pd.to_datetime(pings["time"], utc=True))
    # Copies follow each other without overlapping: a worker's fixes of one copy never
    # interleave with another's (that would read as impossible jumps).
    span = (pings["time"].max() - pings["time"].min()).days + 1
    rates = []
    for run in range(args.runs):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM patrol_track, patrol_visit")
        total = new_tracks = 0
        with engine.connect() as conn:
            trans = conn.begin()
            workers = registers.worker_ids(conn)
            district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
            uploads = [
                # Moved back in time (new tracks each copy): fixes over a day ahead of
                # the clock are dropped as implausible.
                pings.assign(
                    time=pings["time"] - pd.Timedelta(days=400 + span * (k + run * args.copies))
                )
                for k in range(args.copies)
            ]
            if args.one_upload:
                uploads = [pd.concat(uploads, ignore_index=True)]
            t0 = time.perf_counter()
            for upload in uploads:
                res = ingest_pings(
                    conn,
                    upload,
                    workers,
                    state.geocoder.locator,
                    res=settings.h3_patrol_res,
                    district=district,
                )
                total += len(upload)
                new_tracks += res.new_tracks
            elapsed = time.perf_counter() - t0
            trans.rollback()
        rates.append(total / elapsed)
        print(
            f"run {run + 1}: {total:,} pings in {len(uploads)} upload(s), {new_tracks:,} "
            f"tracks, {elapsed:.2f} s, {rates[-1]:,.0f} pings/s",
            flush=True,
        )
    med = statistics.median(rates)
    print(
        f"median {med:,.0f} pings/s end to end into PostGIS; ratio to the 300,000 target "
        f"{med / 300_000:.2f}"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
