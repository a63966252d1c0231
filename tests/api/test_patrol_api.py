"""Patrol upload (GPX written by gpxpy) and coverage against independent counts."""

from datetime import UTC, datetime, timedelta

import gpxpy
import gpxpy.gpx
import h3
import numpy as np
import sqlalchemy as sa


def _gpx_walk(start_lon, start_lat, t0, n=80, step_s=20, speed=1.3) -> bytes:
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="walk")
    seg = gpxpy.gpx.GPXTrackSegment()
    for i in range(n):
        d = i * step_s * speed
        seg.points.append(
            gpxpy.gpx.GPXTrackPoint(
                latitude=start_lat + d / 111_000 * 0.6,
                longitude=start_lon + d / 91_000 * 0.8,
                time=t0 + timedelta(seconds=i * step_s),
            )
        )
    track.segments.append(seg)
    gpx.tracks.append(track)
    return gpx.to_xml().encode()


def _counts(db_engine, worker):
    with db_engine.connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM patrol_track t "
                "        JOIN grid_worker w ON w.id = t.worker_id WHERE w.worker_code = :w), "
                "       (SELECT coalesce(sum(pass_count), 0) FROM patrol_visit v "
                "        JOIN grid_worker w ON w.id = v.worker_id WHERE w.worker_code = :w)"
            ),
            {"w": worker},
        ).one()


def test_gpx_upload_is_idempotent_and_unknown_workers_are_refused(client, sample, db_engine):
    worker = sample.workers[sample.workers["role"] == "worker"]["worker_id"].iloc[3]
    p = sample.grids.geometry.iloc[120].representative_point()
    body = _gpx_walk(p.x, p.y, datetime(2026, 10, 30, 1, 0, tzinfo=UTC))
    before = _counts(db_engine, worker)
    r = client.post(
        "/v1/patrol/tracks", files={"file": ("walk.gpx", body)}, data={"worker_id": worker}
    )
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["fixes_received"] == 80 and res["new_tracks"] == 1
    after = _counts(db_engine, worker)
    assert after[0] == before[0] + 1 and after[1] > before[1]
    again = client.post(
        "/v1/patrol/tracks", files={"file": ("walk.gpx", body)}, data={"worker_id": worker}
    ).json()
    assert again["new_tracks"] == 0
    assert _counts(db_engine, worker) == after
    bad = client.post(
        "/v1/patrol/tracks", files={"file": ("walk.gpx", body)}, data={"worker_id": "NOBODY"}
    )
    assert bad.status_code == 422 and bad.json()["unknown_workers"] == ["NOBODY"]
    junk = client.post(
        "/v1/patrol/tracks", files={"file": ("walk.gpx", b"<gpx")}, data={"worker_id": worker}
    )
    assert junk.status_code == 422 and junk.headers["content-type"] == "application/problem+json"


def test_grid_coverage_equals_an_independent_count(client, sample, db_engine):
    # A village grid: large enough to hold many res-10 cells.
    g = sample.grids.loc[sample.grids.geometry.area.idxmax()]
    start, end = "2026-10-02", "2026-10-31"
    body = client.get(
        f"/v1/coverage/{g['parent_code']}", params={"start": start, "end": end}
    ).json()
    row = next(x for x in body["grids"] if x["code"] == g["code"])
    # Independent: the grid's res-10 cells by h3's own polygon fill (centre inside),
    # visited ones from the raw visit rows.
    shape = h3.geo_to_h3shape(g.geometry.__geo_interface__)
    cells = {h3.str_to_int(c) for c in h3.h3shape_to_cells(shape, 10)}
    with db_engine.connect() as conn:
        visited = {
            r[0]
            for r in conn.execute(
                sa.text("SELECT DISTINCT h3_cell FROM patrol_visit WHERE day BETWEEN :s AND :e"),
                {"s": start, "e": end},
            )
        }
    assert len(cells) > 10
    assert row["cell_count"] == len(cells)
    assert row["visited_cells"] == len(cells & visited)
    assert np.isclose(row["share_visited"], len(cells & visited) / len(cells))
    gaps = client.get(
        f"/v1/coverage/{g['code']}", params={"start": start, "end": end, "format": "geojson"}
    ).json()
    assert len(gaps["features"]) == row["cell_count"] - row["visited_cells"]
    assert client.get("/v1/coverage/999", params={"start": start}).status_code == 404
    assert (
        client.get(
            f"/v1/coverage/{g['code']}", params={"start": "2026-10-31", "end": "2026-10-01"}
        ).status_code
        == 422
    )


def _visits_between(db_engine, start, end) -> int:
    with db_engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM patrol_visit WHERE day BETWEEN :s AND :e"),
            {"s": start, "e": end},
        ).scalar_one()


def test_coverage_of_a_window_without_visits_is_zero(client, sample, db_engine):
    # Was a 500 (TypeError in cell_coverage) for any window with no visit at all.
    community = sample.grids["parent_code"].iloc[0]
    assert _visits_between(db_engine, "2026-01-04", "2026-01-10") == 0  # the premise
    r = client.get(f"/v1/coverage/{community}", params={"end": "2026-01-10"})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["window"] == {"start": "2026-01-04", "end": "2026-01-10"}
    grids = body["grids"]
    assert {g["code"] for g in grids} == set(
        sample.grids.loc[sample.grids["parent_code"] == community, "code"]
    )
    assert all(g["visited_cells"] == 0 and g["pass_count"] == 0 for g in grids)
    assert body["unvisited_cells"] == sum(g["cell_count"] for g in grids) > 0
    assert body["unit"]["visited_cells"] == 0


def test_coverage_cli_prints_a_window_without_visits(monkeypatch, test_settings, sample, loaded):
    from typer.testing import CliRunner

    from api.cli import app

    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    monkeypatch.setenv("GRIDMAP_PG_DATABASE", test_settings.pg_database)
    monkeypatch.setenv("GRIDMAP_PG_PORT", str(test_settings.local_pg_port()))
    monkeypatch.setenv("GRIDMAP_PG_DIR", str(test_settings.pg_dir))
    grid = sample.grids["code"].iloc[0]
    r = CliRunner().invoke(app, ["coverage", grid, "--end", "2026-01-10"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert grid in r.output and "0%" in r.output
