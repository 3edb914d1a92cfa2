"""EXPLAIN ANALYZE the SQL of every filtered list the API serves (never run by the test suite).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench \\
    REDIS_URL=redis://127.0.0.1:6379/0 CACHE_KEY_PREFIX=bench READ_DOT_ENV=false \\
        .venv/bin/python bench/explain_filters.py [--max-ms 200] [--baseline FILE]

Needs a migrated PostgreSQL database holding a ``seed_demo`` data set (1M sales). It only reads.

For every filter of ``SaleFilter`` and ``CustomerFilter`` (and the ``ProductFilter`` search),
with values taken from the data (a recent reference, a customer with sales, a last name, an
email, a city, a phone, a product, a category, the 99th percentile of totals, ...), plus the
orderings of the sales list, it calls the real list view (``SaleViewSet`` / ``CustomerViewSet``
/ ``ProductViewSet``, ``as_view({"get": "list"})``, forced authentication, no throttles) for
the first page, captures the SQL it runs (the page query with its ``LIMIT``; the ``COUNT(*)``
of page-number lists; the items prefetch of sales) and runs ``EXPLAIN (ANALYZE, BUFFERS,
FORMAT JSON)`` on each, ``--runs`` times (the median execution time is reported, the caches
warm as they are under load).

Reports per query: execution time (ms), the big tables read by a ``Seq Scan`` (``sales_sale``,
``sales_saleitem``, ``customers_customer``), the top plan node. Writes
``bench/results/explain_filters.json`` and prints a Markdown table; with ``--baseline`` (a
previous JSON) the table shows the earlier figures next to the new ones. Exit status 1 when a
query seq-scans a big table or takes more than ``--max-ms``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import timedelta
from pathlib import Path

from harness import setup_django_on_postgres  # bench/harness.py (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
RESULT_FILE = ROOT / "bench" / "results" / "explain_filters.json"
BIG_TABLES = ("sales_sale", "sales_saleitem", "customers_customer")
WRAPPERS = ("Limit", "Aggregate", "Gather", "Gather Merge")


def seq_scans(node: dict, under_limit: bool = False) -> list[str]:
    """Relations read by a Seq Scan anywhere under ``node`` (a plan node of EXPLAIN JSON). A
    Seq Scan straight under a Limit stops when the limit's rows are found (the sales search's
    probe of at most 1,001 matching customers, where the planner expects many): it is bounded,
    not counted (its time is still held to --max-ms)."""
    found = []
    if node.get("Node Type") == "Seq Scan" and not under_limit:
        found.append(node.get("Relation Name", "?"))
    for child in node.get("Plans", []):
        found.extend(seq_scans(child, under_limit=node.get("Node Type") == "Limit"))
    return found


def describe(node: dict) -> str:
    """The top plan node, skipping the Limit/Aggregate wrappers down to the first real step."""
    parts = []
    while True:
        label = node["Node Type"]
        if node.get("Index Name"):
            label += f" using {node['Index Name']}"
        elif node.get("Relation Name"):
            label += f" on {node['Relation Name']}"
        parts.append(label)
        children = [  # the main line: not the InitPlans/SubPlans computed on the side
            child
            for child in node.get("Plans", [])
            if child.get("Parent Relationship") not in ("InitPlan", "SubPlan")
        ]
        if (
            node["Node Type"] not in ("Limit", "Aggregate", "Gather", "Gather Merge")
            or not children
        ):
            return " > ".join(parts)
        node = children[0]


def query_kind(sql: str) -> str:
    head = sql.lstrip().upper()
    if head.startswith("SELECT COUNT(*)"):
        return "count"
    if 'FROM "SALES_SALEITEM"' in head and '"SALES_SALEITEM"."SALE_ID" IN (' in head:
        return "prefetch"
    return "page"


def searchable(case: tuple) -> tuple:
    """The case with the words of its ``search`` that the API accepts (3 characters or more:
    a shorter word is a 400, see ``core.api.filtering.search_words``)."""
    name, path, params, *accepted = case
    if "search" in params:
        words = [word for word in params["search"].split() if len(word) >= 3]
        params = {**params, "search": " ".join(words)}
    return (name, path, params, *accepted)


def build_cases(Sale, SaleItem, Customer, Product) -> list[tuple]:
    """(name, endpoint, query params[, why a Seq Scan is accepted]) with realistic values taken
    from the data. A case with a reason may seq-scan a big table (it is reported, and still
    held to ``--max-ms``): where reading the whole table is the best plan there is."""
    last = Sale.objects.order_by("-sold_at", "-id").values("sold_at", "reference").first()
    if last is None:
        raise SystemExit("No sales: run bench/seed_demo.py --sales 1000000 first.")
    latest = last["sold_at"]
    month_ago = latest - timedelta(days=30)
    year_ago = latest - timedelta(days=365)
    # A reference from three months ago: found only deep down the (-sold_at, -id) order.
    old_reference = (
        Sale.objects.filter(sold_at__lt=latest - timedelta(days=90))
        .order_by("-sold_at")
        .values_list("reference", flat=True)
        .first()
    )
    buyer = (
        Customer.objects.filter(
            pk__in=Sale.objects.filter(sold_at__gte=month_ago).values("customer")
        )
        .order_by("pk")
        .values("id", "name", "email", "city", "phone", "country")
        .first()
    )
    first_name, last_name = buyer["name"].split()[0], buyer["name"].split()[-1]
    phone_digits = next(  # a group of 4+ digits of a phone, e.g. 6396765 in +49 151 6396765
        group
        for phone in Customer.objects.order_by("pk").values_list("phone", flat=True)[:1000]
        for group in phone.replace("-", " ").split()
        if len(group) >= 4 and group.isdigit()
    )
    joined = Customer.objects.order_by("created_at").values_list("created_at", flat=True)
    first_joined, last_joined = joined.first(), joined.last()
    product_id = SaleItem.objects.order_by("-id").values_list("product_id", flat=True).first()
    quiet_product = Product.objects.order_by("-id").values_list("id", flat=True).first()
    category_id = Product.objects.filter(pk=product_id).values_list("category_id", flat=True)[0]
    totals = Sale.objects.order_by("total").values_list("total", flat=True)
    count = Sale.objects.count()
    p99 = totals[int(count * 0.99)]
    p01 = totals[int(count * 0.01)]
    day = (latest - timedelta(days=10)).date().isoformat()
    week_start = (latest - timedelta(days=7)).date().isoformat()
    product_word = Product.objects.order_by("id").values_list("name", flat=True)[0].split()[1]
    sku = Product.objects.order_by("-id").values_list("sku", flat=True)[0]
    iso = "%Y-%m-%dT%H:%M:%SZ"

    sales = "/api/sales/"
    customers = "/api/customers/"
    return [
        ("sales: no filter", sales, {}),
        ("sales: sold_after (30 days)", sales, {"sold_after": month_ago.strftime(iso)}),
        ("sales: sold_before (a year ago)", sales, {"sold_before": year_ago.strftime(iso)}),
        ("sales: date_from+date_to (a day)", sales, {"date_from": day, "date_to": day}),
        ("sales: date_from (a week)", sales, {"date_from": week_start}),
        ("sales: customer", sales, {"customer": buyer["id"]}),
        ("sales: has_customer=true", sales, {"has_customer": "true"}),
        ("sales: has_customer=false", sales, {"has_customer": "false"}),
        ("sales: product", sales, {"product": product_id}),
        ("sales: product (last id)", sales, {"product": quiet_product}),
        ("sales: category", sales, {"category": category_id}),
        ("sales: category+date_from", sales, {"category": category_id, "date_from": week_start}),
        ("sales: status=cancelled", sales, {"status": "cancelled"}),
        ("sales: status=completed", sales, {"status": "completed"}),
        ("sales: total_min (p99)", sales, {"total_min": str(p99)}),
        ("sales: total_max (p1)", sales, {"total_max": str(p01)}),
        ("sales: total_min+total_max", sales, {"total_min": str(p01), "total_max": str(p99)}),
        ("sales: reference", sales, {"reference": old_reference.lower()}),
        ("sales: search reference", sales, {"search": old_reference}),
        ("sales: search reference day", sales, {"search": old_reference[:10]}),
        ("sales: search last name", sales, {"search": last_name}),
        ("sales: search full name", sales, {"search": f"{first_name} {last_name}"}),
        ("sales: search email", sales, {"search": buyer["email"]}),
        ("sales: search first name", sales, {"search": first_name}),
        ("sales: search 'example' (most emails)", sales, {"search": "example"}),
        ("sales: ordering=total", sales, {"ordering": "total"}),
        ("sales: ordering=-total", sales, {"ordering": "-total"}),
        ("sales: ordering=sold_at", sales, {"ordering": "sold_at"}),
        ("sales: ordering=-created_at", sales, {"ordering": "-created_at"}),
        ("sales: ordering=created_at", sales, {"ordering": "created_at"}),
        ("sales: total_min+ordering=-total", sales, {"total_min": str(p99), "ordering": "-total"}),
        ("sales: customer+status", sales, {"customer": buyer["id"], "status": "completed"}),
        ("customers: no filter", customers, {}, "the COUNT(*) of every row reads every row"),
        ("customers: search last name", customers, {"search": last_name}),
        ("customers: search full name", customers, {"search": f"{first_name} {last_name}"}),
        ("customers: search email", customers, {"search": buyer["email"]}),
        ("customers: search email domain", customers, {"search": buyer["email"].split("@")[1]}),
        ("customers: search city", customers, {"search": buyer["city"]}),
        ("customers: search phone", customers, {"search": phone_digits}),
        ("customers: search name+city", customers, {"search": f"{last_name} {buyer['city']}"}),
        ("customers: email", customers, {"email": buyer["email"].upper()}),
        ("customers: country", customers, {"country": buyer["country"]}),
        ("customers: segment", customers, {"segment": "corporate"}),
        ("customers: city", customers, {"city": buyer["city"].lower()}),
        (
            "customers: created_after (last 30 days)",
            customers,
            {"created_after": (last_joined - timedelta(days=30)).strftime(iso)},
        ),
        (
            "customers: created_before (first 30 days)",
            customers,
            {"created_before": (first_joined + timedelta(days=30)).strftime(iso)},
        ),
        ("customers: country+segment", customers, {"country": "FR", "segment": "consumer"}),
        ("products: search word", "/api/products/", {"search": product_word}),
        ("products: search sku", "/api/products/", {"search": sku}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-ms", type=float, default=200.0, help="limit per query (%(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="EXPLAIN ANALYZE runs (%(default)s)")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--baseline", type=Path, help="a previous result JSON to compare with")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="(%(default)s)")
    args = parser.parse_args()

    if not setup_django_on_postgres():
        return 2
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIRequestFactory, force_authenticate

    from customers.models import Customer
    from customers.views import CustomerViewSet
    from products.models import Product
    from products.views import ProductViewSet
    from sales.models import Sale, SaleItem
    from sales.views import SaleViewSet

    views = {
        "/api/sales/": SaleViewSet.as_view({"get": "list"}, throttle_classes=[]),
        "/api/customers/": CustomerViewSet.as_view({"get": "list"}, throttle_classes=[]),
        "/api/products/": ProductViewSet.as_view({"get": "list"}, throttle_classes=[]),
    }
    user = get_user_model()(username="explain-bench", is_superuser=True, is_active=True)
    factory = APIRequestFactory()

    cases = [searchable(case) for case in build_cases(Sale, SaleItem, Customer, Product)]
    if args.only:
        cases = [case for case in cases if args.only in case[0]]
    baseline = {}
    if args.baseline:
        for row in json.loads(args.baseline.read_text())["queries"]:
            baseline[(row["case"], row["kind"])] = row

    rows = []
    for name, path, params, *accepted in cases:
        request = factory.get(path, params)
        force_authenticate(request, user=user)
        with CaptureQueriesContext(connection) as captured:
            response = views[path](request)
        if response.status_code != 200:
            print(f"{name}: {path} {params} answered {response.status_code}: {response.data}")
            return 1
        for query in captured.captured_queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            times, plan = [], None
            with connection.cursor() as cursor:
                for _ in range(args.runs):
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
                    raw = cursor.fetchone()[0]
                    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]
                    times.append(plan["Execution Time"])
            top = plan["Plan"]
            scanned = sorted(set(seq_scans(top)))
            row = {
                "case": name,
                "path": path,
                "params": {key: str(value) for key, value in params.items()},
                "kind": query_kind(sql),
                "execution_ms": round(statistics.median(times), 2),
                "planning_ms": round(plan["Planning Time"], 2),
                "seq_scan": [table for table in scanned if table in BIG_TABLES],
                "seq_scan_small": [table for table in scanned if table not in BIG_TABLES],
                "top_node": describe(top),
                "shared_hit": top.get("Shared Hit Blocks", 0),
                "shared_read": top.get("Shared Read Blocks", 0),
                "rows": top.get("Actual Rows"),
                "sql": sql,
            }
            row["seq_scan_accepted"] = accepted[0] if accepted and row["seq_scan"] else None
            row["ok"] = (not row["seq_scan"] or bool(accepted)) and (
                row["execution_ms"] <= args.max_ms
            )
            rows.append(row)

    header = "| case | query | ms | seq scan (big) | top plan node |"
    rule = "| --- | --- | ---: | --- | --- |"
    if baseline:
        header = (
            "| case | query | ms before | ms after | seq scan before | seq scan after "
            "| top plan node |"
        )
        rule = "| --- | --- | ---: | ---: | --- | --- | --- |"
    print(header)
    print(rule)
    for row in rows:
        seq = ", ".join(row["seq_scan"]) or "no"
        if row["seq_scan_accepted"]:
            seq += " (accepted)"
        mark = "" if row["ok"] else " **FAIL**"
        if baseline:
            before = baseline.get((row["case"], row["kind"]))
            b_ms = f"{before['execution_ms']:.1f}" if before else "-"
            b_seq = (", ".join(before["seq_scan"]) or "no") if before else "-"
            print(
                f"| {row['case']} | {row['kind']} | {b_ms} | {row['execution_ms']:.1f}{mark} "
                f"| {b_seq} | {seq} | {row['top_node']} |"
            )
        else:
            print(
                f"| {row['case']} | {row['kind']} | {row['execution_ms']:.1f}{mark} | {seq} "
                f"| {row['top_node']} |"
            )
    failed = [row for row in rows if not row["ok"]]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "database": connection.settings_dict["NAME"],
                "server_version": connection.pg_version,
                "max_ms": args.max_ms,
                "runs": args.runs,
                "big_tables": BIG_TABLES,
                "queries": rows,
                "failed": [f"{row['case']} ({row['kind']})" for row in failed],
            },
            indent=2,
        )
        + "\n"
    )
    print(
        f"\n{len(rows)} queries, {len(failed)} over {args.max_ms:g} ms or seq-scanning a big "
        f"table; written to {args.output}"
    )
    for row in failed:
        print(
            f"  FAIL {row['case']} ({row['kind']}): {row['execution_ms']} ms, "
            f"seq scan: {', '.join(row['seq_scan']) or 'no'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
