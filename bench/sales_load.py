"""Sales write benchmark: concurrent clients POST sales over HTTP to the app under gunicorn.

    .venv/bin/python bench/sales_load.py                      # both modes, 16 clients, 3 x 20 s
    .venv/bin/python bench/sales_load.py --mode local --connections 16,64

For each mode the script creates its own PostgreSQL database(s), migrates them, creates products
with plenty of stock and a user of the "sales" group, starts gunicorn, gets a JWT, warms up, then
runs wrk (bench/sales_load.lua) --runs times and reports the median sales/s and latencies. After
the runs it checks the books: for every product start stock - stock == units sold in completed
sales, the stock ledger sums to the stock, no stock is negative, every sale answered 201 is in the
database, and the sales rows are the answers 201 plus the requests wrk left in flight when it
stopped (no oversell, no lost sale).

- ``local``: LocalCatalog (stock in the app's own database).
- ``http``: HttpCatalog pointed at a second gunicorn instance of this app on its own database,
  which holds the products (CATALOG_BACKEND=local there, an API key from create_api_key). The
  check compares the remote's stock with the units sold recorded locally. Both instances, both
  databases and wrk share this machine's CPUs.

Needs wrk (``apt-get install -y wrk``), PostgreSQL (--pg-url, the server; the script creates and
drops sales_bench_load / sales_bench_app / sales_bench_remote) and Redis (--redis-url). Results
go to bench/results/sales_load.json. Exit status 1 when a correctness check fails, 3 with
--strict when the target (>= 150 sales/s and p95 <= 150 ms at 16 clients, local) is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

from harness import (  # bench/harness.py (bench/ is on sys.path)
    RESULTS_DIR,
    ROOT,
    AppInstance,
    CpuMeter,
    Postgres,
    app_env,
    code_version,
    get_token,
    gunicorn_args,
    log,
    machine_info,
    run_wrk_measured,
    wait_for_quiet_machine,
    with_db,
)

LUA_SCRIPT = ROOT / "bench" / "sales_load.lua"
RESULT_FILE = RESULTS_DIR / "sales_load.json"
TARGET_SALES_PER_S = 150.0
TARGET_P95_MS = 150.0
TARGET_CONNECTIONS = 16
BENCH_USER = "bench_seller"
BENCH_PASSWORD = "bench-seller-password"  # a throwaway benchmark login

SETUP_PRODUCTS = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from decimal import Decimal
from products.models import Category
from products.services import product_create
import json

count, stock = {count}, {stock}
category, _ = Category.objects.get_or_create(name="Bench")
ids = []
for n in range(1, count + 1):
    product = product_create(
        sku=f"BENCH-{{n:05d}}",
        name=f"Bench product {{n}}",
        price=Decimal("10.00") + Decimal(n % 97),
        cost=Decimal("4.00") + Decimal(n % 31),
        category=category,
        stock_quantity=stock,
    )
    ids.append(product.pk)
print("PRODUCT_IDS " + json.dumps(ids))
"""

SETUP_USER = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

