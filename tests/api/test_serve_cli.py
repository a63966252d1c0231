"""`gridmap serve`, the command README gives, answers; --no-access-log drops the
per-request log line (what the HTTP benchmarks run with) and keeps the rest."""

import sys
import time

import httpx
import pytest

from tests.server import serve


@pytest.mark.parametrize("access_log", [True, False])
def test_serve_answers_and_access_log_is_optional(loaded, test_settings, tmp_path, access_log):
    def argv(port):
        cmd = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
        return cmd if access_log else [*cmd, "--no-access-log"]

    with serve(test_settings, tmp_path, argv=argv) as base:
        r = httpx.get(f"{base}/v1/geocode/reverse", params={"lon": 0, "lat": 0})
        assert r.status_code == 404  # outside the district, but answered
        time.sleep(0.5)
    text = (tmp_path / "server.log").read_text()
    assert "Application startup complete" in text  # the rest of the log stays
    assert ("GET /v1/geocode/reverse" in text) == access_log
