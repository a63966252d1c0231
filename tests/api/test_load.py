"""A bounded load test on loopback: reverse geocoding and incident intake together for
20 s against the real server — zero errors, and afterwards the database holds exactly
the incidents that were acknowledged (no more, no fewer). The same workload, longer,
is ``benchmarks/bench_load.py`` (figures in benchmarks/RESULTS.md)."""

from __future__ import annotations

import asyncio
import uuid

from benchmarks.bench_load import points_inside, run_load, stored_ids, summary


def test_geocoding_and_intake_under_load(edit_server, edit_db):
    _settings, engine = edit_db
    run_id = f"load-{uuid.uuid4().hex[:8]}"
    out = asyncio.run(run_load(edit_server, points_inside(engine, 5000), run_id, 20))
    stored = stored_ids(engine, run_id)
    print(summary(out, stored))
    assert out["errors"] == []
    assert len(out["geocode"]) > 100 and len(out["intake"]) > 20  # it really ran under load
    assert stored == out["acknowledged"]
