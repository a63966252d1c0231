"""Import → validate → publish on the real PostGIS: versions only for what changed,
refusals that change nothing, and a round trip through the export that is a no-op."""

import hashlib
import os
import signal
import subprocess
import sys
import time

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa

from geo.errors import InvalidInput
from geo.services import publish as publishing
from geo.settings import PROJECT_ROOT
from geo.store import boundaries as bstore

from boundaries import sets
from boundaries.export import export_boundaries
from boundaries.importer import normalise_units

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def history_digest(conn) -> str:
    """Every boundary version and set, byte for byte (geometry as WKB hex)."""
    rows = conn.execute(
        sa.text(
            "SELECT id, unit_id, boundary_set_id, code, name, parent_unit_id, "
            "encode(ST_AsEWKB(geom), 'hex'), valid_from, valid_to, author, reason "
            "FROM admin_unit_version ORDER BY id"
        )
    ).all()
    sets_rows = conn.execute(
        sa.text("SELECT id, status, checksum, activated_at, note FROM boundary_set ORDER BY id")
    ).all()
    return hashlib.sha256(repr((rows, sets_rows)).encode()).hexdigest()


def live_units(conn):
    return bstore.units_frame(conn)[["level", "code", "name", "parent_code", "geometry"]]


def test_round_trip_through_gpkg_changes_nothing(loaded, conn, tmp_path):
    before = history_digest(conn)
    path = tmp_path / "live.gpkg"
    export_boundaries(bstore.units_frame(conn), path, "gpkg")
    result = sets.import_file(conn, path, author="test")
    assert result.reused  # same content as the live set: nothing new at all
    assert history_digest(conn) == before

    # Forced through a fresh draft, publishing still versions nothing.
    back = gpd.read_file(path, layer="grid")
    units = normalise_units(back, level="grid")
    live = live_units(conn)
    lv = live[live["level"] == "grid"].set_index("code")
    for r in units.itertuples():  # codes, names, geometry within 1e-9°
        assert r.name == lv.loc[r.code, "name"]
        assert shapely.equals_exact(r.geometry, lv.loc[r.code, "geometry"], 1e-9)
    n_versions = conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar()
    set_id = bstore.create_draft_set(conn, units, name="forced", author="test")
    result, _ = publishing.publish(conn, set_id, author="test", reason="round trip")
    assert result.counts == {"unchanged": 611, "changed": 0, "new": 0, "removed": 0}
    assert conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar() == n_versions


def test_publish_versions_only_the_changed_grid(loaded, conn):
    live = live_units(conn)
    grids = live[live["level"] == "grid"].copy()
    target = grids["code"].iloc[5]
    grids.loc[grids["code"] == target, "name"] = "改名后的网格"
    uid_before = conn.execute(
        sa.text(f"SELECT unit_id FROM admin_unit_version WHERE {LIVE} AND code = :c"), {"c": target}
    ).scalar()
    set_id = bstore.create_draft_set(conn, grids, name="rename", author="planner")
    result, findings = publishing.publish(conn, set_id, author="planner", reason="rename one grid")
    assert not [f for f in findings if f.severity == "error"]
    assert result.counts == {"unchanged": 610, "changed": 1, "new": 0, "removed": 0}
    versions = conn.execute(
        sa.text(
            "SELECT name, valid_from, valid_to, author, reason FROM admin_unit_version "
            "WHERE unit_id = :u AND valid_from IS NOT NULL ORDER BY valid_from"
        ),
        {"u": uid_before},
    ).all()
    assert [v.name for v in versions][-1] == "改名后的网格"
    assert versions[-2].valid_to == versions[-1].valid_from  # closed exactly when replaced
    assert versions[-1].author == "planner" and "rename" in versions[-1].reason
    # The stable id persists with the code.
    assert (
        conn.execute(
            sa.text(f"SELECT unit_id FROM admin_unit_version WHERE {LIVE} AND code = :c"),
            {"c": target},
        ).scalar()
        == uid_before
    )


def _overlapping_grids(conn):
    live = live_units(conn)
    grids = live[live["level"] == "grid"].copy().reset_index(drop=True)
    a = grids.geometry.iloc[0]
    # Push grid 0 over its neighbours by 30 m (~0.0003°).
    grids.loc[0, "geometry"] = shapely.MultiPolygon([a.buffer(0.0003).buffer(0)])
    return grids


def test_publish_with_errors_is_refused_and_changes_nothing(loaded, conn):
    grids = _overlapping_grids(conn)
    set_id = bstore.create_draft_set(conn, grids, name="bad", author="planner")
    before = history_digest(conn)
    with pytest.raises(InvalidInput) as err:
        publishing.publish(conn, set_id, author="planner")
    assert err.value.extra["findings"]
    assert {f["type"] for f in err.value.extra["findings"]} & {"overlap", "outside_parent"}
    assert history_digest(conn) == before
    assert bstore.set_status(conn, set_id) == "draft"
    # An explicit override publishes and says so on the set.
    publishing.publish(conn, set_id, author="chief", override_reason="field survey pending")
    note = conn.execute(
        sa.text("SELECT note FROM boundary_set WHERE id = :i"), {"i": set_id}
    ).scalar()
    assert "override by chief" in note and "field survey pending" in note


def test_killed_import_leaves_everything_unchanged(loaded, db_engine, test_settings, tmp_path):
    # A large file, so the import is still running when it is killed.
    with db_engine.connect() as conn:
        before = history_digest(conn)
        grids = live_units(conn)
    grids = grids[grids["level"] == "grid"]
    big = gpd.GeoDataFrame(
        {
            "code": [f"{c}{i:02d}" for i in range(40) for c in grids["code"]],
            "name": [f"{n}{i}" for i in range(40) for n in grids["name"]],
            "parent_code": [p for _ in range(40) for p in grids["parent_code"]],
        },
        geometry=[g for _ in range(40) for g in grids.geometry],
        crs=4326,
    )
    path = tmp_path / "big.geojson"
    big.to_file(path, engine="pyogrio")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(
        GRIDMAP_PG_DATABASE=test_settings.pg_database,
        GRIDMAP_PG_PORT=str(test_settings.local_pg_port()),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "import", str(path), "--level", "grid"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Wait until it is inside the database transaction, then kill it hard.
    deadline = time.monotonic() + 120
    seen = ""
    while time.monotonic() < deadline:
        with db_engine.connect() as conn:
            busy = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
                    "AND query ILIKE '%admin_unit%'"
                )
            ).scalar()
        if busy:
            break
        if proc.poll() is not None:
            seen = proc.stdout.read()
            break
        time.sleep(0.05)
    assert proc.poll() is None, f"import finished before it could be killed:\n{seen}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    with db_engine.connect() as conn:
        assert history_digest(conn) == before
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM boundary_set WHERE name = 'big.geojson'")
            ).scalar()
            == 0
        )
