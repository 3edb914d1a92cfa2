"""Natural keys: re-importing updates instead of duplicating, writes nothing when nothing
changed, and a sales import keeps stock, ledger and rollups right."""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.services import rollups_rebuild
from customers.models import Customer
from products.models import Category, Product, StockMovement, StockMovementReason
from sales.models import Sale, SaleItem
from tests.dataio import (
    CATEGORY_HEADER,
    CUSTOMER_HEADER,
    ORDER,
    PRODUCT_HEADER,
    SALE_HEADER,
    csv_bytes,
    export_bytes,
    import_bytes,
    ledger_is_balanced,
    rollup_rows,
    row_counts,
)
from tests.factories import make_category, make_customer, make_product

pytestmark = pytest.mark.django_db

MODELS = {"categories": Category, "customers": Customer, "products": Product, "sales": Sale}


def updated_at(table: str) -> dict[int, object]:
    return dict(MODELS[table].objects.values_list("pk", "updated_at"))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_reimporting_the_same_file_changes_nothing(dataset, fmt):
    files = {table: export_bytes(table, fmt) for table in ORDER}
    before = {table: updated_at(table) for table in ORDER}
    counts = row_counts()
    items = sorted(SaleItem.objects.values_list("pk", "sale_id", "product_id", "quantity"))
    for table in ORDER:
        report = import_bytes(table, files[table], fmt)
        assert (report.created, report.updated, report.rejected) == (0, 0, 0), report.summary()
        assert report.unchanged == MODELS[table].objects.count() > 0
        assert updated_at(table) == before[table], table
    assert row_counts() == counts
    assert sorted(SaleItem.objects.values_list("pk", "sale_id", "product_id", "quantity")) == items


def test_a_changed_cell_updates_exactly_that_row(dataset):
    alice, bob = dataset.customers["alice"], dataset.customers["bob"]
    before = updated_at("customers")
    text = export_bytes("customers").decode().replace("Saint-Étienne", "Lyon")
    report = import_bytes("customers", text.encode())
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    alice.refresh_from_db()
    assert alice.city == "Lyon" and alice.name == 'Alice "Al" Martin, Jr.'
    after = updated_at("customers")
    assert after[alice.pk] > before[alice.pk]
    assert after[bob.pk] == before[bob.pk]
    assert Customer.objects.count() == 3


def test_customer_email_matches_whatever_the_letter_case(dataset):
    alice = dataset.customers["alice"]
    data = csv_bytes(
        [["email", "name"], ["ALICE.MARTIN@EXAMPLE.COM", "Alice M."], ["new@example.com", "New"]]
    )
    report = import_bytes("customers", data)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
    alice.refresh_from_db()
    assert alice.name == "Alice M."
    # Columns left out of the file keep their stored values; new rows get the defaults.
    assert alice.segment == Customer.Segment.CORPORATE and alice.country == "FR"
    new = Customer.objects.get(email="new@example.com")
    assert new.segment == Customer.Segment.CONSUMER and new.phone == "" and new.country == ""
    assert Customer.objects.filter(email__iexact="alice.martin@example.com").count() == 1


def test_category_names_match_whatever_the_letter_case(dataset):
    tools = dataset.categories["tools"]
    report = import_bytes(
        "categories", csv_bytes([CATEGORY_HEADER, ["TOOLS, HARDWARE & MORE", 'The "best" tools']])
    )
    assert (report.created, report.updated) == (0, 1)
    assert Category.objects.filter(name__iexact=tools.name).count() == 1
    report = import_bytes(
        "products",
        csv_bytes(
            [["sku", "name", "category", "price"], ["NEW-1", "New", "tools, HARDWARE & more", "1"]]
        ),
    )
    assert report.created == 1
    assert Product.objects.get(sku="NEW-1").category_id == tools.pk


def test_product_without_category_column_keeps_its_category_and_blank_clears_it(dataset):
    hammer = dataset.products["hammer"]
    import_bytes("products", csv_bytes([["sku", "name", "price"], ["HAM-001", "Hammer", "13.00"]]))
    hammer.refresh_from_db()
    assert hammer.category_id == dataset.categories["tools"].pk and hammer.price == Decimal("13.00")
    assert hammer.stock_quantity == 96  # no stock_quantity column: stock untouched
    import_bytes(
        "products",
        csv_bytes([["sku", "name", "category", "price"], ["HAM-001", "Hammer", "", "13.00"]]),
    )
    hammer.refresh_from_db()
    assert hammer.category_id is None


