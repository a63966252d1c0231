"""The project-local PostgreSQL + PostGIS cluster behind ``gridmap db up|down|status|reset``.

The cluster lives in a git-ignored folder of the project (``var/pg``) and listens on
a private port on 127.0.0.1 only, with trust authentication: it is a developer's and
a demo's database, never a production one (point ``GRIDMAP_DATABASE_URL`` there).

PostgreSQL refuses to run as root, so when invoked as root every server command
runs as the ``postgres`` system user, which then owns the cluster folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from geo.settings import DEFAULT_PG_PORT, PROJECT_ROOT, Settings


class ClusterError(RuntimeError):
    """A cluster command failed; the message says what to do next."""


INSTALL_SCRIPT = PROJECT_ROOT / "scripts" / "install-system-packages.sh"


def find_bindir() -> Path | None:
    """The newest PostgreSQL server bin folder that has PostGIS installed beside it."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted((p for p in root.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    for vdir in reversed(versions):
        postgis = Path(f"/usr/share/postgresql/{vdir.name}/extension/postgis.control")
        if (vdir / "bin" / "pg_ctl").exists() and postgis.exists():
            return vdir / "bin"
    return None


def ensure_installed() -> Path:
    """Install PostgreSQL + PostGIS through the project's script when missing."""
    bindir = find_bindir()
    if bindir is None:
        subprocess.run(["bash", str(INSTALL_SCRIPT), "db"], check=True)
        bindir = find_bindir()
    if bindir is None:
        raise ClusterError(
            "PostgreSQL with PostGIS is not installed and the install script did not "
            f"install it. Run `bash {INSTALL_SCRIPT} db` and read its errors."
        )
    return bindir


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if _is_root() else cmd


def _server_user_can_enter(path: Path) -> bool:
    """Can the postgres user reach ``path``? (A clone in ``mktemp -d`` is mode 700.)"""
    if not _is_root():
        return True
    probe = path
    while not probe.exists():
        probe = probe.parent
    res = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(probe)])
    return res.returncode == 0


@dataclass
class ClusterStatus:
    running: bool
    initialized: bool
    data_dir: Path
    port: int
    pid: int | None
    message: str


