"""Sales imported with apply_stock (LocalCatalog, the default): through the sale services, so
stock, ledger and oversell rules hold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.services import rollups_rebuild
from products.models import Product, StockMovement, StockMovementReason
from sales.models import Sale, SaleItem, SaleStatus
from tests.dataio import (
    SALE_HEADER,
    csv_bytes,
    database_state,
    import_bytes,
    ledger_is_balanced,
    rollup_rows,
)

pytestmark = pytest.mark.django_db

HEADER = SALE_HEADER[:-1]


def stock(sku: str) -> int:
    return Product.objects.get(sku=sku).stock_quantity


@pytest.mark.embedded
def test_new_sales_take_stock_with_the_files_prices(small):
    data = csv_bytes(
        [
            HEADER,
            ["AS-1", "2025-02-01T10:00:00Z", "bob@example.org", "HAM-001", "3", "9.99"],
            ["AS-1", "2025-02-01T10:00:00Z", "bob@example.org", "NOCAT-ß", "2", "0.00"],
            ["AS-2", "2025-02-02T10:00:00+02:00", "", "HAM-001", "1", "12.50"],
        ]
    )
    report = import_bytes("sales", data, apply_stock=True, source_name="s.csv")
    assert report.ok and (report.created, report.updated, report.rejected) == (2, 0, 0)
    assert stock("HAM-001") == 10 - 1 - 3 - 1 and stock("NOCAT-ß") == 8
    sale = Sale.objects.get(reference="AS-1")
    assert sale.total == Decimal("29.97") and sale.customer == small.customers["bob"]
    assert sorted(SaleItem.objects.filter(sale=sale).values_list("product__sku", "unit_price")) == [
        ("HAM-001", Decimal("9.99")),
        ("NOCAT-ß", Decimal("0.00")),
    ]
    assert sorted(
        StockMovement.objects.filter(reference="AS-1").values_list(
            "product__sku", "delta", "reason"
        )
    ) == [("HAM-001", -3, StockMovementReason.SALE), ("NOCAT-ß", -2, StockMovementReason.SALE)]
    assert Sale.objects.get(reference="AS-2").sold_at.isoformat() == "2025-02-02T08:00:00+00:00"
    assert ledger_is_balanced()
    kept = rollup_rows()
    rollups_rebuild()
    assert rollup_rows() == kept
    # The same file again: unchanged, no stock taken twice.
    again = import_bytes("sales", data, apply_stock=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert stock("HAM-001") == 5


def _oversell_file() -> bytes:
    return csv_bytes(
        [
            HEADER,
            ["OK-1", "2025-02-01T10:00:00Z", "", "NOCAT-ß", "4", "2.00"],
            ["TOO-MANY", "2025-02-01T11:00:00Z", "", "NOCAT-ß", "1", "2.00"],
            ["TOO-MANY", "2025-02-01T11:00:00Z", "", "HAM-001", "10", "12.50"],
            ["OK-2", "2025-02-01T12:00:00Z", "", "HAM-001", "2", "12.50"],
        ]
    )


def test_an_oversell_aborts_the_whole_import(small):
    before = database_state()
    report = import_bytes("sales", _oversell_file(), apply_stock=True)
    assert report.aborted and (report.created, report.updated) == (0, 0)
    assert "Not enough stock for HAM-001 (Hammer): requested 10, available 9" in report.message
    assert report.message.startswith("sale 'TOO-MANY'")
    assert {(error.row, error.column) for error in report.errors} == {
        (3, "reference"),
        (4, "reference"),
    }
    assert "Nothing was written" in report.summary()
    assert database_state() == before
    assert stock("HAM-001") == 9 and stock("NOCAT-ß") == 10


def test_an_oversell_with_skip_leaves_out_only_that_sale(small):
    report = import_bytes("sales", _oversell_file(), apply_stock=True, on_error="skip")
    assert report.ok and (report.created, report.rejected) == (2, 2)
    assert [str(error) for error in report.errors] == [
        "row 3, column reference: sale 'TOO-MANY': Not enough stock for HAM-001 (Hammer): "
        "requested 10, available 9.",
        "row 4, column reference: sale 'TOO-MANY': Not enough stock for HAM-001 (Hammer): "
        "requested 10, available 9.",
    ]
    assert set(Sale.objects.values_list("reference", flat=True)) == {"S-ONE", "OK-1", "OK-2"}
    assert stock("HAM-001") == 7 and stock("NOCAT-ß") == 6
    assert ledger_is_balanced()


def test_a_cancelled_status_cancels_an_existing_sale_and_returns_its_stock(small):
    sale = small.sales["one"]
    hammer = sale.items.get().product
    assert stock("HAM-001") == 9
    row = [
        "S-ONE",
        sale.sold_at.isoformat(),
        "",
        "HAM-001",
        "1",
        str(sale.items.get().unit_price),
        "cancelled",
    ]
    report = import_bytes("sales", csv_bytes([SALE_HEADER, row]), apply_stock=True)
    assert report.ok and (report.created, report.updated, report.unchanged) == (0, 1, 0)
    sale.refresh_from_db()
    assert sale.status == SaleStatus.CANCELLED and sale.cancelled_at is not None
    assert stock("HAM-001") == 10
    assert list(
        StockMovement.objects.filter(
            product=hammer, reason=StockMovementReason.SALE_CANCEL
        ).values_list("delta", "reference")
    ) == [(1, "S-ONE")]
    assert ledger_is_balanced()
    kept = rollup_rows()
    rollups_rebuild()
    assert rollup_rows() == kept


def test_apply_stock_refuses_to_edit_an_existing_sale(small):
    sale = small.sales["one"]
    row = ["S-ONE", sale.sold_at.isoformat(), "", "HAM-001", "2", "12.50"]
    before = database_state()
    report = import_bytes("sales", csv_bytes([HEADER, row]), apply_stock=True)
    assert report.aborted
    assert "with apply-stock, existing sales are not edited" in report.message
    assert database_state() == before


def test_without_apply_stock_an_oversold_file_is_recorded_as_history(small):
    report = import_bytes("sales", _oversell_file())
    assert report.ok and report.created == 3
    assert stock("HAM-001") == 9 and stock("NOCAT-ß") == 10


@pytest.mark.embedded
def test_apply_stock_keeps_sold_at_exact_in_another_time_zone(small, settings):
    settings.TIME_ZONE = "America/New_York"
    data = csv_bytes([HEADER, ["TZ-1", "2025-02-01T10:00:00.250000Z", "", "HAM-001", "1", "1.00"]])
    report = import_bytes("sales", data, apply_stock=True)
    assert report.ok, report.summary()
    sold_at = Sale.objects.get(reference="TZ-1").sold_at
    assert sold_at.isoformat() == "2025-02-01T10:00:00.250000+00:00"
