"""Benchmark the import/export engine on PostgreSQL (issue 4 targets; never run by the tests).

    .venv/bin/python bench/files_import_export.py            # or: make bench-import
    .venv/bin/python bench/files_import_export.py --sales 400000 --reuse

What it does, in its own databases (``--pg-url`` names the server; default
postgres://postgres@127.0.0.1:5432/postgres):

1. ``sales_bench_import`` (dropped and re-created unless ``--reuse``): migrated, then
   ``bench/seed_demo.py --sales N`` (N = 400,000 sales ≈ 1,000,000 sale lines).
2. ``sales_bench_import_empty``: a copy of it (``CREATE DATABASE … TEMPLATE``) whose sales,
   idempotency keys and analytics rollups are truncated: the same customers and products, the
   same indexes, no sales. Each import runs in a fresh copy of it (``sales_bench_import_run``),
   after a CHECKPOINT, so every run starts from the same state.
3. Export: ``manage.py export_data sales --out FILE`` from the seeded database (a subprocess:
   wall time, lines/s, peak RSS from ``wait4``).
4. Plain COPY of that file into an unindexed table of text columns (psycopg, same server, same
   database, right before the import), then ``manage.py import_data sales FILE --no-progress``
   into the run database; both rates and the ratio (the raw-file COPY ratio). Then the
   ceiling (issue 20): the rows the import wrote, dumped from ``sales_sale`` and
   ``sales_saleitem``, COPYed into ``CREATE TABLE … (LIKE … INCLUDING ALL)`` copies in one
   transaction; the import's share of it (ceiling seconds / import seconds). The imported
   database is exported again and compared byte for byte with the first export (round trip).
   Then, into the same database: the same file again (nothing changes), and the file with
   every reference renamed (as many new sales into a table holding them: its time against
   the import into the empty table). Each import's ANALYZE time is read from its summary.
5. Memory against file size: the import of the first 100,000 lines of the file, peak RSS.
6. Admin path, 20,000 products: ``import_data products`` of a generated file, the service
   ``data_import`` (in a subprocess) and, when ``ProductAdmin`` has import, the admin flow with
   Django's test Client (POST the file to the import view: preview; then the confirm form).

Prints a table and writes ``bench/results/import_export.json`` (git-ignored). The figures
measured on the development machine are in docs/import_export.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from machine import cpu_model, memory_gib  # bench/machine.py (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
RESULT_FILE = ROOT / "bench" / "results" / "import_export.json"
WORK_DIR = ROOT / "bench" / "results" / "import_export"
SOURCE_DB = "sales_bench_import"
EMPTY_DB = "sales_bench_import_empty"
RUN_DB = "sales_bench_import_run"
# Every table holding sales or figures summed from them (the monthly rollups and the customer
# lifetimes too: left behind, the "empty" database's import added to the seeded months' rows).
TRUNCATE = (
    "sales_saleitem, sales_sale, sales_idempotencykey, analytics_dailysales, "
    "analytics_dailyproductsales, analytics_dailycustomersales, analytics_dailycategorysales, "
    "analytics_monthlyproductsales, analytics_monthlycustomersales, analytics_customerlifetime, "
    "analytics_rollupproductcategory"
)
TARGETS = {
    "export_lines_per_second": 100_000,
    "export_peak_mb": 200,
    "import_lines_per_second": 50_000,
    "import_peak_mb": 300,
    "import_copy_ratio": 0.25,
    "import_ceiling_ratio": 0.33,
    "import_again_lines_per_second": 150_000,
    "import_into_full_ratio": 1.5,
    "admin_products_seconds": 10.0,
}


def db_url(base: str, name: str) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def admin_connect(base: str):
    import psycopg

    return psycopg.connect(db_url(base, "postgres"), autocommit=True)


def env_for(base: str, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url(base, name),
        READ_DOT_ENV="false",
        DEBUG="false",
        LOG_LEVEL="warning",
        CACHE_KEY_PREFIX="bench_import",
        CELERY_TASK_ALWAYS_EAGER="true",
        # The test Client speaks plain HTTP (DEBUG off would redirect it to HTTPS).
        SECURE_SSL_REDIRECT="false",
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("SECRET_KEY", "bench-import-export-only-" + "x" * 40)  # DEBUG=false needs one
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    return env


def run(args: list[str], env: dict[str, str], label: str) -> dict:
    """Run a subprocess; its wall time and peak RSS (MB, from wait4)."""
    shown = [arg if "\n" not in arg else "<snippet>" for arg in args]
    print(f"  $ {' '.join(shown)}", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(output, file=sys.stderr)
        raise SystemExit(f"{label} failed (exit {process.returncode})")
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "output": output.strip()[-600:],
    }


def fresh_copy(base: str, template: str, name: str) -> None:
    with admin_connect(base) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    import psycopg

    with psycopg.connect(db_url(base, name), autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def prepare(base: str, sales: int, reuse: bool) -> None:
    import psycopg

    with admin_connect(base) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [SOURCE_DB]
        ).fetchone()
        if exists and reuse:
            print(f"Reusing {SOURCE_DB} (--reuse)")
        else:
            for name in (RUN_DB, EMPTY_DB, SOURCE_DB):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{SOURCE_DB}"')
    env = env_for(base, SOURCE_DB)
    if not (exists and reuse):
        run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], env, "migrate")
        run([PY, "bench/seed_demo.py", "--sales", str(sales), "--no-progress"], env, "seed_demo")
    else:  # a reused database gets any new migration
        run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], env, "migrate")
    with admin_connect(base) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{RUN_DB}"')
        conn.execute(f'DROP DATABASE IF EXISTS "{EMPTY_DB}"')
        conn.execute(f'CREATE DATABASE "{EMPTY_DB}" TEMPLATE "{SOURCE_DB}"')
    with psycopg.connect(db_url(base, EMPTY_DB), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TRUNCATE}")
        conn.execute("VACUUM ANALYZE")


def plain_copy(base: str, path: Path) -> dict:
    """COPY of the file into an unindexed table of text columns (the reference rate)."""
    import psycopg

    with open(path, encoding="utf-8") as source:
        header = next(csv.reader([source.readline()]))
    columns = ", ".join(f'"{name}" text' for name in header)
    with psycopg.connect(db_url(base, RUN_DB), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_plain_copy")
        conn.execute(f"CREATE TABLE bench_plain_copy ({columns})")
        started = time.perf_counter()
        copy_sql = "COPY bench_plain_copy FROM STDIN (FORMAT csv, HEADER true)"
        with (
            conn.transaction(),
            conn.cursor() as cursor,
            cursor.copy(copy_sql) as copy,
            open(path, "rb") as data,
        ):
            while chunk := data.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT COUNT(*) FROM bench_plain_copy").fetchone()[0]
        conn.execute("DROP TABLE bench_plain_copy")
    return {"seconds": round(seconds, 2), "rows": rows, "lines_per_second": round(rows / seconds)}


def ceiling_copy(base: str) -> dict:
    """The ceiling (issue 20): ``COPY`` of the rows the import wrote (dumped from ``sales_sale``
    and ``sales_saleitem`` of the run database) into ``CREATE TABLE … (LIKE … INCLUDING ALL)``
    copies of those tables (every index and constraint but the foreign keys), in one
    transaction: what PostgreSQL needs to write the very same rows into our indexed tables."""
    import psycopg

    tables = ("sales_sale", "sales_saleitem")
    # Dumped to files, not held here: this process's peak RSS is inherited by the
    # subprocesses measured after it (Linux keeps the high-water mark across fork and exec).
    dumps = {table: WORK_DIR / f"ceiling_{table}.copy" for table in tables}
    rows: dict[str, int] = {}
    with psycopg.connect(db_url(base, RUN_DB), autocommit=True) as conn:
        for table in tables:
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY {table} TO STDOUT") as copy,
                open(dumps[table], "wb") as out,
            ):
                for chunk in copy:
                    out.write(chunk)
            rows[table] = count_lines(dumps[table]) + 1
            conn.execute(f"DROP TABLE IF EXISTS bench_ceiling_{table}")
            conn.execute(f"CREATE TABLE bench_ceiling_{table} (LIKE {table} INCLUDING ALL)")
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cursor:
            for table in tables:
                with (
                    cursor.copy(f"COPY bench_ceiling_{table} FROM STDIN") as copy,
                    open(dumps[table], "rb") as data,
                ):
                    while chunk := data.read(1 << 20):
                        copy.write(chunk)
        seconds = time.perf_counter() - started
        for table in tables:
            conn.execute(f"DROP TABLE bench_ceiling_{table}")
            dumps[table].unlink()
    return {"seconds": round(seconds, 2), "rows": rows}


def renamed_file(source: Path, target: Path) -> None:
    """The same file with every reference prefixed: as many new sales, none stored yet."""
    with (
        open(source, encoding="utf-8", newline="") as data,
        open(target, "w", encoding="utf-8", newline="") as out,
    ):
        reader, writer = csv.reader(data), csv.writer(out)
        writer.writerow(next(reader))
        for row in reader:
            row[0] = "N-" + row[0]
            writer.writerow(row)


def import_into_run(path: Path, lines: int, base: str, label: str) -> dict:
    """``import_data sales`` into the run database as it is (no fresh copy)."""
    with admin_connect(base) as conn:
        conn.execute("CHECKPOINT")
    result = run(
        [PY, "manage.py", "import_data", "sales", str(path), "--no-progress"],
        env_for(base, RUN_DB),
        label,
    )
    result["lines"] = lines
    result["lines_per_second"] = round(lines / result["seconds"])
    result["analyze_seconds"] = analyze_seconds(result["output"])
    return result


def count_lines(path: Path) -> int:
    with open(path, "rb") as data:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 20), b"")) - 1


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_sales(base: str, path: Path, lines: int) -> dict:
    fresh_copy(base, EMPTY_DB, RUN_DB)
    result = run(
        [PY, "manage.py", "import_data", "sales", str(path), "--no-progress"],
        env_for(base, RUN_DB),
        "import_data sales",
    )
    result["lines"] = lines
    result["lines_per_second"] = round(lines / result["seconds"])
    result["analyze_seconds"] = analyze_seconds(result["output"])
    return result


def analyze_seconds(output: str) -> float:
    """The ANALYZE after the load, from the command's summary ("ANALYZE of N table(s) X s")."""
    found = re.search(r"ANALYZE of \d+ table\(s\) ([0-9.]+) s", output)
    return float(found.group(1)) if found else 0.0


