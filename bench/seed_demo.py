"""Benchmark ``manage.py seed_demo`` on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench \\
        .venv/bin/python bench/seed_demo.py --sales 1000000

Runs ``seed_demo --reset`` (so it DELETES the customers, products, sales and stock ledger of that
database: point DATABASE_URL at a dedicated, migrated benchmark database), prints the elapsed
time, sales/s and lines/s, and writes the result to bench/results/seed_demo.json. The exit status
is 1 when the run is slower than --target-seconds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from machine import memory_gib  # bench/machine.py (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
RESULT_FILE = ROOT / "bench" / "results" / "seed_demo.json"
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql", "psql")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=1_000_000, help="default: %(default)s")
    parser.add_argument("--customers", type=int, default=2000, help="default: %(default)s")
    parser.add_argument("--products", type=int, default=500, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=42, help="default: %(default)s")
    parser.add_argument(
        "--target-seconds",
        type=float,
        default=120.0,
        help="fail (exit 1) above this many seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-foreign-keys",
        action="store_true",
        help="pass --keep-foreign-keys to seed_demo (row-by-row foreign key checks)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON result file")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "").strip()
    if urlsplit(database_url).scheme not in POSTGRES_SCHEMES:
        print(
            "bench/seed_demo.py measures the PostgreSQL path: set DATABASE_URL to a dedicated, "
            "migrated PostgreSQL database, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench "
            ".venv/bin/python bench/seed_demo.py --sales 1000000",
            file=sys.stderr,
        )
        return 2

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")
    import django

    from core.ops.database import JOBS, set_process_kind

    set_process_kind(JOBS)  # a bulk load: the jobs' statement timeout, not a request's
    django.setup()

    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from sales.models import Sale, SaleItem

    if MigrationExecutor(connection).migration_plan(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    ):
        print(
            f"Database {connection.settings_dict['NAME']!r} is not fully migrated; run "
            "`.venv/bin/python manage.py migrate` with the same DATABASE_URL first.",
            file=sys.stderr,
        )
        return 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server_version = cursor.fetchone()[0]

    print(
        f"seed_demo --reset --sales {args.sales}"
        f"{' --keep-foreign-keys' if args.keep_foreign_keys else ''} "
        f"on {connection.settings_dict['NAME']!r} "
        f"({server_version.split(' on ')[0]}) ...",
        flush=True,
    )
    output = io.StringIO()
    started = time.perf_counter()
    call_command(
        "seed_demo",
        reset=True,
        seed=args.seed,
        sales=args.sales,
        customers=args.customers,
        products=args.products,
        keep_foreign_keys=args.keep_foreign_keys,
        no_progress=args.no_progress,
        stdout=output,
        stderr=sys.stderr,
    )
    elapsed = time.perf_counter() - started
    sales = Sale.objects.count()
    lines = SaleItem.objects.count()
    print(output.getvalue(), end="")

    import psycopg

    result = {
        "benchmark": "seed_demo",
        "command": (
            f"DATABASE_URL=postgres://.../{connection.settings_dict['NAME']} .venv/bin/python "
            f"bench/seed_demo.py --sales {args.sales}"
            + (" --keep-foreign-keys" if args.keep_foreign_keys else "")
        ),
        "foreign_keys": "checked row by row" if args.keep_foreign_keys else "re-added after load",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sales": sales,
        "sale_lines": lines,
        "customers": args.customers,
        "products": args.products,
        "seed": args.seed,
        "elapsed_seconds": round(elapsed, 2),
        "sales_per_second": round(sales / elapsed),
        "lines_per_second": round(lines / elapsed),
        "target_seconds": args.target_seconds,
        "within_target": elapsed <= args.target_seconds,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": memory_gib(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": server_version,
            "psycopg": psycopg.__version__,
            "django": django.get_version(),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")

    verdict = "within" if result["within_target"] else "ABOVE"
    print(
        f"{sales:,} sales and {lines:,} lines in {elapsed:.1f} s: {result['sales_per_second']:,} "
        f"sales/s, {result['lines_per_second']:,} lines/s ({verdict} the "
        f"{args.target_seconds:.0f} s target). Result: {args.output}"
    )
    return 0 if result["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
