"""Planner statistics after an import (issue 20): the tables a load changed by more than
IMPORT_ANALYZE_PERCENT % of their rows are ANALYZEd before the import reports done."""

from __future__ import annotations

import pytest
from django.db import connection

from products.models import Product
from sales.models import Sale, SaleItem
from tests.dataio import SALE_HEADER, csv_bytes, import_bytes
from tests.factories import make_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def sales_file(first: int, count: int, sku: str) -> bytes:
    rows: list[list[str]] = [SALE_HEADER]
    for n in range(first, first + count):
        day = 1 + n % 28
        rows.append([f"ST-{n}", f"2025-02-{day:02d}T10:00:00Z", "", sku, "2", "3.50", ""])
        rows.append([f"ST-{n}", f"2025-02-{day:02d}T10:00:00Z", "", f"{sku}-B", "1", "1.00", ""])
    return csv_bytes(rows)


def reltuples(model) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def fresh_statistics(db):
    """ANALYZE of the empty tables: an earlier test's import may have left (in place, not rolled
    back with its transaction) the size of the table it saw."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Sale._meta.db_table}, {SaleItem._meta.db_table}")


def test_a_load_that_changes_a_table_much_analyzes_it_before_it_reports_done(db, settings):
    settings.IMPORT_ANALYZE_PERCENT = 10
    make_product(sku="STAT-1")
    make_product(sku="STAT-1-B")
    report = import_bytes("sales", sales_file(1, 40, "STAT-1"))
    assert report.ok and report.created == 40
    # The planner knows the new sizes at once (autovacuum may come much later, or never).
    assert reltuples(Sale) == Sale.objects.count() == 40
    assert reltuples(SaleItem) == SaleItem.objects.count() == 80
    assert {f"public.{Sale._meta.db_table}", f"public.{SaleItem._meta.db_table}"} <= set(
        report.analyzed
    )
    assert f"public.{Product._meta.db_table}" not in report.analyzed  # read, not changed
    assert "ANALYZE of" in report.summary()


def test_a_small_load_into_a_big_table_leaves_its_statistics_alone(db, settings):
    settings.IMPORT_ANALYZE_PERCENT = 10
    make_product(sku="STAT-2")
    make_product(sku="STAT-2-B")
    assert import_bytes("sales", sales_file(1, 50, "STAT-2")).ok  # analyzed: 50 sales
    settings.IMPORT_ANALYZE_PERCENT = 100
    report = import_bytes("sales", sales_file(100, 3, "STAT-2"))
    assert report.ok and report.created == 3
    assert f"public.{Sale._meta.db_table}" not in report.analyzed  # 3 of 50 rows: under 100 %
    assert reltuples(Sale) == 50  # the statistics of the table as it was
    assert Sale.objects.count() == 53


def test_a_dry_run_or_an_aborted_import_analyzes_nothing(db, settings):
    settings.IMPORT_ANALYZE_PERCENT = 0
    make_product(sku="STAT-3")
    make_product(sku="STAT-3-B")
    report = import_bytes("sales", sales_file(1, 5, "STAT-3"), dry_run=True)
    assert report.ok and report.analyzed == []
    bad = sales_file(1, 5, "STAT-3").replace(b"3.50", b"x")
    report = import_bytes("sales", bad)
    assert report.aborted and report.analyzed == []


def test_the_sales_imports_working_tables_have_statistics_before_the_big_joins(db):
    """The per-sku, per-email and per-sale temporary tables are ANALYZEd once built (issue
    20): without statistics the planner hashed the million joined lines of the reference
    import and probed them with its 500 skus, and counted each stored sale's lines with an
    index probe per sale."""
    make_product(sku="STAT-4")
    make_product(sku="STAT-4-B")
    seen: dict[str, float] = {}

    def look(execute, sql, params, many, context):
        if sql.lstrip().startswith(f'INSERT INTO "{SaleItem._meta.db_table}"'):
            context["cursor"].execute(
                "SELECT regexp_replace(relname, '^import_stage_[0-9]+', ''), reltuples "
                "FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relkind = 'r' "
                "AND relname LIKE 'import_stage_%%'"
            )
            seen.update(context["cursor"].fetchall())
        return execute(sql, params, many, context)

    with connection.execute_wrapper(look):
        report = import_bytes("sales", sales_file(1, 30, "STAT-4"))
    assert report.ok and report.created == 30
    assert {name: seen.get(name) for name in ("_sku", "_email", "_sale")} == {
        "_sku": 2,
        "_email": 0,
        "_sale": 30,
    }