def products_file(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["sku", "name", "category", "price", "cost", "is_active"])
        for n in range(1, count + 1):
            price = 5 + (n % 500) / 4
            writer.writerow(
                [
                    f"BENCH-{n:06d}",
                    f"Bench product {n}",
                    "",
                    f"{price:.2f}",
                    f"{price / 2:.2f}",
                    "true",
                ]
            )


SERVICE_SNIPPET = """
import sys, time
import django
from core.ops.database import set_process_kind
set_process_kind("jobs")  # the service as a job runs it
django.setup()
from core.dataio.importer import ImportOptions
from core.dataio.services import data_import
with open(sys.argv[1], "rb") as source:
    started = time.perf_counter()
    report = data_import(table="products", source=source, fmt="csv", options=ImportOptions())
print(f"{time.perf_counter() - started:.3f}", report.summary())
"""

ADMIN_SNIPPET = """
import re, sys, time
import django
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from products.models import Product
model_admin = admin.site._registry[Product]
if not hasattr(model_admin, "import_action"):
    print("NO-ADMIN-IMPORT")
    sys.exit(0)
User = get_user_model()
user = User.objects.filter(username="bench_admin").first() or User.objects.create_superuser(
    "bench_admin", "bench_admin@example.com", "bench-password")
client = Client()
client.force_login(user)
url = reverse("admin:products_product_import")
page = client.get(url)
form = page.context["form"]
choices = [value for value, label in form.fields["format"].choices if "csv" in str(label).lower()]
data = {"format": choices[0] if choices else "0"}
for name, field in form.fields.items():
    if name not in ("import_file", "format") and field.initial is not None:
        data.setdefault(name, field.initial)
started = time.perf_counter()
with open(sys.argv[1], "rb") as upload:
    preview = client.post(url, {**data, "import_file": upload})
preview_seconds = time.perf_counter() - started
assert preview.status_code == 200, preview.status_code
confirm_form = preview.context.get("confirm_form")
assert confirm_form is not None, "no confirm form: the preview failed"
confirm = {name: field.initial if field.initial is not None else confirm_form.initial.get(name)
           for name, field in confirm_form.fields.items()}
confirm = {k: v for k, v in confirm.items() if v is not None}
started = time.perf_counter()
done = client.post(reverse("admin:products_product_process_import"), confirm)
confirm_seconds = time.perf_counter() - started
assert done.status_code in (200, 302), done.status_code
print(f"{preview_seconds:.3f} {confirm_seconds:.3f} {Product.objects.count()}")
"""


