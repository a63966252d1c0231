"""`gridmap db up` is idempotent and recovers from a crash (its own throwaway cluster)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest

from geo.settings import PROJECT_ROOT, Settings
from geo.store.cluster import LocalCluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def scratch(tmp_path):
    settings = Settings(database_url=None, pg_dir=tmp_path / "pg", pg_port=_free_port())
    cluster = LocalCluster(settings)
    yield settings, cluster
    cluster.down(log=lambda *_: None)
    shutil.rmtree(cluster.base, ignore_errors=True)


def _cli(settings, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(GRIDMAP_PG_DIR=str(settings.pg_dir), GRIDMAP_PG_PORT=str(settings.pg_port))
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_db_up_twice_then_status(scratch):
    settings, cluster = scratch
    first = _cli(settings, "db", "up")
    assert first.returncode == 0, first.stderr
    pid = cluster.status().pid
    second = _cli(settings, "db", "up")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr
    assert cluster.status().pid == pid  # the same server: the second up was a no-op
    status = _cli(settings, "db", "status")
    assert status.returncode == 0 and "running" in status.stderr
    # The database answers with PostGIS and the migrated schema.
    dsn = f"host=127.0.0.1 port={settings.pg_port} user=gridmap dbname=gridmap"
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT postgis_lib_version()").fetchone()[0]
        assert conn.execute("SELECT to_regclass('admin_unit_version')").fetchone()[0]


def test_up_recovers_after_a_crash(scratch):
    settings, cluster = scratch
    cluster.up(log=lambda *_: None)
    pid = cluster.status().pid
    os.kill(pid, signal.SIGKILL)  # postmaster dies, its pid file stays behind
    deadline = time.monotonic() + 10
    while cluster.status().running and time.monotonic() < deadline:
        time.sleep(0.1)
    st = cluster.status()
    assert not st.running and st.pid == pid  # stale pid file detected
    st = cluster.up(log=lambda *_: None)
    assert st.running and st.pid != pid
    # A stopped cluster reports so, and the CLI says it with a non-zero exit.
    cluster.down(log=lambda *_: None)
    assert not cluster.status().running
    assert _cli(settings, "db", "status").returncode == 1


def test_taken_port_is_replaced_and_recorded(tmp_path):
    # The recorded port is held by something else (say another checkout's cluster):
    # with no explicit GRIDMAP_PG_PORT, `up` takes a free port and records it.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    pg_dir = tmp_path / "pg"
    pg_dir.mkdir()
    (pg_dir / "port").write_text(f"{taken}\n")
    settings = Settings(database_url=None, pg_dir=pg_dir, pg_port=None)
    cluster = LocalCluster(settings)
    assert cluster.port == taken
    try:
        st = cluster.up(log=lambda *_: None)
        assert st.running and st.port != taken
        recorded = int((pg_dir / "port").read_text())
        assert recorded == st.port == Settings(pg_dir=pg_dir, pg_port=None).local_pg_port()
        with psycopg.connect(f"host=127.0.0.1 port={recorded} user=gridmap dbname=gridmap") as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        squatter.close()
        cluster.down(log=lambda *_: None)
        shutil.rmtree(cluster.base, ignore_errors=True)
