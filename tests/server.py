"""The real service under uvicorn on a free loopback port, for tests (not a test module)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from geo.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(settings, log_dir: Path, *, timeout_s: float = 90, argv=None, **env_extra: str):
    """Run the service against ``settings``' database in its own process; yields the
    base URL once /healthz answers. ``env_extra``: more GRIDMAP_* settings; ``argv``:
    the command for a port (default: uvicorn on the app factory); the output goes to
    ``log_dir/server.log``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env.update(
        GRIDMAP_PG_DATABASE=settings.pg_database,
        GRIDMAP_PG_PORT=str(settings.local_pg_port()),
        GRIDMAP_PG_DIR=str(settings.pg_dir),
        **env_extra,
    )
    log = Path(log_dir) / "server.log"
    if argv is None:
        cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
        cmd += ["--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = argv(port)
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