def admin_products(base: str, count: int) -> dict:
    path = WORK_DIR / f"products_{count}.csv"
    products_file(path, count)
    env = env_for(base, RUN_DB)
    result: dict = {"rows": count}
    fresh_copy(base, EMPTY_DB, RUN_DB)
    command = run(
        [PY, "manage.py", "import_data", "products", str(path), "--no-progress"],
        env,
        "import_data products",
    )
    result["command_seconds"] = command["seconds"]
    result["command_peak_mb"] = command["peak_mb"]
    fresh_copy(base, EMPTY_DB, RUN_DB)
    env_service = {
        **env,
        "DJANGO_SETTINGS_MODULE": "salesproject.settings",
        "PYTHONPATH": str(ROOT),
    }
    service = run([PY, "-c", SERVICE_SNIPPET, str(path)], env_service, "data_import products")
    result["service_seconds"] = float(service["output"].split()[0])
    fresh_copy(base, EMPTY_DB, RUN_DB)
    admin_run = run([PY, "-c", ADMIN_SNIPPET, str(path)], env_service, "admin import")
    if "NO-ADMIN-IMPORT" in admin_run["output"]:
        result["admin"] = "ProductAdmin has no import view yet"
    else:
        preview_s, confirm_s, products = admin_run["output"].split()[-3:]
        result["admin_preview_seconds"] = float(preview_s)
        result["admin_confirm_seconds"] = float(confirm_s)
        result["admin_seconds"] = round(float(preview_s) + float(confirm_s), 2)
        result["admin_products_after"] = int(products)
        result["admin_peak_mb"] = admin_run["peak_mb"]
    return result


