"""Adversarial searches against a running service (issue 13): do many-word and short-word
searches still cost one request a bounded time, and does the service stay responsive?

Runs gunicorn (2 sync workers, DEBUG off, the default statement timeout unless
DB_STATEMENT_TIMEOUT_MS is set) on a PostgreSQL database with sales in it, then:

1. one by one, each search below on /api/sales/, /api/customers/, /api/products/: the time
   and the status of each (the refused ones must be 400 at once; the allowed ones 200, or
   503 ``query_timeout`` at worst, never a worker timeout);
2. a storm: 4 clients sending the costliest allowed searches (8 distinct common trigrams)
   and the refused floods for ``--storm-seconds``, while a probe asks ``/health/live`` every
   0.2 s: its worst and 95th percentile latency say whether the service stayed responsive.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench .venv/bin/python \\
        bench/adversarial_search.py [--seed-sales 200000] [--storm-seconds 20]

When the database is missing it is created; when it has no sales, ``--seed-sales`` (default
200,000) are seeded first with ``manage.py seed_demo``. Writes
bench/results/adversarial_search.json. ``make bench-adversarial`` runs it (and the other
bench/adversarial_*.py) on sales_bench.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    RESULTS_DIR,
    AppInstance,
    app_env,
    code_version,
    gunicorn_args,
    log,
    machine_info,
)

PASSWORD = "adversarial-bench-password"
ONE_LETTER_50 = " ".join("abcdefghijklmnopqrstuvwxyz"[n % 26] * (1 + n // 26) for n in range(50))
EIGHT_COMMON = "exa mpl com ann son mar ell ter"  # 8 distinct trigrams found in many rows
SEARCHES = [
    ("a last name", "martin", 200),
    ("a full name", "anna martin", 200),
    ("a common fragment", "example", 200),
    ("8 common trigrams (the costliest allowed)", EIGHT_COMMON, 200),
    ("2 words in most customers (example com)", "example com", 200),
    ("a reference's day and a name", "D-20260101 martin", 200),
    ("12 words, 1 distinct", " ".join(["martin"] * 12), 200),
    ("a e i o (short words)", "a e i o", 400),
    ("50 one-letter words", ONE_LETTER_50, 400),
    ("9 distinct words", "one two three four five six seven eight nine", 400),
    ("1000 characters", "x" * 1000, 400),
]
ENDPOINTS = ["/api/sales/", "/api/customers/", "/api/products/"]


def get(url: str, token: str | None = None, timeout: float = 120) -> tuple[int, float, str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        return 0, time.perf_counter() - started, str(error)
    code = ""
    if status >= 400:
        try:
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = body[:80].decode(errors="replace")
    return status, time.perf_counter() - started, code


def token_for(app: AppInstance) -> str:
    from harness import get_token

    return get_token(app, "adversarial_bench", PASSWORD)


def create_database_if_missing(db_url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(db_url)
    name = parts.path.lstrip("/")
    server = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        log(f"creating database {name}")
        conn.execute(f'CREATE DATABASE "{name}"')


def ensure_data(app: AppInstance, sales: int) -> int:
    count = app.manage(
        "shell", "-c", "from sales.models import Sale; print(Sale.objects.count())"
    ).split()[-1]
    if int(count) == 0:
        log(f"no sales: seeding {sales:,} with seed_demo (a few minutes)")
        app.manage("seed_demo", "--sales", str(sales), "--customers", str(max(sales // 10, 2000)))
        count = str(sales)
    app.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; U = get_user_model();"
        "u = U.objects.filter(username='adversarial_bench').first() or "
        "U.objects.create_user('adversarial_bench');"
        f"u.set_password('{PASSWORD}'); u.is_staff = True; u.is_superuser = True; u.save()",
    )
    return int(count)


def one_by_one(app: AppInstance, token: str) -> list[dict]:
    rows = []
    for endpoint in ENDPOINTS:
        for label, search, expected in SEARCHES:
            query = urllib.parse.urlencode({"search": search})
            status, seconds, code = get(f"{app.base_url}{endpoint}?{query}", token)
            rows.append(
                {
                    "endpoint": endpoint,
                    "search": label,
                    "status": status,
                    "code": code,
                    "ms": round(seconds * 1000, 1),
                    "as_expected": status == expected or (expected == 200 and status == 503),
                }
            )
            log(f"{endpoint:18} {label:42} {status} {code:14} {seconds * 1000:8.1f} ms")
    return rows


def storm(app: AppInstance, token: str, seconds: float, clients: int = 4) -> dict:
    stop = time.monotonic() + seconds
    statuses: dict[str, int] = {}
    durations: list[float] = []
    probe: list[float] = []
    probe_failures = 0
    lock = threading.Lock()
    bad = [EIGHT_COMMON, ONE_LETTER_50, "a e i o"]

    def client(n: int) -> None:
        i = n
        while time.monotonic() < stop:
            endpoint = ENDPOINTS[i % len(ENDPOINTS)]
            query = urllib.parse.urlencode({"search": bad[i % len(bad)]})
            status, took, code = get(f"{app.base_url}{endpoint}?{query}", token)
            with lock:
                key = f"{status} {code}".strip()
                statuses[key] = statuses.get(key, 0) + 1
                durations.append(took)
            i += 1

    def prober() -> None:
        nonlocal probe_failures
        while time.monotonic() < stop:
            status, took, _ = get(f"{app.base_url}/health/live", timeout=30)
            if status != 200:
                probe_failures += 1
            probe.append(took)
            time.sleep(0.2)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=prober))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    probe_sorted = sorted(probe)
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(durations),
        "statuses": statuses,
        "request_ms_median": round(statistics.median(durations) * 1000, 1),
        "request_ms_max": round(max(durations) * 1000, 1),
        "health_live_probes": len(probe),
        "health_live_failures": probe_failures,
        "health_live_ms_p95": round(probe_sorted[int(len(probe_sorted) * 0.95) - 1] * 1000, 1),
        "health_live_ms_max": round(probe_sorted[-1] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed-sales", type=int, default=200_000)
    parser.add_argument("--storm-seconds", type=float, default=20.0)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()
    db_url = os.environ.get("DATABASE_URL", "")
    if urllib.parse.urlsplit(db_url).scheme not in ("postgres", "postgresql"):
        print("Set DATABASE_URL to a PostgreSQL database (see --help).", file=sys.stderr)
        return 2
    extra = {
        key: os.environ[key]
        for key in ("DB_STATEMENT_TIMEOUT_MS", "SEARCH_MAX_WORDS")
        if key in os.environ
    }
    env = app_env(args.redis_url, db_url, "bench_adversarial", extra)
    app = AppInstance("adversarial", urllib.parse.urlsplit(db_url).path.lstrip("/"), env)
    create_database_if_missing(db_url)
    app.manage("migrate", "-v0")
    sales = ensure_data(app, args.seed_sales)
    app.start([*gunicorn_args(2), "--timeout", "60"])
    try:
        token = token_for(app)
        log(f"{sales:,} sales; one request at a time")
        rows = one_by_one(app, token)
        log(f"storm: 4 clients for {args.storm_seconds:.0f} s, /health/live probed every 0.2 s")
        figures = storm(app, token, args.storm_seconds)
        log(json.dumps(figures))
    finally:
        app.stop()
    result = {
        "sales": sales,
        "searches": rows,
        "storm": figures,
        "all_as_expected": all(row["as_expected"] for row in rows),
        "machine": machine_info(),
        "code": code_version(),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "adversarial_search.json").write_text(json.dumps(result, indent=2))
    responsive = figures["health_live_failures"] == 0 and figures["health_live_ms_max"] < 1000
    log(f"as expected: {result['all_as_expected']}; responsive: {responsive}")
    return 0 if result["all_as_expected"] and responsive else 1


if __name__ == "__main__":
    sys.exit(main())
