"""Benchmark the analytics endpoints on PostgreSQL (never run by the test suite).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench_analytics \\
    REDIS_URL=redis://127.0.0.1:6379/0 CACHE_KEY_PREFIX=bench_analytics \\
        .venv/bin/python bench/analytics.py

Needs a migrated database holding the data of ``bench/seed_demo.py --sales 1000000`` (``make
bench-analytics`` prepares it) and, for the cached figures, Redis. For each endpoint, with a
one-year period ending on the last sale day, it measures:

- **uncached**: p50 of the full request through the Django test client (JWT-free forced auth,
  permission check, parameter validation, selectors, JSON rendering) with the cache disabled
  (``ANALYTICS_CACHE_ENABLED=False``): the rollups;
- **plain GROUP BY**: p50 of the same answer computed from the sales tables
  (``source="sales"``: GROUP BY over ``sales_sale`` JOIN ``sales_saleitem``, called directly,
  without the request around it), checked equal to the rollup answer; and the ratio;
- **cached**: p50 of the same request through the test client with the Redis cache warm;

and the time of ``rollups_rebuild`` over two years, and of ``rollups_apply_sales`` of 100,000
sales (-1 then +1, rolled back). Prints a table, writes ``bench/results/analytics.json``; exit
status 1 with ``--strict`` when a target is missed (uncached p50 <= 200 ms and >= 10x faster
than the GROUP BY, cached p50 <= 10 ms, rebuild of two years <= 60 s).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import setup_django_on_postgres  # bench/harness.py (bench/ is on sys.path)
from machine import cpu_model, memory_gib  # bench/machine.py

ROOT = Path(__file__).resolve().parent.parent
RESULT_FILE = ROOT / "bench" / "results" / "analytics.json"
TARGETS = {"uncached_ms": 200.0, "ratio": 10.0, "cached_ms": 10.0, "rebuild_s": 60.0}
CASES = [
    ("summary", {}),
    ("revenue", {"interval": "day"}),
    ("revenue", {"interval": "week"}),
    ("revenue", {"interval": "month"}),
    ("top-products", {"by": "revenue", "limit": 10}),
    ("top-products", {"by": "margin", "limit": 10}),
    ("top-customers", {"by": "revenue", "limit": 10}),
    ("breakdown", {"dimension": "category"}),
    ("breakdown", {"dimension": "country"}),
    ("breakdown", {"dimension": "segment"}),
]
# Issue 17: the sales team's reports, each with its own uncached p50 target (ms) and a plain SQL
# answer over the sales tables written here, independently of analytics.sql (the ratio's base).
REPORT_TARGETS_MS = {"cohorts": 300.0, "basket": 300.0, "rfm": 500.0, "summary": 200.0}
REPORT_CASES = [
    ("cohorts", {"interval": "month"}),
    ("basket", {"limit": 10}),  # product: the best seller of the period (added at run time)
    ("rfm", {}),
    ("rfm/customers", {"segment": "champions"}),
]
PLAIN_SQL = {
    "cohorts": """
        WITH firsts AS (
          SELECT customer_id, MIN((sold_at AT TIME ZONE %(tz)s)::date) AS first_day
          FROM sales_sale WHERE status = 'completed' AND customer_id IS NOT NULL
          GROUP BY customer_id)
        SELECT date_trunc('month', f.first_day), date_trunc('month', s.sold_at AT TIME ZONE %(tz)s),
               COUNT(DISTINCT s.customer_id), SUM(i.line_total)
        FROM firsts f JOIN sales_sale s ON s.customer_id = f.customer_id
        JOIN sales_saleitem i ON i.sale_id = s.id
        WHERE f.first_day BETWEEN %(date_from)s AND %(date_to)s AND s.status = 'completed'
          AND (s.sold_at AT TIME ZONE %(tz)s)::date <= %(date_to)s
        GROUP BY 1, 2""",
    "basket": """
        WITH period AS (
          SELECT s.id FROM sales_sale s WHERE s.status = 'completed'
            AND (s.sold_at AT TIME ZONE %(tz)s)::date BETWEEN %(date_from)s AND %(date_to)s),
        baskets AS (SELECT i.sale_id FROM sales_saleitem i JOIN period p ON p.id = i.sale_id
                    WHERE i.product_id = %(product)s),
        pairs AS (SELECT o.product_id, COUNT(*) AS orders FROM baskets b
                  JOIN sales_saleitem o ON o.sale_id = b.sale_id AND o.product_id <> %(product)s
                  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10)
        SELECT x.product_id, x.orders, (SELECT COUNT(*) FROM baskets),
               (SELECT COUNT(*) FROM period),
               (SELECT COUNT(*) FROM sales_saleitem i JOIN period p ON p.id = i.sale_id
                WHERE i.product_id = x.product_id)
        FROM pairs x""",
    "rfm": """
        WITH c AS (
          SELECT s.customer_id, MAX((s.sold_at AT TIME ZONE %(tz)s)::date) AS last_day,
                 COUNT(*) AS orders, SUM(s.total) AS revenue
          FROM sales_sale s WHERE s.status = 'completed' AND s.customer_id IS NOT NULL
            AND (s.sold_at AT TIME ZONE %(tz)s)::date BETWEEN %(date_from)s AND %(date_to)s
          GROUP BY 1),
        scored AS (SELECT NTILE(5) OVER (ORDER BY last_day, customer_id) AS r,
                          NTILE(5) OVER (ORDER BY orders, customer_id) AS f, revenue FROM c)
        SELECT r, f, COUNT(*), SUM(revenue) FROM scored GROUP BY 1, 2""",
}
PLAIN_SQL["rfm/customers"] = PLAIN_SQL["rfm"]

FILTERED_CASES = [  # for information: a filter each, rollups or sales tables (see "source")
    ("summary", {"country": "FR"}),
    ("summary", {"category": 1}),
    ("top-products", {"segment": "corporate"}),
    ("breakdown", {"dimension": "category", "country": "FR"}),
]


def p50_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def timed(function, runs: int) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - started)
    return samples, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per measure (%(default)s)")
    parser.add_argument("--baseline-runs", type=int, default=5, help="GROUP BY runs (%(default)s)")
    parser.add_argument("--days", type=int, default=365, help="period length (%(default)s)")
    parser.add_argument("--skip-rebuild", action="store_true", help="do not time the rebuild")
    parser.add_argument(
        "--reports-only",
        action="store_true",
        help="only the summary and issue 17's reports (cohorts, basket, rfm)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON result file")
    args = parser.parse_args()

    if not setup_django_on_postgres():
        return 2
    import django
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.test.utils import override_settings
    from rest_framework.test import APIClient

    from analytics import selectors
    from analytics.services import rollups_apply_sales, rollups_rebuild, sales_day_range
    from sales.models import Sale, SaleItem

    history = sales_day_range()
    if history is None:
        print("No sales: run bench/seed_demo.py --sales 1000000 first.", file=sys.stderr)
        return 2
    last = history[1]
    date_from, date_to = last - timedelta(days=args.days - 1), last
    period = {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}
    with connection.cursor() as cursor:
        # A steady state: earlier runs' rolled-back applies leave dead rollup rows behind until
        # autovacuum passes; measure without them.
        from analytics.sql import ROLLUP_TABLES

        started = time.perf_counter()
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(ROLLUP_TABLES)}")
        print(f"VACUUM (ANALYZE) of the rollup tables: {time.perf_counter() - started:.1f} s")
        cursor.execute("SELECT version()")
        server = cursor.fetchone()[0].split(" on ")[0]
    sales, lines = Sale.objects.count(), SaleItem.objects.count()
    print(f"{sales:,} sales, {lines:,} lines, {server}; {date_from} to {date_to}", flush=True)

    user, _ = get_user_model().objects.get_or_create(
        username="bench_analytics", defaults={"is_superuser": True, "is_staff": True}
    )
    client = APIClient()
    client.force_authenticate(user)

    def request(path: str, params: dict):
        response = client.get(f"/api/analytics/{path}/", {**period, **params})
        assert response.status_code == 200, response.content
        return response

    def baseline(path: str, params: dict):
        from analytics.serializers import (
            BreakdownQuerySerializer,
            RevenueQuerySerializer,
            TopCustomersQuerySerializer,
            TopProductsQuerySerializer,
        )
        from analytics.views import jsonable

        serializer, call = {
            "summary": (None, selectors.analytics_summary),
            "revenue": (RevenueQuerySerializer, selectors.analytics_revenue),
            "top-products": (TopProductsQuerySerializer, selectors.analytics_top_products),
            "top-customers": (TopCustomersQuerySerializer, selectors.analytics_top_customers),
            "breakdown": (BreakdownQuerySerializer, selectors.analytics_breakdown),
        }[path]
        from analytics.serializers import AnalyticsQuerySerializer

        query = (serializer or AnalyticsQuerySerializer)(data={**period, **params})
        query.is_valid(raise_exception=True)
        data = dict(query.validated_data)
        filters = data.pop("filters")
        extra = {k: data[k] for k in ("interval", "by", "limit", "dimension") if k in data}
        return lambda: jsonable(call(filters=filters, source="sales", **extra))

    rows: list[dict] = []
    report_rows: list[dict] = []
    cases = CASES[:1] if args.reports_only else CASES + FILTERED_CASES
    for path, params in cases:
        informational = (path, params) in FILTERED_CASES
        call = functools.partial(request, path, params)
        with override_settings(ANALYTICS_CACHE_ENABLED=False):
            timed(call, 2)  # warm up
            uncached, response = timed(call, args.runs)
            answer = response.json()
            base_samples, base_answer = timed(baseline(path, params), args.baseline_runs)
        # "source" differs by design; "currency" is added by the view, not the selector.
        same = {k: v for k, v in answer.items() if k not in ("source", "currency")} == {
            k: v for k, v in base_answer.items() if k != "source"
        }
        request(path, params)  # fill the cache
        cached, _ = timed(call, args.runs)
        row = {
            "endpoint": f"/api/analytics/{path}/",
            "params": params,
            "source": answer["source"],
            "uncached_p50_ms": p50_ms(uncached),
            "group_by_p50_ms": p50_ms(base_samples),
            "ratio": round(statistics.median(base_samples) / statistics.median(uncached), 1),
            "cached_p50_ms": p50_ms(cached),
            "same_answer": same,
            "informational": informational,
        }
        rows.append(row)
        print(
            f"{'(info) ' if informational else ''}{row['endpoint']} {params}: uncached "
            f"{row['uncached_p50_ms']} ms ({row['source']}), GROUP BY {row['group_by_p50_ms']} "
            f"ms, x{row['ratio']}, cached {row['cached_p50_ms']} ms, "
            f"{'same answer' if same else 'DIFFERENT ANSWER'}",
            flush=True,
        )

    rebuild = {}
    if not args.skip_rebuild:
        started = time.perf_counter()
        stats = rollups_rebuild(date_from=last - timedelta(days=729), date_to=last)
        rebuild["two_years_s"] = round(time.perf_counter() - started, 2)
        rebuild["rows"] = stats.rows
        print(f"rollups_rebuild of two years: {rebuild['two_years_s']} s ({stats.rows})")
        ids = list(
            Sale.objects.filter(status="completed")
            .order_by("-id")
            .values_list("id", flat=True)[:100_000]
        )
        started = time.perf_counter()
        try:
            with transaction.atomic():
                rollups_apply_sales(sale_ids=ids, sign=-1)
                middle = time.perf_counter()
                rollups_apply_sales(sale_ids=ids, sign=1)
                ended = time.perf_counter()
                raise KeyboardInterrupt  # roll back: leave the data as it was
        except KeyboardInterrupt:
            pass
        rebuild["apply_100k_minus_s"] = round(middle - started, 2)
        rebuild["apply_100k_plus_s"] = round(ended - middle, 2)
        print(
            f"rollups_apply_sales of {len(ids):,} sales: -1 {rebuild['apply_100k_minus_s']} s, "
            f"+1 {rebuild['apply_100k_plus_s']} s"
        )

    # Issue 17's reports: uncached p50 against a plain SQL answer over the sales tables.
    best = (
        SaleItem.objects.filter(sale__status="completed", sale__sold_at__date__gte=date_from)
        .values("product_id")
        .annotate(n=django.db.models.Count("id"))
        .order_by("-n")
        .values_list("product_id", flat=True)[:1]
    )
    best_seller = best[0] if best else None
    plain_params = {**period, "tz": settings.TIME_ZONE, "product": best_seller}
    for path, params in REPORT_CASES:
        if path == "basket":
            params = {**params, "product": best_seller}
        call = functools.partial(request, path, params)

        def plain(sql=PLAIN_SQL[path]):
            with connection.cursor() as cursor:
                cursor.execute(sql, plain_params)
                return cursor.fetchall()

        with override_settings(ANALYTICS_CACHE_ENABLED=False):
            timed(call, 2)
            uncached, response = timed(call, args.runs)
            base_samples, _ = timed(plain, args.baseline_runs)
        target = REPORT_TARGETS_MS.get(path.split("/")[0])
        row = {
            "endpoint": f"/api/analytics/{path}/",
            "params": params,
            "source": response.json().get("source"),
            "uncached_p50_ms": p50_ms(uncached),
            "plain_sql_p50_ms": p50_ms(base_samples),
            "ratio": round(statistics.median(base_samples) / statistics.median(uncached), 1),
            "target_ms": target,
            "met": target is None or p50_ms(uncached) <= target,
        }
        report_rows.append(row)
        print(
            f"{row['endpoint']} {params}: uncached {row['uncached_p50_ms']} ms, plain SQL "
            f"{row['plain_sql_p50_ms']} ms, x{row['ratio']}, target {target} ms",
            flush=True,
        )
    summary_row = next(r for r in rows if r["endpoint"].endswith("/summary/") and not r["params"])
    report_rows.append(
        {
            "endpoint": "/api/analytics/summary/ (with repeat/new/returning customers)",
            "params": {},
            "uncached_p50_ms": summary_row["uncached_p50_ms"],
            "plain_sql_p50_ms": summary_row["group_by_p50_ms"],
            "ratio": summary_row["ratio"],
            "target_ms": REPORT_TARGETS_MS["summary"],
            "met": summary_row["uncached_p50_ms"] <= REPORT_TARGETS_MS["summary"],
        }
    )

    graded = [row for row in rows if not row["informational"]]
    missed = [
        f"{row['endpoint']} {row['params']}"
        for row in graded
        if row["uncached_p50_ms"] > TARGETS["uncached_ms"]
        or row["ratio"] < TARGETS["ratio"]
        or row["cached_p50_ms"] > TARGETS["cached_ms"]
        or not row["same_answer"]
    ]
    missed += [f"{row['endpoint']} (issue 17)" for row in report_rows if not row["met"]]
    if rebuild.get("two_years_s", 0) > TARGETS["rebuild_s"]:
        missed.append("rollups_rebuild")
    import psycopg

    result = {
        "benchmark": "analytics",
        "command": "DATABASE_URL=postgres://.../sales_bench_analytics REDIS_URL=redis://... "
        "CACHE_KEY_PREFIX=bench_analytics .venv/bin/python bench/analytics.py",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sales": sales,
        "sale_lines": lines,
        "period": period,
        "runs": args.runs,
        "cache": settings.CACHES["default"]["BACKEND"],
        "rows": rows,
        "reports": report_rows,
        "rebuild": rebuild,
        "targets": TARGETS,
        "missed": missed,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "memory_gib": memory_gib(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": server,
            "psycopg": psycopg.__version__,
            "django": django.get_version(),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Targets missed: {', '.join(missed)}" if missed else "Every target met.")
    print(f"Result: {args.output}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