@pytest.mark.embedded
def test_a_sale_whose_lines_changed_is_updated_and_the_others_are_unchanged(dataset):
    hammer, nocat = dataset.products["hammer"], dataset.products["nocat"]
    multi = dataset.sales["multi"]
    others = {
        reference: updated
        for reference, updated in Sale.objects.exclude(pk=multi.pk).values_list(
            "reference", "updated_at"
        )
    }
    stock = dict(Product.objects.values_list("pk", "stock_quantity"))
    movements = StockMovement.objects.count()
    lines = export_bytes("sales").decode().splitlines()
    changed = []
    for line in lines:
        if line.startswith('"S-MULTI, 1"') and ",HAM-001," in line:
            line = line.replace(",HAM-001,3,12.50,", ",HAM-001,4,11.00,")
        if line.startswith('"S-MULTI, 1"') and ",NOCAT-ß," in line:
            continue  # a line removed
        changed.append(line)
    report = import_bytes("sales", ("\r\n".join(changed) + "\r\n").encode())
    assert (report.created, report.updated, report.unchanged) == (0, 1, 3), report.summary()
    multi.refresh_from_db()
    items = sorted(
        SaleItem.objects.filter(sale=multi).values_list("product__sku", "quantity", "unit_price")
    )
    assert items == [("=CMD|' /C calc'!A0", 2, Decimal("0.99")), ("HAM-001", 4, Decimal("11.00"))]
    assert multi.total == Decimal("45.98")
    hammer_item = SaleItem.objects.get(sale=multi, product=hammer)
    assert hammer_item.unit_cost == Decimal("7.25") and hammer_item.line_total == Decimal("44.00")
    assert not SaleItem.objects.filter(sale=multi, product=nocat).exists()
    assert dict(Sale.objects.exclude(pk=multi.pk).values_list("reference", "updated_at")) == others
    # History only: stock and ledger untouched.
    assert dict(Product.objects.values_list("pk", "stock_quantity")) == stock
    assert StockMovement.objects.count() == movements


@pytest.mark.embedded
def test_every_kind_of_line_change_marks_its_sale_and_only_it(dataset):
    """A stored sale is updated when its lines differ from the file's in any way (a line
    added, removed, another product, another quantity, another price), and left alone when
    they are the same in another order (issue 20: the comparison is one set-based join)."""
    when = "2025-03-01T10:00:00Z"
    lines = {
        "SAME": [("HAM-001", "2", "10.00"), ("NOCAT-ß", "1", "5.00")],
        "ADDED": [("HAM-001", "2", "10.00")],
        "REMOVED": [("HAM-001", "2", "10.00"), ("NOCAT-ß", "1", "5.00")],
        "PRODUCT": [("HAM-001", "2", "10.00")],
        "QUANTITY": [("HAM-001", "2", "10.00")],
        "PRICE": [("HAM-001", "2", "10.00")],
    }
    first = [SALE_HEADER] + [
        [f"LC-{name}", when, "", sku, quantity, price, ""]
        for name, rows in lines.items()
        for sku, quantity, price in rows
    ]
    assert import_bytes("sales", csv_bytes(first)).created == len(lines)
    lines["SAME"] = list(reversed(lines["SAME"]))
    lines["ADDED"] = [*lines["ADDED"], ("NOCAT-ß", "1", "5.00")]
    lines["REMOVED"] = lines["REMOVED"][:1]
    lines["PRODUCT"] = [("NOCAT-ß", "2", "10.00")]
    lines["QUANTITY"] = [("HAM-001", "3", "10.00")]
    lines["PRICE"] = [("HAM-001", "2", "10.01")]
    second = [SALE_HEADER] + [
        [f"LC-{name}", when, "", sku, quantity, price, ""]
        for name, rows in lines.items()
        for sku, quantity, price in rows
    ]
    before = dict(Sale.objects.values_list("reference", "updated_at"))
    report = import_bytes("sales", csv_bytes(second))
    assert (report.created, report.updated, report.unchanged) == (0, 5, 1), report.summary()
    after = dict(Sale.objects.values_list("reference", "updated_at"))
    assert sorted(ref for ref in after if after[ref] != before[ref]) == sorted(
        f"LC-{name}" for name in lines if name != "SAME"
    )
    for name, rows in lines.items():
        stored = sorted(
            SaleItem.objects.filter(sale__reference=f"LC-{name}").values_list(
                "product__sku", "quantity", "unit_price"
            )
        )
        assert stored == sorted((sku, int(q), Decimal(p)) for sku, q, p in rows), name
    kept = rollup_rows()
    rollups_rebuild()
    assert rollup_rows() == kept