def server_version(base: str) -> str:
    with admin_connect(base) as conn:
        return conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="the PostgreSQL server (a role that may create databases)",
    )
    parser.add_argument(
        "--sales", type=int, default=400_000, help="sales to seed (default: %(default)s)"
    )
    parser.add_argument("--small-lines", type=int, default=100_000, help="memory check file size")
    parser.add_argument("--products", type=int, default=20_000, help="admin-path products file")
    parser.add_argument("--reuse", action="store_true", help="keep an existing seeded database")
    parser.add_argument("--skip-admin", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON result file")
    args = parser.parse_args()
    if urlsplit(args.pg_url).scheme not in ("postgres", "postgresql"):
        print("--pg-url must be a PostgreSQL URL", file=sys.stderr)
        return 2
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "benchmark": "import_export",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sales_seeded": args.sales,
    }

    print(f"1. Seeding {SOURCE_DB} ({args.sales:,} sales) and {EMPTY_DB} (no sales)")
    prepare(args.pg_url, args.sales, args.reuse)

    print("2. Export")
    export_file = WORK_DIR / "sales.csv"
    export = run(
        [PY, "manage.py", "export_data", "sales", "--out", str(export_file), "--no-progress"],
        env_for(args.pg_url, SOURCE_DB),
        "export_data sales",
    )
    lines = count_lines(export_file)
    export.update(lines=lines, lines_per_second=round(lines / export["seconds"]))
    export["bytes"] = export_file.stat().st_size
    result["export"] = export

    print("3. Plain COPY, then import_data sales, into a copy of the empty database")
    fresh_copy(args.pg_url, EMPTY_DB, RUN_DB)
    result["plain_copy"] = plain_copy(args.pg_url, export_file)
    imported = import_sales(args.pg_url, export_file, lines)
    imported["copy_ratio"] = round(
        imported["lines_per_second"] / result["plain_copy"]["lines_per_second"], 3
    )
    result["import"] = imported
    print("   the ceiling: COPY of the rows the import wrote into LIKE … INCLUDING ALL copies")
    ceiling = ceiling_copy(args.pg_url)
    ceiling["lines_per_second"] = round(lines / ceiling["seconds"])
    imported["ceiling_ratio"] = round(ceiling["seconds"] / imported["seconds"], 3)
    result["ceiling_copy"] = ceiling
    round_trip = WORK_DIR / "sales_again.csv"
    run(
        [PY, "manage.py", "export_data", "sales", "--out", str(round_trip), "--no-progress"],
        env_for(args.pg_url, RUN_DB),
        "export_data sales (round trip)",
    )
    result["round_trip_identical"] = sha256(round_trip) == sha256(export_file)
    print("   the same file again (nothing changed), then as many new sales into the full table")
    result["import_again"] = import_into_run(export_file, lines, args.pg_url, "import again")
    renamed = WORK_DIR / "sales_renamed.csv"
    renamed_file(export_file, renamed)
    result["import_into_full"] = import_into_run(renamed, lines, args.pg_url, "import into full")
    result["import_into_full"]["ratio_to_empty"] = round(
        result["import_into_full"]["seconds"] / imported["seconds"], 2
    )

    print(f"4. Memory against file size: the first {args.small_lines:,} lines")
    small_file = WORK_DIR / f"sales_{args.small_lines}.csv"
    with (
        open(export_file, encoding="utf-8", newline="") as source,
        open(small_file, "w", encoding="utf-8", newline="") as out,
    ):
        for number, line in enumerate(source):
            if number > args.small_lines:
                break
            out.write(line)
    small = import_sales(args.pg_url, small_file, args.small_lines)
    result["import_small"] = small

    if not args.skip_admin:
        print(f"5. Admin path: {args.products:,} products")
        result["products"] = admin_products(args.pg_url, args.products)

    result["targets"] = TARGETS
    result["machine"] = {
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "postgresql": server_version(args.pg_url),
    }
    result["commands"] = [
        "manage.py export_data sales --out FILE --no-progress",
        "COPY bench_plain_copy FROM STDIN (FORMAT csv, HEADER true)  -- 7 text columns, no index",
        "manage.py import_data sales FILE --no-progress",
        "COPY sales_sale, sales_saleitem TO STDOUT; COPY … FROM STDIN into LIKE … INCLUDING ALL",
        "manage.py import_data products FILE --no-progress",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")

    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    products = result.get("products", {})
    rows = [
        (
            "export sales",
            f"{export['lines']:,} lines in {export['seconds']} s",
            f"{export['lines_per_second']:,} lines/s, {export['peak_mb']} MB",
            ok(
                export["lines_per_second"] >= TARGETS["export_lines_per_second"]
                and export["peak_mb"] <= TARGETS["export_peak_mb"]
            ),
        ),
        (
            "plain COPY",
            f"{result['plain_copy']['rows']:,} rows in {result['plain_copy']['seconds']} s",
            f"{result['plain_copy']['lines_per_second']:,} lines/s",
            "",
        ),
        (
            "import sales",
            f"{lines:,} lines in {imported['seconds']} s",
            f"{imported['lines_per_second']:,} lines/s, {imported['peak_mb']} MB "
            f"(ANALYZE {imported['analyze_seconds']} s)",
            ok(
                imported["lines_per_second"] >= TARGETS["import_lines_per_second"]
                and imported["peak_mb"] <= TARGETS["import_peak_mb"]
            ),
        ),
        (
            "import / COPY",
            "",
            f"{imported['copy_ratio']:.1%}",
            ok(imported["copy_ratio"] >= TARGETS["import_copy_ratio"]),
        ),
        (
            "ceiling: COPY of the written rows into LIKE copies",
            f"{ceiling['seconds']} s",
            f"import at {imported['ceiling_ratio']:.1%} of it",
            ok(imported["ceiling_ratio"] >= TARGETS["import_ceiling_ratio"]),
        ),
        (
            "import again (unchanged file)",
            f"{result['import_again']['seconds']} s",
            f"{result['import_again']['lines_per_second']:,} lines/s",
            ok(
                result["import_again"]["lines_per_second"]
                >= TARGETS["import_again_lines_per_second"]
            ),
        ),
        (
            "import into the full table (as many new sales)",
            f"{result['import_into_full']['seconds']} s",
            f"{result['import_into_full']['ratio_to_empty']}x the empty import, "
            f"{result['import_into_full']['peak_mb']} MB",
            ok(result["import_into_full"]["ratio_to_empty"] <= TARGETS["import_into_full_ratio"]),
        ),
        (
            f"import {args.small_lines:,} lines",
            f"{small['seconds']} s",
            f"{small['lines_per_second']:,} lines/s, {small['peak_mb']} MB",
            "",
        ),
        (
            "round trip",
            "export → import → export",
            "identical" if result["round_trip_identical"] else "DIFFERENT",
            ok(result["round_trip_identical"]),
        ),
    ]
    if products:
        rows.append(
            (
                f"products {args.products:,} (command)",
                f"{products['command_seconds']} s",
                f"{products['command_peak_mb']} MB",
                "",
            )
        )
        rows.append(
            (
                f"products {args.products:,} (service)",
                f"{products['service_seconds']:.2f} s",
                "",
                "",
            )
        )
        if "admin_seconds" in products:
            rows.append(
                (
                    f"products {args.products:,} (admin)",
                    f"preview {products['admin_preview_seconds']} s + confirm "
                    f"{products['admin_confirm_seconds']} s",
                    f"{products['admin_seconds']} s",
                    ok(products["admin_seconds"] <= TARGETS["admin_products_seconds"]),
                )
            )
        else:
            rows.append((f"products {args.products:,} (admin)", products.get("admin", ""), "", ""))
    print()
    print("| what | size / time | rate, peak RSS | target |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(f"\nResult: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
