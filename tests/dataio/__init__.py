"""Tests of the import/export engine (core.dataio) and its commands, against the real
database: files are built as bytes, imported through the services, and the tables are read back.

Helpers shared by these tests live here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from django.db import connection

from analytics import sql as rollup_sql
from analytics.models import RollupProductCategory
from core.dataio.importer import ImportOptions, ImportReport
from core.dataio.services import data_export, data_import
from customers.models import Customer
from products.models import Category, Product, StockMovement
from sales.models import Sale, SaleItem

ORDER = ("categories", "customers", "products", "sales")

CUSTOMER_HEADER = ["email", "name", "phone", "city", "country", "segment"]
CATEGORY_HEADER = ["name", "description"]
PRODUCT_HEADER = ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"]
SALE_HEADER = ["reference", "sold_at", "customer_email", "sku", "quantity", "unit_price", "status"]


def export_bytes(table: str, fmt: str = "csv", queryset=None) -> bytes:
    return b"".join(data_export(table=table, fmt=fmt, queryset=queryset))


def import_bytes(table: str, data: bytes, fmt: str = "csv", **options: Any) -> ImportReport:
    return data_import(
        table=table, source=io.BytesIO(data), fmt=fmt, options=ImportOptions(**options)
    )


def csv_bytes(rows: Sequence[Sequence[Any]], delimiter: str = ",") -> bytes:
    """Rows (the header first) as a UTF-8 CSV file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def xlsx_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_values(data: bytes) -> list[tuple]:
    """The cell values of an XLSX file's first sheet (zip timestamps differ between exports)."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return [tuple(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def comparable(data: bytes, fmt: str):
    return xlsx_values(data) if fmt == "xlsx" else data


def row_counts() -> dict[str, int]:
    """Rows in every table an import may write."""
    return {
        "categories": Category.objects.count(),
        "customers": Customer.objects.count(),
        "products": Product.objects.count(),
        "sales": Sale.objects.count(),
        "items": SaleItem.objects.count(),
        "movements": StockMovement.objects.count(),
    }


def database_state() -> dict[str, list]:
    """Everything an aborted import must leave exactly as it was (values, not only counts)."""
    return {
        "categories": sorted(
            Category.objects.values_list("pk", "name", "description", "updated_at")
        ),
        "customers": sorted(
            Customer.objects.values_list("pk", "email", "name", "segment", "updated_at")
        ),
        "products": sorted(
            Product.objects.values_list(
                "pk", "sku", "name", "price", "stock_quantity", "category_id", "updated_at"
            )
        ),
        "sales": sorted(
            Sale.objects.values_list("pk", "reference", "status", "total", "customer_id")
        ),
        "items": sorted(SaleItem.objects.values_list("sale_id", "product_id", "quantity")),
        "movements": sorted(StockMovement.objects.values_list("pk", "product_id", "delta")),
    }


def wipe_all() -> None:
    """Delete every imported table's rows, in foreign-key order (rollups included)."""
    with connection.cursor() as cursor:
        for table in rollup_sql.ROLLUP_TABLES:
            cursor.execute(f"DELETE FROM {table}")
    RollupProductCategory.objects.all().delete()
    SaleItem.objects.all().delete()
    Sale.objects.all().delete()
    StockMovement.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.all().delete()
    Customer.objects.all().delete()


def rollup_rows() -> dict[str, list[tuple]]:
    """Every rollup table's rows, sorted."""
    result = {}
    with connection.cursor() as cursor:
        for table in rollup_sql.ROLLUP_TABLES:
            cursor.execute(f"SELECT * FROM {table}")
            result[table] = sorted(tuple(str(value) for value in row) for row in cursor.fetchall())
    return result


def ledger_is_balanced() -> bool:
    from django.db.models import Sum

    sums = dict(
        StockMovement.objects.values("product_id")
        .annotate(total=Sum("delta"))
        .values_list("product_id", "total")
    )
    return all(
        sums.get(pk, 0) == stock
        for pk, stock in Product.objects.values_list("pk", "stock_quantity")
    )


def messages(report: ImportReport) -> list[str]:
    return [str(error) for error in report.errors]
