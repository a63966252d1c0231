"""End-to-end patrol ingest into PostGIS: pings → cleaned tracks + per-cell visits.

Uses the sample district's ~290,000 patrol pings (times shifted per run so every run
stores new tracks) against the local cluster's database; each run is rolled back.
Prints pings/s per run and the median. Target (issue 5): ≥ 300,000 pings/s.

    uv run python -m benchmarks.bench_ingest --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from geo.settings import Settings
from geo.store import boundaries as bstore
from geo.store import registers
from geo.store.db import make_engine
from geo.store.patrol_ingest import ingest_pings

from api.state import ServiceState
from boundaries.sample import generate_sample_district


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    settings = Settings()
    engine = make_engine(settings)
    state = ServiceState(settings, engine)
    state.refresh()
    pings = generate_sample_district(settings.sample_seed).patrol_pings
    pings = pings.assign(time=pd.to_datetime(pings["time"], utc=True))
    rates = []
    for run in range(args.runs):
        shifted = pings.assign(time=pings["time"] + pd.Timedelta(days=400 + run))
        with engine.connect() as conn:
            trans = conn.begin()
            workers = registers.worker_ids(conn)
            district = bstore.units_frame(conn, levels=("district",)).geometry.union_all()
            t0 = time.perf_counter()
            res = ingest_pings(
                conn,
                shifted,
                workers,
                state.geocoder.locator,
                res=settings.h3_patrol_res,
                district=district,
            )
            elapsed = time.perf_counter() - t0
            trans.rollback()
        rates.append(len(pings) / elapsed)
        print(
            f"run {run + 1}: {len(pings):,} pings, {res.new_tracks} tracks, "
            f"{elapsed:.2f} s, {rates[-1]:,.0f} pings/s"
        )
    med = statistics.median(rates)
    print(
        f"median {med:,.0f} pings/s end to end into PostGIS; ratio to the 300,000 target "
        f"{med / 300_000:.2f}"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
