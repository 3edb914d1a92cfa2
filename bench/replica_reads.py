"""Read replicas: how much of the primary's CPU the heavy read path leaves it (issue 19).

    .venv/bin/python bench/replica_reads.py                  # 100,000 sales, 2 x 20 s
    .venv/bin/python bench/replica_reads.py --sales 20000 --duration 5   # a smoke run

Builds a PostgreSQL primary and its streaming replica of their own (tests/replica_pair.py:
``initdb``, ``pg_basebackup -R``, ``pg_ctl`` of the installed PostgreSQL, as the ``postgres``
user when run as root), migrates and seeds the primary (``manage.py seed_demo``) before the
base backup, then serves the app with gunicorn twice: without ``DATABASE_REPLICA_URL`` (every
read on the primary) and with it. Each time, ``--clients`` threads of a read-only user (never
marked as having just written) loop over the analytics endpoints (uncached:
``ANALYTICS_CACHE_ENABLED=false``, the database's work every time) and the sales and stock
ledger lists for ``--duration`` seconds, and the CPU time of each server (its postmaster and
every process of it, from /proc, exited ones included) and of gunicorn is measured. The pair
is this benchmark's own: nothing else runs on it.

Reported: requests per second, the CPU per request of the primary, the replica and gunicorn,
and the share of the primary's CPU per request the replica frees. Results: ``--output`` (default
``bench/results/replica_reads.json``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app_instances import (  # noqa: E402
    app_env,
    free_port,
    manage,
    start_gunicorn,
    stop_process,
    wait_until_serving,
)
from tests.replica_pair import ReplicaPair, replica_pair, unavailable_reason  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PASSWORD = "Replica-Bench-pw-123"
DEFAULT_OUTPUT = ROOT / "bench" / "results" / "replica_reads.json"
SERVERS = ("primary", "replica")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# --- CPU of one PostgreSQL server (its postmaster's process tree) -----------------------------


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def server_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds used so far by a server: its postmaster, its live children, and the
    children it has reaped (cutime + cstime)."""
    return tree_cpu_seconds(int((data_dir / "postmaster.pid").read_text().split()[0]))


