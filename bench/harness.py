"""What the benchmarks share: gunicorn instances of the app, PostgreSQL helpers, CPU accounting
from /proc, waiting for a quiet machine, the machine and the commit measured."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from machine import cpu_model, memory_gib  # bench/machine.py (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
RESULTS_DIR = ROOT / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def setup_django_on_postgres() -> bool:
    """For a benchmark that runs the app in its own process: False (after saying why) unless
    DATABASE_URL names a PostgreSQL database; otherwise bench/ comes off ``sys.path`` (its
    scripts are named like the project's packages, e.g. ``analytics``), the project root goes
    first, and Django is set up."""
    if urlsplit(os.environ.get("DATABASE_URL", "")).scheme not in ("postgres", "postgresql"):
        print("Set DATABASE_URL to the PostgreSQL bench database (see --help).", file=sys.stderr)
        return False
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")
    import django

    from core.ops.database import JOBS, set_process_kind

    set_process_kind(JOBS)  # in-process work on the whole data set: the jobs' statement timeout
    django.setup()
    return True


def machine_info(pg_version: str | None = None) -> dict:
    info = {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if pg_version:
        info["postgresql"] = pg_version
    return info


# --- small helpers ------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_db(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def http_json(method: str, url: str, body: dict | None = None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b"null")


# --- CPU accounting (/proc) ----------------------------------------------------------------------


def _proc_cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _proc_children(pid: int) -> list[int]:
    children = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text()
            children.extend(int(child) for child in text.split())
    except OSError:
        pass
    return children


PG_BACKGROUND = ("postgres: walwriter", "postgres: checkpointer", "postgres: background writer")


def _postgres_processes(db_names: list[str]) -> tuple[list[int], list[int]]:
    """PostgreSQL backends serving our databases (their title names the database), and the
    server's WAL writer, checkpointer and background writer (shared with anyone else)."""
    backends, background = [], []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmdline.startswith("postgres:") and any(f" {db} " in cmdline for db in db_names):
            backends.append(int(entry.name))
        elif cmdline.startswith(PG_BACKGROUND):
            background.append(int(entry.name))
    return backends, background


def _machine_busy_ticks() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def wait_for_quiet_machine(max_wait: float, threshold_pct: float = 25.0) -> float:
    """Other people's test suites share this machine: before a run, wait (up to ``max_wait``
    seconds) until it is less than ``threshold_pct`` busy over 2 s. Returns the last reading."""
    deadline = time.monotonic() + max_wait
    while True:
        before = _machine_busy_ticks()
        time.sleep(2)
        after = _machine_busy_ticks()
        total = after[1] - before[1]
        busy = 100 * (after[0] - before[0]) / total if total else 0.0
        if busy < threshold_pct or time.monotonic() >= deadline:
            if busy >= threshold_pct:
                log(f"machine still {busy:.0f}% busy after {max_wait:.0f} s; running anyway")
            return round(busy, 1)
        log(f"machine {busy:.0f}% busy (someone else's work); waiting before the run")
        time.sleep(3)


@dataclass
class CpuSnapshot:
    per_group: dict[str, dict[int, int]]
    machine: tuple[int, int]
    at: float


class CpuMeter:
    """CPU seconds used by each group of processes (gunicorn masters with their workers,
    PostgreSQL backends of the benchmark databases) between two snapshots."""

    def __init__(self, servers: dict[str, int], db_names: list[str]) -> None:
        self.servers = servers
        self.db_names = db_names

    def snapshot(self) -> CpuSnapshot:
        groups: dict[str, dict[int, int]] = {}
        for name, master in self.servers.items():
            pids = [master, *_proc_children(master)]
            groups[name] = {pid: _proc_cpu_ticks(pid) for pid in pids}
        backends, background = _postgres_processes(self.db_names)
        groups["postgres"] = {pid: _proc_cpu_ticks(pid) for pid in backends}
        groups["postgres_bg"] = {pid: _proc_cpu_ticks(pid) for pid in background}
        return CpuSnapshot(groups, _machine_busy_ticks(), time.monotonic())

    @staticmethod
    def cores(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
        elapsed = after.at - before.at
        result = {}
        for name, ticks in after.per_group.items():
            old = before.per_group.get(name, {})
            used = sum(max(0, value - old.get(pid, 0)) for pid, value in ticks.items())
            result[name] = round(used / CLOCK_TICKS / elapsed, 2)
        busy = after.machine[0] - before.machine[0]
        total = after.machine[1] - before.machine[1]
        result["machine_busy_pct"] = round(100 * busy / total, 1) if total else 0.0
        return result


# --- databases and the app ----------------------------------------------------------------------


class Postgres:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url

    def _connect(self, db: str = "postgres"):
        import psycopg

        return psycopg.connect(with_db(self.server_url, db), autocommit=True)

    def recreate(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    def drop(self, name: str) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def query(self, db: str, sql: str, params: tuple = ()) -> list[tuple]:
        with self._connect(db) as conn:
            return conn.execute(sql, params).fetchall()

    def snapshot(self, db: str, *sqls: str) -> list[list[tuple]]:
        """Several queries over one consistent snapshot (REPEATABLE READ)."""
        with self._connect(db) as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                return [conn.execute(sql).fetchall() for sql in sqls]
            finally:
                conn.execute("ROLLBACK")

    def wait_idle(self, dbs: list[str], timeout: float = 30.0) -> None:
        """Wait until no backend of ``dbs`` runs a query or holds a transaction open: the
        requests still in flight when wrk stopped have finished."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            busy = self.query(
                "postgres",
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = ANY(%s) "
                "AND state <> 'idle' AND pid <> pg_backend_pid()",
                (dbs,),
            )[0][0]
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= 3:
                return
            time.sleep(0.2)
        log(f"warning: {dbs} still busy after {timeout:.0f} s")


@dataclass
class AppInstance:
    name: str
    db: str
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    gunicorn_args: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [str(VENV_BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"manage.py {args[0]} failed on {self.db} ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def start(self, gunicorn_args: list[str]) -> None:
        self.port = self.port or free_port()
        self.gunicorn_args = [
            "salesproject.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            *gunicorn_args,
        ]
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS_DIR / f"gunicorn-{self.name}.log"
        log_file = open(self.log_path, "w")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), *self.gunicorn_args],
            cwd=ROOT,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.name} exited; see {self.log_path}")
            try:
                http_json("GET", f"{self.base_url}/api/products/?page_size=1")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn {self.name} did not answer within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def app_env(redis_url: str, db_url: str, prefix: str, extra: dict[str, str]) -> dict:
    """A production-like environment for the app under test (DEBUG off, Redis cache, eager
    Celery, no HTTPS redirect, no throttling), without the caller's app settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CATALOG_", "CELERY_", "DB_", "JWT_", "SALE_"))
        and key not in ("DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            "DATABASE_URL": db_url,
            "READ_DOT_ENV": "false",
            "DEBUG": "false",
            "SECRET_KEY": "bench-sales-load-secret-key-not-for-production-0123456789",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": prefix,
            "LOG_LEVEL": "warning",
            # Nothing goes to a shared Redis queue that someone else's worker could consume.
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "JWT_ACCESS_MINUTES": "600",
            # Plain HTTP on loopback, and a few users sending as fast as they can: no HTTPS
            # redirect, no throttling (it would measure 429s).
            "SECURE_SSL_REDIRECT": "false",
            "THROTTLE_ANON_RATE": "off",
            "THROTTLE_USER_RATE": "off",
            "THROTTLE_LOGIN_RATE": "off",
            "DJANGO_SETTINGS_MODULE": "salesproject.settings",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def gunicorn_args(workers: int, worker_class: str = "sync", threads: int = 2) -> list[str]:
    result = ["--workers", str(workers), "--worker-class", worker_class]
    if worker_class == "gthread":
        result += ["--threads", str(threads)]
    result += ["--keep-alive", "5", "--backlog", "2048", "--log-level", "warning"]
    return result


def code_version() -> dict:
    """The commit measured (read-only git calls) and how many files differ from it."""

    def git(*command: str) -> str:
        try:
            result = subprocess.run(
                ["git", *command], cwd=ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""

    changed = [line for line in git("status", "--porcelain").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "changed_files": len(changed)}


def get_token(app: AppInstance, username: str, password: str) -> str:
    """A JWT access token for ``username`` from the instance's ``POST /api/auth/token/``."""
    status, body = http_json(
        "POST", f"{app.base_url}/api/auth/token/", {"username": username, "password": password}
    )
    if status != 200 or "access" not in body:
        raise RuntimeError(f"no token: {status} {body}")
    return body["access"]


def run_wrk_measured(command: list[str], env: dict, meter: CpuMeter, json_prefix: str):
    """Run wrk (``command``) with a script of bench/ that prints ``<json_prefix> {...}``
    (bench/wrk_report.lua); returns its figures and the CPU used meanwhile, in cores, by each
    group of ``meter``, by wrk itself and by everything else on the machine (``others``)."""
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = meter.snapshot()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    cpu_after = meter.snapshot()
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    match = re.search(rf"^{json_prefix} (.*)$", result.stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no {json_prefix} line:\n{result.stdout}")
    stats = json.loads(match.group(1))
    cpu = CpuMeter.cores(cpu_before, cpu_after)
    wrk_seconds = (wrk_after.ru_utime - wrk_before.ru_utime) + (
        wrk_after.ru_stime - wrk_before.ru_stime
    )
    cpu["wrk"] = round(wrk_seconds / (cpu_after.at - cpu_before.at), 2)
    # Whatever else ran on the machine meanwhile (other people's work...), in cores.
    ours = sum(value for key, value in cpu.items() if key != "machine_busy_pct")
    cpu["others"] = round(max(0.0, cpu["machine_busy_pct"] * (os.cpu_count() or 1) / 100 - ours), 2)
    return stats, cpu
