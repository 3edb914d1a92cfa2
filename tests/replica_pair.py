"""A PostgreSQL primary and its streaming replica of their own, on loopback free ports, for the
read-replica tests (tests/test_replicas.py) and bench/replica_reads.py.

Built with the installed PostgreSQL's ``initdb``, ``pg_basebackup -R`` and ``pg_ctl``
(``/usr/lib/postgresql/<major>/bin``, the highest major found, or ``PG_BIN``), run as the
``postgres`` user when this process is root (PostgreSQL refuses to run as root), as this user
otherwise. The data directories live in a temporary directory, removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.app_instances import free_port

PG_USER = "postgres"


def pg_bin() -> Path | None:
    """The directory of the installed PostgreSQL's server programs, or ``None``."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    versions = sorted(
        (path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(re.sub(r"\D", "", path.parent.name) or 0),
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def unavailable_reason() -> str | None:
    """Why a pair cannot be built here, or ``None`` when it can."""
    if pg_bin() is None:
        return "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return "running as root without a postgres user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root without runuser"
    return None


@dataclass
class ReplicaPair:
    root: Path
    primary_port: int
    replica_port: int
    database: str = "app"
    log: list[str] = field(default_factory=list)

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def replica_dir(self) -> Path:
        return self.root / "replica"

    def url(self, which: str = "primary") -> str:
        port = self.primary_port if which == "primary" else self.replica_port
        return f"postgres://{PG_USER}@127.0.0.1:{port}/{self.database}"

    def dsn(self, which: str = "primary", database: str | None = None) -> dict[str, object]:
        port = self.primary_port if which == "primary" else self.replica_port
        return {
            "host": "127.0.0.1",
            "port": port,
            "user": PG_USER,
            "dbname": database or self.database,
            "connect_timeout": 2,
        }

    # --- Running PostgreSQL's programs ----------------------------------------------------

    def run(self, program: str, *args: str, timeout: float = 60) -> str:
        command = [str(pg_bin() / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", PG_USER, "--", *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        self.log.append(f"$ {' '.join(command)}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}):\n" + "\n".join(self.log))
        return result.stdout

    def _ctl(self, data: Path, action: str, *args: str) -> None:
        self.run("pg_ctl", action, "-D", str(data), "-w", "-t", "30", *args)

    def start(self, which: str) -> None:
        data = self.primary_dir if which == "primary" else self.replica_dir
        logfile = self.root / f"{which}.log"
        self._ctl(data, "start", "-l", str(logfile))

    def stop(self, which: str, mode: str = "fast") -> None:
        data = self.primary_dir if which == "primary" else self.replica_dir
        self._ctl(data, "stop", "-m", mode)

    def sql(self, which: str, query: str, params: tuple = (), database: str | None = None):
        import psycopg

        with psycopg.connect(**self.dsn(which, database), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    # --- Replication ----------------------------------------------------------------------

    def pause_replay(self) -> None:
        self.sql("replica", "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql("replica", "SELECT pg_wal_replay_resume()")

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        target = self.sql("primary", "SELECT pg_current_wal_insert_lsn()")[0][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replayed = self.sql(
                "replica", "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (str(target),)
            )[0][0]
            if replayed:
                return
            time.sleep(0.05)
        raise RuntimeError(f"the replica did not replay up to {target} within {timeout}s")


def _configure(data: Path, port: int, root: Path, extra: dict[str, str]) -> None:
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{root}'",
        "fsync": "off",  # a throwaway pair: durability is not what is tested
        "full_page_writes": "off",
        "shared_buffers": "32MB",
        "max_connections": "50",
        "wal_level": "replica",
        "max_wal_senders": "4",
        "hot_standby": "on",
        "shared_preload_libraries": "'pg_stat_statements'",
        "pg_stat_statements.track": "all",
        **extra,
    }
    with (data / "postgresql.auto.conf").open("a") as conf:
        for name, value in settings.items():
            conf.write(f"{name} = {value}\n")


@contextmanager
def replica_pair(
    setup_primary=None, *, primary_settings: dict[str, str] | None = None
) -> Iterator[ReplicaPair]:
    """A running primary (``initdb``, database ``app``) and its streaming replica
    (``pg_basebackup -R`` of it). ``setup_primary(pair)`` runs on the primary before the base
    backup (a migrated schema is then on both at once). Everything is stopped and removed at
    the end."""
    root = Path(tempfile.mkdtemp(prefix="replica-pair-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam(PG_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
    root.chmod(0o700)
    pair = ReplicaPair(root=root, primary_port=free_port(), replica_port=free_port())
    started: list[str] = []
    try:
        pair.run(
            "initdb",
            "-D",
            str(pair.primary_dir),
            "-U",
            PG_USER,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        _configure(pair.primary_dir, pair.primary_port, root, primary_settings or {})
        pair.start("primary")
        started.append("primary")
        pair.sql("primary", f'CREATE DATABASE "{pair.database}"', database="postgres")
        pair.sql("primary", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if setup_primary is not None:
            setup_primary(pair)
        pair.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(pair.primary_port),
            "-U",
            PG_USER,
            "-D",
            str(pair.replica_dir),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        )
        with (pair.replica_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"port = {pair.replica_port}\n")
        pair.start("replica")
        started.append("replica")
        yield pair
    finally:
        for which in reversed(started):
            with contextlib.suppress(Exception):  # already stopped by a test
                pair.stop(which, "immediate")
        shutil.rmtree(root, ignore_errors=True)