def test_a_sales_import_keeps_the_rollups_exact(dataset):
    hammer = dataset.products["hammer"]
    data = csv_bytes(
        [
            SALE_HEADER,
            ["IMP-1", "2025-03-01T10:00:00Z", "bob@example.org", "HAM-001", "2", "10.00", ""],
            ["IMP-1", "2025-03-01T10:00:00Z", "bob@example.org", "NOCAT-ß", "1", "5.00", ""],
            ["IMP-2", "2025-03-05T23:30:00-05:00", "", "HAM-001", "1", "12.50", "completed"],
            ["IMP-3", "2025-03-02T10:00:00Z", "", "HAM-001", "7", "12.50", "cancelled"],
        ]
    )
    stock = Product.objects.get(pk=hammer.pk).stock_quantity
    movements = StockMovement.objects.count()
    report = import_bytes("sales", data)
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert Sale.objects.get(reference="IMP-1").total == Decimal("25.00")
    assert Sale.objects.get(reference="IMP-3").status == "cancelled"
    assert Product.objects.get(pk=hammer.pk).stock_quantity == stock
    assert StockMovement.objects.count() == movements
    kept = rollup_rows()
    rollups_rebuild()
    assert rollup_rows() == kept
    # Edit one of them (customer and a line) and cancel another: still exact.
    data = csv_bytes(
        [
            SALE_HEADER,
            ["IMP-1", "2025-03-01T10:00:00Z", "zoe@example.net", "HAM-001", "3", "10.00", ""],
            ["IMP-2", "2025-03-05T23:30:00-05:00", "", "HAM-001", "1", "12.50", "cancelled"],
        ]
    )
    report = import_bytes("sales", data)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 0)
    kept = rollup_rows()
    rollups_rebuild()
    assert rollup_rows() == kept


@pytest.mark.embedded
def test_products_stock_quantity_sets_stock_through_the_ledger(dataset):
    hammer = dataset.products["hammer"]
    data = csv_bytes(
        [
            PRODUCT_HEADER,
            [
                "HAM-001",
                'Hammer 16", steel',
                "Tools, hardware & more",
                "12.50",
                "7.25",
                "40",
                "true",
            ],
            ["NEW-9", "Brand new", "", "2.00", "", "7", ""],
            ["NEW-0", "No stock", "", "2.00", "", "0", ""],
        ]
    )
    report = import_bytes("products", data, source_name="stock.csv")
    assert (report.created, report.updated) == (2, 1)
    hammer.refresh_from_db()
    assert hammer.stock_quantity == 40
    take = StockMovement.objects.filter(product=hammer, reason=StockMovementReason.IMPORT).get()
    assert take.delta == -56 and take.reference == "import stock.csv"
    new = Product.objects.get(sku="NEW-9")
    assert new.stock_quantity == 7 and new.cost == Decimal("0.00") and new.is_active is True
    assert list(StockMovement.objects.filter(product=new).values_list("delta", "reason")) == [
        (7, StockMovementReason.IMPORT)
    ]
    assert not StockMovement.objects.filter(product__sku="NEW-0").exists()
    assert ledger_is_balanced()
    # The same file again: no ledger row, nothing updated.
    movements = StockMovement.objects.count()
    report = import_bytes("products", data)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert StockMovement.objects.count() == movements


@pytest.mark.embedded
def test_category_and_customer_natural_keys_never_duplicate_on_sqlite_or_postgres(db):
    make_category(name="Garden")
    make_customer(email="x@example.com", name="X")
    make_product(sku="P-1")
    for _ in range(2):
        import_bytes("categories", csv_bytes([CATEGORY_HEADER, ["garden", "d"], ["Kitchen", ""]]))
        import_bytes(
            "customers", csv_bytes([CUSTOMER_HEADER, ["X@example.com", "X", "", "", "", ""]])
        )
    assert Category.objects.count() == 2 and Customer.objects.count() == 1


def test_text_that_starts_with_an_apostrophe_survives_the_round_trip(db):
    make_category(name="'=quoted")
    make_category(name="''-twice")
    data = export_bytes("categories")
    Category.objects.all().delete()
    import_bytes("categories", data)
    assert sorted(Category.objects.values_list("name", flat=True)) == ["''-twice", "'=quoted"]
