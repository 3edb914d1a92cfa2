"""Benchmark ``POST /api/products/bulk/`` with 10,000 items on PostgreSQL (never run by the tests).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench_bulk \\
    REDIS_URL=redis://127.0.0.1:6379/0 CACHE_KEY_PREFIX=bench_bulk READ_DOT_ENV=false \\
        .venv/bin/python bench/bulk_products.py

``make bench-bulk`` creates and migrates that database first. The requests go through the
Django test client in this process (DRF's ``APIClient``, forced authentication as a superuser):
the whole request is timed — middleware, JSON parsing of the pre-encoded body, validation of
every item, the import engine's staging, checks and set-based merge, the response — without a
network hop or a web server in front. The benchmark's own products (sku ``BB-…``) are deleted
with SQL before each **create** run; each **update** run sends the same skus with a new name
and price (so every item is really updated). Reports the median of ``--runs`` (5) runs as
items/s for create and for update (target ≥ 5,000 items/s), with ``--others`` (100,000) other
products in the table, prints them and writes
``bench/results/bulk_products.json``; exit status 1 with ``--strict`` when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from harness import setup_django_on_postgres  # bench/harness.py (bench/ is on sys.path)
from machine import cpu_model, memory_gib  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
RESULT_FILE = ROOT / "bench" / "results" / "bulk_products.json"
TARGET_ITEMS_PER_S = 5_000.0
SKU_PREFIX = "BB-"
CATEGORIES = 20


def items_for(count: int, run: int) -> list[dict]:
    """``count`` products; ``run`` changes names and prices (an update run changes them all)."""
    return [
        {
            "sku": f"{SKU_PREFIX}{i:06d}",
            "name": f"Bench product {i} v{run}",
            "category": f"Bench category {i % CATEGORIES}",
            "price": f"{(i % 500) + 1}.{(i + run) % 100:02d}",
            "cost": f"{(i % 250) + 1}.00",
            "is_active": i % 10 != 0,
        }
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000, help="items per request (%(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (%(default)s)")
    parser.add_argument(
        "--others",
        type=int,
        default=100_000,
        help="other products kept in the table, inserted once (%(default)s)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON result file")
    args = parser.parse_args()

    if not setup_django_on_postgres():
        return 2
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.test import APIClient

    from products.models import Category, Product

    if args.items > settings.BULK_MAX_ITEMS:
        print(f"--items is over BULK_MAX_ITEMS ({settings.BULK_MAX_ITEMS})", file=sys.stderr)
        return 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
    for n in range(CATEGORIES):
        Category.objects.get_or_create(name=f"Bench category {n}")
    user, _ = get_user_model().objects.get_or_create(
        username="bench_bulk", defaults={"is_superuser": True, "is_staff": True}
    )
    client = APIClient()
    client.force_authenticate(user)

    def delete_bench_products() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM products_stockmovement WHERE product_id IN "
                "(SELECT id FROM products_product WHERE sku LIKE %s)",
                [f"{SKU_PREFIX}%"],
            )
            cursor.execute("DELETE FROM products_product WHERE sku LIKE %s", [f"{SKU_PREFIX}%"])
            cursor.execute("ANALYZE products_product")

    def post(body: bytes) -> tuple[float, dict]:
        started = time.perf_counter()
        response = client.post("/api/products/bulk/", body, content_type="application/json")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:2000]
        return elapsed, response.json()

    run_number = 0

    def body_for_next_run() -> bytes:
        nonlocal run_number
        run_number += 1
        return json.dumps({"items": items_for(args.items, run_number)}).encode()

    others = Product.objects.exclude(sku__startswith=SKU_PREFIX).count()
    if others < args.others:  # a table that is not only the benchmark's (SQL, once)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO products_product (sku, name, category_id, price, cost, "
                "stock_quantity, is_active, created_at, updated_at) "
                "SELECT 'OT-' || lpad(n::text, 7, '0'), 'Other product ' || n, NULL, "
                "(n %% 900 + 1)::numeric / 4, 1, 0, true, now(), now() "
                "FROM generate_series(%s, %s) AS n ON CONFLICT DO NOTHING",
                [others + 1, args.others],
            )
            cursor.execute("ANALYZE products_product")
        others = Product.objects.exclude(sku__startswith=SKU_PREFIX).count()
    print(f"{server}; {others:,} other products in the table; {args.items:,} items per request")
    # Warm-up (URLconf, serializers, first plans), not timed.
    delete_bench_products()
    post(body_for_next_run())
    post(body_for_next_run())

    figures: dict[str, dict] = {}
    for phase in ("create", "update"):
        samples, engine = [], []
        for _ in range(args.runs):
            if phase == "create":
                delete_bench_products()
            body = body_for_next_run()
            elapsed, result = post(body)
            expected = "created" if phase == "create" else "updated"
            assert result[expected] == args.items, result
            samples.append(elapsed)
            engine.append(result["seconds"])
            print(f"  {phase}: {elapsed:.3f} s ({args.items / elapsed:,.0f} items/s)", flush=True)
        median = statistics.median(samples)
        figures[phase] = {
            "median_s": round(median, 3),
            "items_per_s": round(args.items / median),
            "runs_s": [round(s, 3) for s in samples],
            "engine_median_s": round(statistics.median(engine), 3),
            "target_items_per_s": TARGET_ITEMS_PER_S,
            "met": args.items / median >= TARGET_ITEMS_PER_S,
        }
    assert Product.objects.filter(sku__startswith=SKU_PREFIX).count() == args.items

    print()
    print(f"| phase | median of {args.runs} runs | items/s | engine (report.seconds) | target |")
    print("| --- | --- | --- | --- | --- |")
    for phase, f in figures.items():
        print(
            f"| {phase} | {f['median_s']:.3f} s | {f['items_per_s']:,} | "
            f"{f['engine_median_s']:.3f} s | ≥ {TARGET_ITEMS_PER_S:,.0f} "
            f"{'met' if f['met'] else 'MISSED'} |"
        )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    result = {
        "benchmark": "POST /api/products/bulk/",
        "client": "Django test client (rest_framework.test.APIClient), in process",
        "items": args.items,
        "runs": args.runs,
        "other_products": others,
        "figures": figures,
        "server": server,
        "machine": {
            "cpu": cpu_model(),
            "cpus": os.cpu_count(),
            "memory_gib": memory_gib(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in load] if load else None,
        },
        "command": "make bench-bulk",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} CPUs, {memory_gib()} GiB; load {load}")
    print(f"Result: {args.output}")
    missed = [phase for phase, f in figures.items() if not f["met"]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