def tree_cpu_seconds(postmaster: int) -> float:
    """CPU seconds of a process, its live children and the children it has reaped."""
    fields = _stat(postmaster)
    ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    for task in Path(f"/proc/{postmaster}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                child_fields = _stat(int(child))
            except OSError:
                continue  # exited meanwhile: counted by the postmaster's cutime once reaped
            ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / CLOCK_TICKS


# --- Load ---------------------------------------------------------------------------------------


def read_paths(today: date, days: int) -> list[str]:
    """The heavy read path: analytics over several periods and filters, and the lists."""
    paths = []
    for span in (7, 30, 90, 365):
        start = today - timedelta(days=min(span, days) - 1)
        query = urlencode({"date_from": start.isoformat(), "date_to": today.isoformat()})
        for endpoint in ("summary", "revenue", "top-products", "top-customers", "breakdown"):
            paths.append(f"/api/analytics/{endpoint}/?{query}")
        paths.append(f"/api/sales/?page_size=50&date_from={start.isoformat()}")
    paths += ["/api/sales/?page_size=100", "/api/stock-movements/?page_size=100"]
    return paths


def load(port: int, token: str, paths: list[str], clients: int, seconds: float) -> dict:
    counts: dict = {"ok": 0, "errors": 0, "error_samples": []}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        ok = errors = 0
        index = offset
        while time.monotonic() < stop:
            connection.request("GET", paths[index % len(paths)], headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200:
                ok += 1
            else:
                errors += 1
                with lock:
                    if len(counts["error_samples"]) < 3:
                        path = paths[index % len(paths)]
                        counts["error_samples"].append(f"{response.status} {path} {body[:300]!r}")
            index += 1
        connection.close()
        with lock:
            counts["ok"] += ok
            counts["errors"] += errors

    threads = [threading.Thread(target=client, args=(i * 7,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


# --- One phase: gunicorn with or without the replica ------------------------------------------


def env_for(pair: ReplicaPair, prefix: str, **extra: str) -> dict[str, str]:
    env = app_env(
        pair.url("primary"),
        without=("CATALOG_", "CELERY_", "CACHE_", "DB_", "DEBUG", "DATABASE_", "REPLICA_"),
        CACHE_KEY_PREFIX=prefix,
        CELERY_TASK_ALWAYS_EAGER="true",
        DEBUG="false",
        SECRET_KEY="replica-bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_SSL_REDIRECT="false",
        ANALYTICS_CACHE_ENABLED="false",
        THROTTLE_USER_RATE="off",
        THROTTLE_ANON_RATE="off",
    )
    env.update(extra)
    return env


def phase(pair: ReplicaPair, args: argparse.Namespace, paths: list[str], replica: bool) -> dict:
    extra = {"DATABASE_REPLICA_URL": pair.url("replica")} if replica else {}
    env = env_for(pair, f"replica_bench_{secrets.token_hex(3)}", **extra)
    port = free_port()
    log_file = Path(tempfile.mkdtemp(prefix="replica-bench-")) / "gunicorn.log"
    process = start_gunicorn(
        env, port=port, log=log_file, workers=args.workers, options=("--graceful-timeout", "2")
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, f"{url}/health/live", log_file, lambda r: r.status_code < 500)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({"username": "bench_reader", "password": PASSWORD})
        connection.request(
            "POST", "/api/auth/token/", body, headers={"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        token = json.loads(answer.read())["access"]
        connection.close()
        for path in paths:  # every path answers, and the connections are open
            load(port, token, [path], 1, 0.001)
        load(port, token, paths, args.clients, args.warmup)

        def cpu_now() -> dict[str, float]:
            used = {which: server_cpu_seconds(pair.root / which) for which in SERVERS}
            return {**used, "gunicorn": tree_cpu_seconds(process.pid)}

        before = cpu_now()
        started = time.monotonic()
        counts = load(port, token, paths, args.clients, args.duration)
        elapsed = time.monotonic() - started
        after = cpu_now()
    finally:
        stop_process(process)
    requests_done = counts["ok"] + counts["errors"]
    cpu = {which: round(after[which] - before[which], 2) for which in after}
    return {
        "replica": replica,
        "seconds": round(elapsed, 1),
        "requests": requests_done,
        "errors": counts["errors"],
        "error_samples": counts["error_samples"],
        "requests_per_s": round(requests_done / elapsed, 1),
        "cpu_seconds": cpu,
        "cpu_ms_per_request": {
            which: round(1000 * used / max(requests_done, 1), 2) for which, used in cpu.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(f"replica_reads: cannot build a primary and a replica here: {reason}")
        return 2

    def prepare(pair: ReplicaPair) -> None:
        env = env_for(pair, "replica_bench_seed")
        log("migrating the primary")
        manage(env, "migrate", "--noinput", "-v", "0")
        log(f"seeding {args.sales:,} sales")
        started = time.monotonic()
        manage(
            env,
            "seed_demo",
            "--sales",
            str(args.sales),
            "--customers",
            str(args.customers),
            "--products",
            str(args.products),
            "--days",
            str(args.days),
            "--no-progress",
        )
        log(f"seeded in {time.monotonic() - started:.0f} s")
        script = (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_superuser('bench_reader', 'r@example.com', "
            f"{PASSWORD!r})"
        )
        manage(env, "shell", "-c", script)
        pair.sql("primary", "VACUUM ANALYZE")

    log("building the primary and its replica")
    with replica_pair(prepare) as pair:
        pair.wait_replayed()
        paths = read_paths(date.today(), args.days)
        results = {}
        for replica in (False, True):
            name = "with_replica" if replica else "primary_only"
            log(f"phase {name}: {args.clients} clients, {args.duration:g} s")
            results[name] = phase(pair, args, paths, replica)
            log(json.dumps(results[name]))
    alone = results["primary_only"]["cpu_ms_per_request"]["primary"]
    shared = results["with_replica"]["cpu_ms_per_request"]["primary"]
    freed = round(100 * (1 - shared / alone), 1) if alone else None
    report = {
        "benchmark": "replica_reads",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sales": args.sales,
        "customers": args.customers,
        "products": args.products,
        "clients": args.clients,
        "workers": args.workers,
        "duration": args.duration,
        "paths": len(paths),
        "phases": results,
        "primary_cpu_freed_pct": freed,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    log(
        f"primary CPU per request: {alone} ms alone, {shared} ms with the replica "
        f"({freed}% freed); results in {args.output}"
    )
    errors = sum(phase["errors"] for phase in results.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
