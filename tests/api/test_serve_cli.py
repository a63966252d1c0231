"""`gridmap serve`, the command README gives, answers; --no-access-log drops the
per-request log line (what the HTTP benchmarks run with) and keeps the rest."""

import os
import subprocess
import sys
import time

import httpx
import pytest

from geo.settings import PROJECT_ROOT

from tests.server import free_port


@pytest.mark.parametrize("access_log", [True, False])
def test_serve_answers_and_access_log_is_optional(loaded, test_settings, tmp_path, access_log):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(
        GRIDMAP_PG_DATABASE=test_settings.pg_database,
        GRIDMAP_PG_PORT=str(test_settings.local_pg_port()),
        GRIDMAP_PG_DIR=str(test_settings.pg_dir),
    )
    cmd = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    if not access_log:
        cmd.append("--no-access-log")
    log = tmp_path / "serve.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.3)
        r = httpx.get(f"{base}/v1/geocode/reverse", params={"lon": 0, "lat": 0})
        assert r.status_code == 404  # outside the district, but answered
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "Application startup complete" in text  # the rest of the log stays
    assert ("GET /v1/geocode/reverse" in text) == access_log