user = get_user_model().objects.create_user(username={username!r}, password={password!r})
user.groups.add(Group.objects.get(name="sales"))
print("USER_OK")
"""


def create_products(app: AppInstance, count: int, stock: int) -> list[int]:
    output = app.manage("shell", "-c", SETUP_PRODUCTS.format(count=count, stock=stock))
    match = re.search(r"^PRODUCT_IDS (.*)$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"product setup printed no ids:\n{output}")
    return json.loads(match.group(1))


def create_user(app: AppInstance) -> None:
    app.manage("shell", "-c", SETUP_USER.format(username=BENCH_USER, password=BENCH_PASSWORD))


# --- wrk --------------------------------------------------------------------------------------


def wrk_command(args: argparse.Namespace, url: str, connections: int, duration: int) -> list[str]:
    return [
        args.wrk,
        f"-t{min(args.wrk_threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]


def run_wrk(
    args: argparse.Namespace,
    pg: Postgres,
    app: AppInstance,
    dbs: list[str],
    token: str,
    product_ids: list[int],
    connections: int,
    duration: int,
    meter: CpuMeter,
) -> dict:
    ids_file = RESULTS_DIR / f"sales_load_ids_{app.name}.txt"
    env = {
        **os.environ,
        "BENCH_TOKEN": token,
        "BENCH_PRODUCT_IDS": ",".join(str(pid) for pid in product_ids),
        "BENCH_MAX_QTY": str(args.max_qty),
        "BENCH_IDS_FILE": str(ids_file),
    }
    command = wrk_command(args, app.base_url, connections, duration)

    def sales_count() -> int:
        return pg.query(app.db, "SELECT COUNT(*) FROM sales_sale")[0][0]

    pg.wait_idle(dbs)
    busy_before = wait_for_quiet_machine(args.wait_quiet) if args.wait_quiet > 0 else None
    sales_before = sales_count()
    stats, cpu = run_wrk_measured(command, env, meter, "SALES_LOAD_JSON")
    created = stats["status"].get("201", 0)
    # Requests in flight when wrk stopped still complete on the server: wait for them.
    pg.wait_idle(dbs)
    sales_added = sales_count() - sales_before
    answered_ids = [line.strip() for line in ids_file.read_text().split()]
    ids_file.unlink()
    numeric_ids = [int(value) for value in answered_ids if value.isdigit()]
    found = pg.query(
        app.db,
        "SELECT COUNT(*) FROM sales_sale s WHERE s.id = ANY(%s) AND s.status = 'completed' "
        "AND EXISTS (SELECT 1 FROM sales_saleitem si WHERE si.sale_id = s.id)",
        (numeric_ids,),
    )[0][0]
    missing = len(answered_ids) - found
    stats.update(
        {
            "connections": connections,
            "sales_per_s": round(created / stats["duration_s"], 1),
            "created_201": created,
            "sales_rows_added": sales_added,
            # every 201 names a completed sale with its lines in the database
            "answered_missing": missing,
            # sales committed whose answer wrk never read (in flight when it stopped)
            "unanswered": sales_added - created,
            "no_lost_sale": missing == 0
            and len(answered_ids) == created
            and 0 <= sales_added - created <= connections,
            "errors": stats["requests"] - created + sum(stats["socket_errors"].values()),
            "cpu_cores": cpu,
            # CPU time of our processes (gunicorn, PostgreSQL backends) per sale answered 201
            "cpu_ms_per_sale": round(
                1000
                * sum(
                    value for key, value in cpu.items() if key.startswith(("gunicorn", "postgres"))
                )
                / (created / stats["duration_s"]),
                1,
            )
            if created
            else None,
            "machine_busy_pct_before": busy_before,
            "wrk_command": shlex.join(command),
        }
    )
    return stats


def summarize(runs: list[dict]) -> dict:
    """Median of each figure over the runs."""
    return {
        "sales_per_s": round(statistics.median(run["sales_per_s"] for run in runs), 1),
        "requests_per_s": round(statistics.median(run["requests_per_s"] for run in runs), 1),
        **{
            key: round(statistics.median(run["latency_ms"][key] for run in runs), 1)
            for key in ("p50", "p95", "p99")
        },
        "errors": sum(run["errors"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "cpu_cores": {
            key: round(statistics.median(run["cpu_cores"].get(key, 0) for run in runs), 2)
            for key in runs[0]["cpu_cores"]
        },
        "cpu_ms_per_sale": round(statistics.median(run["cpu_ms_per_sale"] or 0 for run in runs), 1),
    }


# --- correctness --------------------------------------------------------------------------------

SOLD_SQL = """
SELECT si.product_id, COALESCE(SUM(si.quantity), 0)
FROM sales_saleitem si JOIN sales_sale s ON s.id = si.sale_id
WHERE s.status = 'completed' GROUP BY si.product_id
"""
STOCK_SQL = "SELECT id, stock_quantity FROM products_product"
LEDGER_SQL = "SELECT product_id, SUM(delta) FROM products_stockmovement GROUP BY product_id"
TOTALS_SQL = """
SELECT COUNT(*) FROM sales_sale s
WHERE s.total <> COALESCE((SELECT SUM(line_total) FROM sales_saleitem WHERE sale_id = s.id), -1)
"""


def check_books(
    pg: Postgres,
    *,
    stock_db: str,
    sales_db: str,
    start_stock: dict[int, int],
    runs: list[dict],
    total_created: int,
) -> dict:
    """Stock (in ``stock_db``) against units sold (in ``sales_db``), the ledger, and 201s
    against sales rows."""
    stock_rows, ledger_rows = pg.snapshot(stock_db, STOCK_SQL, LEDGER_SQL)
    sold_rows, count_rows, bad_total_rows = pg.snapshot(
        sales_db, SOLD_SQL, "SELECT COUNT(*) FROM sales_sale", TOTALS_SQL
    )
    sold, stock, ledger = dict(sold_rows), dict(stock_rows), dict(ledger_rows)
    sales_rows = count_rows[0][0]
    problems = []
    for pid, start in start_stock.items():
        taken = start - stock.get(pid, 0)
        if taken != sold.get(pid, 0):
            problems.append(f"product {pid}: stock went down by {taken}, sold {sold.get(pid, 0)}")
    for pid, total in ledger.items():
        if total != stock.get(pid):
            problems.append(f"product {pid}: ledger sums to {total}, stock is {stock.get(pid)}")
    negative = [pid for pid, value in stock.items() if value < 0]
    if negative:
        problems.append(f"negative stock: {negative[:10]}")
    bad_totals = bad_total_rows[0][0]
    if bad_totals:
        problems.append(f"{bad_totals} sales whose total is not the sum of their lines")
    unanswered = sum(run["unanswered"] for run in runs)
    if sales_rows != total_created + unanswered:
        problems.append(
            f"{sales_rows} sales rows but {total_created} answers 201 + {unanswered} in flight"
        )
    for run in runs:
        if not run["no_lost_sale"]:
            problems.append(
                f"run at {run['connections']} clients: {run['answered_missing']} answered sales "
                f"missing, {run['created_201']} answers 201, {run['sales_rows_added']} rows added"
            )
    return {
        "passed": not problems,
        "problems": problems[:20],
        "products": len(start_stock),
        "units_sold": sum(sold.values()),
        "sales_rows": sales_rows,
        "answers_201": total_created,
        "answered_sales_missing": sum(run["answered_missing"] for run in runs),
        "unanswered_in_flight_at_wrk_stop": unanswered,
        "negative_stock": len(negative),
    }


# --- one mode ---------------------------------------------------------------------------------


def run_mode(args: argparse.Namespace, pg: Postgres, mode: str) -> dict:
    workers = args.workers
    apps: list[AppInstance] = []
    dbs: list[str] = []
    try:
        if mode == "local":
            db = "sales_bench_load"
            app = AppInstance(
                "local",
                db,
                app_env(
                    args.redis_url,
                    with_db(args.pg_url, db),
                    "bench_sales_load",
                    {"CATALOG_BACKEND": "local"},
                ),
            )
            stock_app = app
            apps.append(app)
            dbs.append(db)
        else:
            remote_db, local_db = "sales_bench_remote", "sales_bench_app"
            stock_app = AppInstance(
                "remote",
                remote_db,
                app_env(
                    args.redis_url,
                    with_db(args.pg_url, remote_db),
                    "bench_sales_remote",
                    {"CATALOG_BACKEND": "local"},
                ),
            )
            apps.append(stock_app)
            dbs += [remote_db, local_db]
        for db in dbs:
            log(f"{mode}: creating and migrating database {db}")
            pg.recreate(db)
        stock_app.manage("migrate", "--noinput")
        log(f"{mode}: creating {args.products} products with {args.stock} units each")
        product_ids = create_products(stock_app, args.products, args.stock)

        if mode == "http":
            key_output = stock_app.manage("create_api_key", "bench")
            api_key = key_output.split()[-1]
            stock_app.start(
                gunicorn_args(args.remote_workers or workers, args.worker_class, args.threads)
            )
            log(f"http: catalog instance on {stock_app.base_url} ({stock_app.gunicorn_args})")
            app = AppInstance(
                "app",
                local_db,
                app_env(
                    args.redis_url,
                    with_db(args.pg_url, local_db),
                    "bench_sales_app",
                    {
                        "CATALOG_BACKEND": "http",
                        "CATALOG_API_URL": f"{stock_app.base_url}/api",
                        "CATALOG_API_KEY": api_key,
                    },
                ),
            )
            apps.append(app)
            app.manage("migrate", "--noinput")
            if not args.cold_mirror:
                # Mirror the remote products first, as a running shop would have them: the
                # measured runs then show the steady state, not first-use mirroring.
                log("http: sync_catalog (local mirror of the remote products)")
                app.manage("sync_catalog", "--ids", ",".join(str(pid) for pid in product_ids))
        create_user(app)
        app.start(gunicorn_args(workers, args.worker_class, args.threads))
        log(f"{mode}: app under test on {app.base_url} ({shlex.join(app.gunicorn_args)})")
        token = get_token(app, BENCH_USER, BENCH_PASSWORD)

        start_stock = dict(pg.query(stock_app.db, STOCK_SQL))
        meter = CpuMeter({"gunicorn_" + a.name: a.process.pid for a in apps}, dbs)
        total_created = 0
        log(f"{mode}: warm-up {args.warmup} s")
        warm = run_wrk(
            args, pg, app, dbs, token, product_ids, args.connection_list[0], args.warmup, meter
        )
        total_created += warm["created_201"]
        all_runs = [warm]
        by_connections = {}
        for connections in args.connection_list:
            runs = []
            for number in range(1, args.runs + 1):
                run = run_wrk(
                    args, pg, app, dbs, token, product_ids, connections, args.duration, meter
                )
                total_created += run["created_201"]
                runs.append(run)
                all_runs.append(run)
                log(
                    f"{mode} c={connections} run {number}/{args.runs}: "
                    f"{run['sales_per_s']} sales/s, p50 {run['latency_ms']['p50']:.1f} ms, "
                    f"p95 {run['latency_ms']['p95']:.1f} ms, p99 {run['latency_ms']['p99']:.1f} "
                    f"ms, errors {run['errors']} {run['status']}, cpu {run['cpu_cores']}"
                )
            by_connections[str(connections)] = {"median": summarize(runs), "runs": runs}

        # Stop the servers (gracefully: requests in progress finish) before reading the books.
        for instance in reversed(apps):
            instance.stop()
        books = check_books(
            pg,
            stock_db=stock_app.db,
            sales_db=app.db,
            start_stock=start_stock,
            runs=all_runs,
            total_created=total_created,
        )
        if mode == "http":
            outbox = pg.query(
                app.db,
                "SELECT status, COUNT(*) FROM products_catalogoutboxentry GROUP BY status",
            )
            books["outbox"] = {status: count for status, count in outbox}
            pending = books["outbox"].get("pending", 0)
            if pending:
                books["passed"] = False
                books["problems"].append(f"{pending} catalog outbox entries still pending")
            mirror = dict(pg.query(app.db, STOCK_SQL))
            remote = dict(pg.query(stock_app.db, STOCK_SQL))
            books["mirror_rows"] = len(mirror)
            books["mirror_differs_from_remote"] = sum(
                1 for pid, value in mirror.items() if remote.get(pid) != value
            )
        log(f"{mode}: correctness {'PASS' if books['passed'] else 'FAIL'} {books}")
        return {
            "mode": mode,
            "catalog": "LocalCatalog" if mode == "local" else "HttpCatalog",
            "gunicorn": {a.name: shlex.join(["gunicorn", *a.gunicorn_args]) for a in apps},
            "warmup": {key: warm[key] for key in ("sales_per_s", "latency_ms", "status")},
            "connections": by_connections,
            "correctness": books,
        }
    finally:
        for instance in reversed(apps):
            instance.stop()
        if not args.keep:
            for db in dbs:
                pg.drop(db)


# --- output -------------------------------------------------------------------------------------


def table(results: list[dict]) -> str:
    lines = [
        "| catalog | clients | sales/s | p50 ms | p95 ms | p99 ms | errors | CPU ms/sale "
        "| correctness |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for result in results:
        verdict = "PASS" if result["correctness"]["passed"] else "FAIL"
        for connections, data in result["connections"].items():
            median = data["median"]
            lines.append(
                f"| {result['catalog']} | {connections} | {median['sales_per_s']:.1f} | "
                f"{median['p50']:.1f} | {median['p95']:.1f} | {median['p99']:.1f} | "
                f"{median['errors']} | {median['cpu_ms_per_sale']:.1f} | {verdict} |"
            )
    return "\n".join(lines)


def cpu_table(results: list[dict]) -> str:
    lines = ["| catalog | clients | CPU cores used (median) |", "| --- | ---: | --- |"]
    for result in results:
        for connections, data in result["connections"].items():
            cpu = ", ".join(f"{key} {value}" for key, value in data["median"]["cpu_cores"].items())
            lines.append(f"| {result['catalog']} | {connections} | {cpu} |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--connections",
        default="16",
        help="concurrent clients; a comma list runs each (e.g. 16,64). Default: %(default)s",
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per run (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure, median reported")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds (default 5)")
    parser.add_argument("--workers", type=int, default=5, help="gunicorn workers (default 5)")
    parser.add_argument(
        "--remote-workers", type=int, default=0, help="workers of the catalog instance (http)"
    )
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="default: sync"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    parser.add_argument("--mode", default="both", choices=("local", "http", "both"))
    parser.add_argument("--products", type=int, default=200, help="default: %(default)s")
    parser.add_argument("--stock", type=int, default=1_000_000, help="units of each product")
    parser.add_argument("--max-qty", type=int, default=3, help="largest quantity of one line")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="wrk binary")
    parser.add_argument("--wrk-threads", type=int, default=2, help="default: %(default)s")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL server, a role that may create databases (the database name in the "
        "URL is ignored); env BENCH_PG_URL",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the cache (keys prefixed bench_sales_*); env BENCH_REDIS_URL",
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=180,
        help="before each run wait up to this many seconds for the machine to be < 25%% busy "
        "(others' work); 0 = never wait. Default: %(default)s",
    )
    parser.add_argument(
        "--cold-mirror",
        action="store_true",
        help="http mode: skip sync_catalog, so products are mirrored on first use under load",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 3 when the local target is missed"
    )
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON result file")
    args = parser.parse_args()
    args.connection_list = [int(value) for value in args.connections.split(",") if value.strip()]
    return args


def main() -> int:
    args = parse_args()
    if not shutil.which(args.wrk):
        print("wrk is missing: apt-get install -y wrk (or make bench-sales)", file=sys.stderr)
        return 2
    if not LUA_SCRIPT.is_file():
        print(f"{LUA_SCRIPT} is missing", file=sys.stderr)
        return 2
    pg = Postgres(args.pg_url)
    modes = ["local", "http"] if args.mode == "both" else [args.mode]
    started = datetime.now(UTC)
    results = [run_mode(args, pg, mode) for mode in modes]

    pg_version = pg.query("postgres", "SHOW server_version")[0][0]
    local = next((r for r in results if r["mode"] == "local"), None)
    target = None
    if local and str(TARGET_CONNECTIONS) in local["connections"]:
        median = local["connections"][str(TARGET_CONNECTIONS)]["median"]
        target = {
            "sales_per_s": median["sales_per_s"],
            "p95_ms": median["p95"],
            "met": median["sales_per_s"] >= TARGET_SALES_PER_S and median["p95"] <= TARGET_P95_MS,
        }
    report = {
        "benchmark": "sales_load",
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", "bench/sales_load.py", *sys.argv[1:]]),
        "code": code_version(),
        "machine": machine_info(pg_version),
        "settings": {
            key: getattr(args, key)
            for key in (
                "connection_list",
                "duration",
                "runs",
                "warmup",
                "workers",
                "remote_workers",
                "worker_class",
                "threads",
                "products",
                "stock",
                "max_qty",
                "wrk_threads",
            )
        },
        "target": {
            "sales_per_s": TARGET_SALES_PER_S,
            "p95_ms": TARGET_P95_MS,
            "connections": TARGET_CONNECTIONS,
            "result": target,
        },
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print()
    print(f"Sales write benchmark, {started:%Y-%m-%d}, median of {args.runs} x {args.duration} s")
    print(table(results))
    print()
    print(cpu_table(results))
    for result in results:
        for name, command in result["gunicorn"].items():
            print(f"{result['catalog']} {name}: {command}")
        books = result["correctness"]
        print(
            f"{result['catalog']} correctness: {'PASS' if books['passed'] else 'FAIL'} "
            f"({books['sales_rows']} sales, {books['units_sold']} units, "
            f"{books['answers_201']} answers 201)"
            + (f" problems: {books['problems']}" if books["problems"] else "")
        )
    if target:
        print(
            f"Target (>= {TARGET_SALES_PER_S:.0f} sales/s, p95 <= {TARGET_P95_MS:.0f} ms at "
            f"{TARGET_CONNECTIONS} clients, LocalCatalog): "
            f"{'MET' if target['met'] else 'NOT MET'}"
        )
    print(f"Written to {args.output}")
    if not all(result["correctness"]["passed"] for result in results):
        return 1
    if args.strict and target and not target["met"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
