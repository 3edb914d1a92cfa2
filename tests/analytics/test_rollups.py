"""The rollups: kept exact by the sale services and bulk applies (equal to a rebuild from the
sales tables), rebuildable by command and task, safe under concurrent sales."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from analytics import services
from analytics import sql as rollup_sql
from analytics.models import (
    DailyCategorySales,
    DailyCustomerSales,
    DailyProductSales,
    DailySales,
    MonthlyCustomerSales,
    MonthlyProductSales,
    RollupProductCategory,
)
from analytics.services import rollups_apply_sales, rollups_rebuild
from analytics.tasks import rebuild_rollups_task
from products.services import product_delete
from sales.models import Sale
from sales.services import SaleLine, sale_cancel, sale_create, sale_delete, sale_update
from tests.analytics.conftest import at, build_dataset, figures, lines, select
from tests.factories import ensure_role_groups, make_customer, make_product, make_sale

pytestmark = [pytest.mark.usefixtures("fast_password_hasher")]
MODELS = (
    DailySales,
    DailyProductSales,
    DailyCustomerSales,
    DailyCategorySales,
    MonthlyProductSales,
    MonthlyCustomerSales,
)


def rollup_rows() -> dict:
    """Every rollup row, comparable (Decimals normalised to 2 places)."""
    result = {}
    for model in MODELS:
        keys = [f.attname for f in model._meta.pk_fields]
        result[model.__name__] = sorted(
            (
                tuple(str(row[k]) for k in keys),
                f"{row['revenue']:.2f}",
                f"{row['cost']:.2f}",
                row["units"],
                row["orders"],
            )
            for row in model.objects.values(*keys, "revenue", "cost", "units", "orders")
        )
    return result


@pytest.mark.django_db
@pytest.mark.embedded
def test_services_and_bulk_applies_equal_a_rebuild(local_time_zone):
    data = build_dataset(size=40)
    kept = rollup_rows()
    assert kept["DailySales"], "the rollups are empty"
    assert all(row[4] > 0 for rows in kept.values() for row in rows)  # no zero rows left

    stats = rollups_rebuild()
    assert rollup_rows() == kept
    assert stats.full and stats.date_from == data.first_day and stats.date_to == data.last_day

    middle = data.first_day + timedelta(days=10)
    stats = rollups_rebuild(date_from=middle, date_to=middle + timedelta(days=5))
    assert rollup_rows() == kept
    assert (stats.date_from, stats.date_to) == (date(2025, 3, 1), date(2025, 3, 31))  # months


@pytest.mark.django_db
def test_cancelled_and_deleted_sales_leave_no_rows(local_time_zone):
    product = make_product(price="3.00", cost="1.00")
    customer = make_customer(country="FR")
    sale = make_sale(items=[(product, 2)], customer=customer, sold_at=at(date(2025, 5, 1), 12))
    assert DailyProductSales.objects.get(product=product).orders == 1
    sale_cancel(sale=sale)
    assert [m.objects.count() for m in MODELS] == [0] * len(MODELS)
    sale_delete(sale=sale)
    other = make_sale(items=[(product, 1)], customer=customer)
    sale_delete(sale=other)
    assert [m.objects.count() for m in MODELS] == [0] * len(MODELS)
    product_delete(product=product)  # nothing in the rollups holds it
    assert not RollupProductCategory.objects.filter(product_id=product.pk).exists()


@pytest.mark.django_db
def test_edit_moves_the_sale_between_days_customers_and_products(local_time_zone):
    a, b = make_product(price="10.00"), make_product(price="7.00")
    first, second = make_customer(), make_customer()
    day1, day2 = date(2025, 6, 1), date(2025, 6, 9)
    sale = make_sale(items=[(a, 1)], customer=first, sold_at=at(day1, 23, 30))
    sale_update(
        sale=sale,
        lines=[SaleLine(b.pk, 3)],
        customer_id=second.pk,
        sold_at=at(day2, 0, 15),
    )
    assert list(DailySales.objects.values_list("day", "orders", "units")) == [(day2, 1, 3)]
    assert list(DailyProductSales.objects.values_list("product_id", "revenue")) == [(b.pk, 21)]
    assert list(DailyCustomerSales.objects.values_list("customer_id", flat=True)) == [second.pk]


@pytest.mark.django_db
def test_apply_checks_its_sign_and_ignores_empty_lists():
    with pytest.raises(ValueError, match="sign"):
        rollups_apply_sales(sale_ids=[1], sign=2)
    rollups_apply_sales(sale_ids=[], sign=1)
    rollups_apply_sales(sale_ids=[123456789], sign=1)  # unknown ids contribute nothing
    assert not DailySales.objects.exists()


@pytest.mark.django_db
def test_big_id_lists_are_applied_in_chunks(local_time_zone, monkeypatch):
    monkeypatch.setattr(services, "APPLY_CHUNK", 7)
    data = build_dataset(size=30)
    expected = rollup_rows()
    ids = [sale.pk for sale in data.sales]
    rollups_apply_sales(sale_ids=ids, sign=-1)
    rollups_apply_sales(sale_ids=ids, sign=1)
    assert rollup_rows() == expected


@pytest.mark.django_db
def test_a_recategorised_product_keeps_category_figures_exact(client_for, local_time_zone):
    from tests.factories import make_category

    old, new = make_category(), make_category()
    product = make_product(category=old)
    make_sale(items=[(product, 2)], sold_at=at(date(2025, 7, 1), 10))
    client = client_for("analyst")
    params = {"date_from": "2025-07-01", "date_to": "2025-07-01", "dimension": "category"}

    product.category = new
    product.save(update_fields=["category"])
    body = client.get("/api/analytics/breakdown/", params).json()
    assert body["source"] == "sales"  # the category rollup no longer matches the catalog
    assert [row["key"] for row in body["results"]] == [new.pk]

    rollups_rebuild()
    from analytics.services import analytics_cache_bump

    analytics_cache_bump()
    body = client.get("/api/analytics/breakdown/", params).json()
    assert body["source"] == "rollups"
    assert [row["key"] for row in body["results"]] == [new.pk]


@pytest.mark.django_db
def test_rebuild_repairs_rollups_written_behind_the_services_back(local_time_zone):
    data = build_dataset(size=20)
    expected = rollup_rows()
    DailyProductSales.objects.all().delete()
    DailySales.objects.filter(day=data.first_day).update(orders=999)
    out = StringIO()
    call_command("rebuild_rollups", stdout=out)
    assert rollup_rows() == expected
    assert "Rebuilt the rollups of" in out.getvalue()
    assert "rows corrected" in out.getvalue() and " 0 rows corrected" not in out.getvalue()
    assert rollups_rebuild().fixed == 0  # nothing left to correct

    DailyCustomerSales.objects.all().delete()
    call_command(
        "rebuild_rollups",
        "--from",
        str(data.first_day),
        "--to",
        str(data.last_day),
        stdout=StringIO(),
    )
    assert rollup_rows() == expected


@pytest.mark.django_db
@pytest.mark.embedded
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-13-01"], "--from must be a date"),
        (["--to", "tomorrow"], "--to must be a date"),
        (["--from", "2025-03-02", "--to", "2025-03-01"], "is after --to"),
    ],
)
def test_rebuild_command_refuses_bad_dates(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rebuild_rollups", *args, stdout=StringIO())


@pytest.mark.django_db
def test_rebuild_command_help_explains_itself():
    from analytics.management.commands.rebuild_rollups import Command

    assert "rollups" in Command.help and "--from" in Command.help


@pytest.mark.django_db
def test_rebuild_task(local_time_zone):
    data = build_dataset(size=15)
    expected = rollup_rows()
    DailyCategorySales.objects.all().delete()
    result = rebuild_rollups_task.apply(args=[str(data.first_day), str(data.last_day)]).get()
    assert rollup_rows() == expected
    assert result["date_from"] == str(data.first_day)
    assert rebuild_rollups_task(None, None)["rows"]  # twice is fine, everything
    assert rollup_rows() == expected


@pytest.mark.django_db
def test_seed_demo_rebuilds_the_rollups_and_says_so(client_for):
    out = StringIO()
    call_command(
        "seed_demo", "--sales", "300", "--customers", "20", "--products", "15", "--days", "30",
        "--anchor-date", "2025-04-01", "--no-progress", stdout=out,
    )  # fmt: skip
    assert "analytics rollups rebuilt" in out.getvalue()
    chosen = select(lines(), date(2025, 3, 1), date(2025, 3, 31))
    body = (
        client_for("analyst")
        .get("/api/analytics/summary/", {"date_from": "2025-03-01", "date_to": "2025-03-31"})
        .json()
    )
    assert {k: body["current"][k] for k in figures(chosen)} == figures(chosen)
    assert body["current"]["orders"] > 250


# --- Concurrency (PostgreSQL, real threads and commits) ----------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_concurrent_sales_edits_and_cancels_never_deadlock_and_stay_exact():
    from tests.threads import run_at_once

    ensure_role_groups()
    products = [make_product(price=f"{n + 1}.50", stock=100_000) for n in range(4)]
    customers = [make_customer() for _ in range(3)]
    days = [date(2025, 8, 1), date(2025, 8, 2)]
    seeds = [
        make_sale(items=[(products[n % 4], 1)], customer=customers[n % 3],
                  sold_at=at(days[n % 2], 12))
        for n in range(12)
    ]  # fmt: skip

    def work(index: int):
        if index < 12:  # multi-line sales on the same products and days, opposite orders
            order = products if index % 2 else list(reversed(products))
            return sale_create(
                lines=[SaleLine(p.pk, 1 + index % 3) for p in order],
                customer_id=customers[index % 3].pk,
                sold_at=at(days[index % 2], 9),
            )
        sale = seeds[index - 12]
        if index % 3 == 0:
            return sale_cancel(sale=sale)
        # Move the sale to the other day: two edits in opposite directions at once.
        other = days[1] if index % 2 else days[0]
        return sale_update(sale=sale, sold_at=at(other, 15), lines=[SaleLine(products[0].pk, 2)])

    results = run_at_once(24, work)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    expected = rollup_rows()
    rollups_rebuild()
    assert rollup_rows() == expected
    assert expected["DailySales"]


def test_the_day_lock_order_is_by_day():
    sql, params = rollup_sql.day_locks_sql("s.id = %s", [1], [date(2025, 1, 2)])
    assert "ORDER BY n" in sql and params[-1] == date(2025, 1, 2)


@pytest.mark.django_db
@pytest.mark.embedded
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plans")
def test_rebuild_on_sqlite_never_scans_a_table_once_per_row(local_time_zone):
    """A full rebuild of the demo data (50,000 sales) ran for minutes on SQLite: each rollup
    row was looked up in the recomputed rows by a scan of them (NOT EXISTS against an
    unindexed temporary table), a time growing with the square of the range. Every statement
    of a rebuild reads each table with at most one scan in all (the outer loop); every other
    access is an index search. The plans come from SQLite itself (EXPLAIN QUERY PLAN of each
    statement as it runs)."""
    from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

    data = build_dataset(size=20)
    expected = rollup_rows()
    DailyProductSales.objects.filter(day=data.first_day).delete()  # something to correct
    plans = []

    def explain(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("CREATE", "WITH", "INSERT", "UPDATE", "DELETE")):
            cursor = context["connection"].connection.cursor()
            cursor.execute(
                f"EXPLAIN QUERY PLAN {FORMAT_QMARK_REGEX.sub('?', sql).replace('%%', '%')}",
                params or (),
            )
            plans.append((sql, [row[3] for row in cursor.fetchall()]))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        rollups_rebuild()
        rollups_rebuild(date_from=data.first_day, date_to=data.last_day)
    assert rollup_rows() == expected
    assert any(sql.startswith("DELETE FROM analytics_daily") for sql, _ in plans)
    for sql, plan in plans:
        # A subquery materialized once (MATERIALIZE t) is scanned as a temporary result, not
        # a table: its scan does not count; the table it reads does.
        computed = {step.split()[1] for step in plan if step.startswith("MATERIALIZE ")}
        scans = [s for s in plan if s.startswith("SCAN ") and s.split()[1] not in computed]
        assert len(scans) <= 1, f"{sql}\n{plan}"


def _explained_add(sale_ids: list[int]) -> dict[str, int]:
    """Apply the sales' contribution with the add statement run under EXPLAIN ANALYZE (it
    writes as usual); the rows each kind of rollup INSERT received: ``plain`` or ``upsert``
    (ON CONFLICT DO UPDATE)."""
    plans: list = []

    def explain(execute, sql, params, many, context):
        if "span AS" not in sql:
            return execute(sql, params, many, context)
        result = execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params, many, context)
        plans.append(context["cursor"].fetchone()[0])
        return result

    with connection.execute_wrapper(explain):
        rollups_apply_sales(sale_ids=sale_ids, sign=1)
    assert len(plans) == 1, "one add statement"
    rows = {"plain": 0, "upsert": 0}
    tables = {model._meta.db_table for model in MODELS}

    def walk(node: dict) -> None:
        if node.get("Operation") == "Insert" and node.get("Relation Name") in tables:
            kind = "upsert" if "Conflict Resolution" in node else "plain"
            rows[kind] += sum(child["Actual Rows"] for child in node.get("Plans", []))
        for child in node.get("Plans", []):
            walk(child)

    walk(plans[0][0]["Plan"])
    return rows


@pytest.mark.django_db
def test_rollup_rows_of_new_days_are_inserted_without_on_conflict(local_time_zone):
    """Issue 20: a rollup table holding no row in the contribution's days (or months) gets a
    plain INSERT; one holding some gets INSERT … ON CONFLICT DO UPDATE; the sums are exact
    either way."""
    build_dataset(size=30)
    expected = rollup_rows()
    ids = sorted(Sale.objects.values_list("pk", flat=True))
    rollups_apply_sales(sale_ids=ids, sign=-1)
    assert [m.objects.count() for m in MODELS] == [0] * len(MODELS)

    into_empty = _explained_add(ids)
    assert into_empty["plain"] > 0 and into_empty["upsert"] == 0
    assert rollup_rows() == expected

    again = _explained_add(ids)  # every day held now: added to the rows there
    assert again["upsert"] > 0 and again["plain"] == 0
    rollups_apply_sales(sale_ids=ids, sign=-1)
    assert rollup_rows() == expected
    stats = rollups_rebuild()
    assert stats.fixed == 0