class LocalCluster:
    """Create, start, stop and inspect the project-local cluster."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.port = settings.local_pg_port()
        self.port_file = Path(settings.pg_dir) / "port"
        self.base = self._resolve_base(Path(settings.pg_dir))
        self.data_dir = self.base / "data"
        self.run_dir = self.base / "run"
        self.log_file = self.base / "server.log"

    @staticmethod
    def _resolve_base(wanted: Path) -> Path:
        # As root, the server user must reach the folder; a clone inside a mode-700
        # directory cannot be reached, so the cluster then lives in postgres's own
        # space under a name derived from the project folder (stable across runs).
        wanted = wanted.resolve()
        if _server_user_can_enter(wanted.parent):
            return wanted
        digest = hashlib.sha1(str(wanted).encode()).hexdigest()[:12]
        return Path("/var/lib/postgresql/gridmap") / digest

    # -- helpers -------------------------------------------------------------
    def _run(self, bindir: Path, args: list[str], check: bool = True):
        cmd = _as_server_user([str(bindir / args[0]), *args[1:]])
        res = subprocess.run(cmd, capture_output=True, text=True)
        if check and res.returncode != 0:
            raise ClusterError(
                f"`{' '.join(args)}` failed ({res.returncode}):\n{res.stderr.strip()}\n"
                f"See the server log: {self.log_file}"
            )
        return res

    def _pid_from_file(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _pid_alive_postgres(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        return b"postgres" in cmdline

    def _pick_free_port(self) -> int:
        for port in range(DEFAULT_PG_PORT, DEFAULT_PG_PORT + 200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(0.2)
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return port
        raise ClusterError(
            f"no free port in {DEFAULT_PG_PORT}–{DEFAULT_PG_PORT + 199}; set GRIDMAP_PG_PORT"
        )

    def _record_port(self) -> None:
        self.port_file.parent.mkdir(parents=True, exist_ok=True)
        self.port_file.write_text(f"{self.port}\n")

    def _port_taken(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    # -- public --------------------------------------------------------------
    def status(self) -> ClusterStatus:
        initialized = (self.data_dir / "PG_VERSION").exists()
        pid = self._pid_from_file() if initialized else None
        running = bool(pid and self._pid_alive_postgres(pid))
        if not initialized:
            msg = "not initialised (run `gridmap db up`)"
        elif running:
            msg = f"running, pid {pid}, port {self.port}"
        elif pid:
            msg = "stopped (stale pid file left by a crash; `gridmap db up` clears it)"
        else:
            msg = "stopped"
        return ClusterStatus(running, initialized, self.data_dir, self.port, pid, msg)

    def up(self, log: Callable[[str], object] = print) -> ClusterStatus:
        """Initialise (first time), start and prepare the database. Idempotent."""
        bindir = ensure_installed()
        st = self.status()
        if not st.initialized:
            self._init(bindir, log)
        st = self.status()
        if not st.running:
            if st.pid:  # stale pid file: its process is gone or is not postgres
                log(f"removing stale pid file (pid {st.pid} is not running)")
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / "postmaster.pid").unlink()
            if st.pid:
                # Orphans of the crashed server keep its socket for a few seconds.
                deadline = time.monotonic() + 15
                while self._port_taken() and time.monotonic() < deadline:
                    time.sleep(0.5)
            if self._port_taken():
                if self.settings.pg_port:
                    raise ClusterError(
                        f"port {self.port} on 127.0.0.1 is used by another server. Stop it, "
                        "or choose another port: export GRIDMAP_PG_PORT=55433"
                    )
                # Another checkout's cluster (or anything else) has it: take a free one.
                self.port = self._pick_free_port()
                log(f"port taken; using {self.port} (recorded in {self.port_file})")
            self._record_port()
            log(f"starting PostgreSQL on 127.0.0.1:{self.port} ({self.data_dir})")
            self._start(bindir)
        else:
            log(f"PostgreSQL already running on port {self.port}")
        self._prepare_database(self.settings.pg_database)
        return self.status()

    def _start(self, bindir: Path, wait_s: float = 30.0) -> None:
        # After a crash, the dead postmaster's children hold its shared memory for a
        # few seconds until they notice; the new server refuses to start until then.
        args = [
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            f"-p {self.port}",
        ]
        deadline = time.monotonic() + wait_s
        while True:
            res = self._run(bindir, args, check=False)
            if res.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"PostgreSQL did not start: {res.stderr.strip()}\n"
                    f"Last lines of {self.log_file}:\n{self._log_tail()}\n"
                    "Fix what the log says, or start afresh with `gridmap db reset`."
                )
            time.sleep(1.0)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _init(self, bindir: Path, log) -> None:
        log(f"creating a PostgreSQL cluster in {self.data_dir}")
        self.base.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.run_dir, "postgres", "postgres")
        if self.data_dir.exists():  # a half-made folder from an interrupted init
            shutil.rmtree(self.data_dir)
        self._run(
            bindir,
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
        )
        conf = self.data_dir / "postgresql.conf"
        extra = (
            "\n# gridmap project-local settings\n"
            "listen_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.run_dir}'\n"
            "shared_buffers = 256MB\n"
            "work_mem = 32MB\n"
            "max_connections = 100\n"
            "timezone = 'Asia/Shanghai'\n"
        )
        self._append_as_server_user(conf, extra)

    def _append_as_server_user(self, path: Path, text: str) -> None:
        cmd = _as_server_user(["sh", "-c", f"cat >> '{path}'"])
        subprocess.run(cmd, input=text, text=True, check=True)

    def admin_dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def _prepare_database(self, database: str) -> None:
        ensure_database(self.admin_dsn(), database, self.settings.pg_user)

    def down(self, log: Callable[[str], object] = print) -> ClusterStatus:
        st = self.status()
        if not st.running:
            log("PostgreSQL is not running")
            return st
        bindir = ensure_installed()
        self._run(bindir, ["pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir)])
        log("PostgreSQL stopped")
        return self.status()

    def reset(self, log: Callable[[str], object] = print) -> ClusterStatus:
        """Stop, delete every database of the cluster, and start afresh."""
        self.down(log)
        if self.base.exists():
            shutil.rmtree(self.base)
            log(f"removed {self.base}")
        return self.up(log)


def ensure_database(admin_dsn: str, database: str, owner: str) -> None:
    """Create role ``owner`` and ``database`` with PostGIS, when missing."""
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(admin_dsn, autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (owner,)).fetchone():
            # Superuser in this local cluster only, so migrations can create extensions.
            conn.execute(f'CREATE ROLE "{owner}" LOGIN SUPERUSER')
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    dsn = admin_dsn.rsplit("dbname=", 1)[0] + f"dbname={database}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def drop_database(admin_dsn: str, database: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
