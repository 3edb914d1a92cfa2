"""sale_create / sale_update / sale_cancel / sale_delete: rows, stock and ledger, for real."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from core.errors import ApplicationError, ConflictError
from products.models import Product, StockMovement
from products.services import InsufficientStockError, product_update
from sales.models import Sale, SaleItem, SaleStatus
from sales.services import SaleLine, sale_cancel, sale_create, sale_delete, sale_update
from tests.factories import make_customer, make_product, make_sale, make_user
from tests.services import assert_ledger_balanced, lines, movements, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ledger_invariant(db):
    """Whatever a test did, the ledger still sums to the stock afterwards."""
    yield
    assert_ledger_balanced()


def item_rows(sale: Sale) -> list[tuple]:
    """``[(product_id, quantity, unit_price, unit_cost, line_total), ...]`` from the database."""
    return sorted(
        SaleItem.objects.filter(sale_id=sale.pk).values_list(
            "product_id", "quantity", "unit_price", "unit_cost", "line_total"
        )
    )


def db_total(sale: Sale) -> Decimal:
    return Sale.objects.values_list("total", flat=True).get(pk=sale.pk)


def snapshot() -> dict:
    """Everything a failed write must leave exactly as it was."""
    return {
        "sales": sorted(Sale.objects.values_list("pk", "reference", "status", "total")),
        "items": sorted(
            SaleItem.objects.values_list("sale_id", "product_id", "quantity", "line_total")
        ),
        "stock": sorted(Product.objects.values_list("pk", "stock_quantity")),
        "movements": sorted(StockMovement.objects.values_list("pk", "product_id", "delta")),
    }


# --- sale_create ---------------------------------------------------------------------------------


@pytest.mark.embedded
def test_create_merges_lines_of_the_same_product_and_keeps_the_ledger():
    pen = make_product(price="10.00", cost="4.00", stock=100)
    pad = make_product(price="2.50", cost="1.00", stock=50)

    sale = sale_create(lines=lines((pen, 2), (pad, 3), (pen, 4)))

    assert item_rows(sale) == [
        (pen.pk, 6, Decimal("10.00"), Decimal("4.00"), Decimal("60.00")),
        (pad.pk, 3, Decimal("2.50"), Decimal("1.00"), Decimal("7.50")),
    ]
    assert db_total(sale) == Decimal("67.50")
    assert stock_of(pen) == 94
    assert stock_of(pad) == 47
    assert movements(reference=sale.reference) == sorted(
        [(pen.pk, -6, "sale"), (pad.pk, -3, "sale")]
    )
    assert_ledger_balanced()


def test_create_snapshots_price_and_cost_so_a_later_price_change_does_not_alter_the_sale():
    product = make_product(price="19.99", cost="7.25", stock=10)
    sale = sale_create(lines=lines((product, 3)))

    product_update(product=product, data={"price": Decimal("25.00"), "cost": Decimal("9.00")})

    assert item_rows(sale) == [(product.pk, 3, Decimal("19.99"), Decimal("7.25"), Decimal("59.97"))]
    assert db_total(sale) == Decimal("59.97")
    # A new sale takes the new price.
    later = sale_create(lines=lines((product, 1)))
    assert item_rows(later) == [
        (product.pk, 1, Decimal("25.00"), Decimal("9.00"), Decimal("25.00"))
    ]


def test_create_total_is_the_exact_decimal_sum_of_unit_price_times_quantity():
    dime = make_product(price="0.10", stock=10)
    big = make_product(price="1234567.89", stock=10)
    third = make_product(price="0.01", stock=10)

    sale = sale_create(lines=lines((dime, 3), (big, 7), (third, 1)))

    rows = item_rows(sale)
    assert [row[4] for row in rows] == [Decimal("0.30"), Decimal("8641975.23"), Decimal("0.01")]
    for _, quantity, unit_price, _, line_total in rows:
        assert line_total == unit_price * quantity
    summed = SaleItem.objects.filter(sale=sale).aggregate(s=Sum("line_total"))["s"]
    assert db_total(sale) == summed == Decimal("8641975.54")
    assert isinstance(sale.total, Decimal)


def test_create_writes_one_sale_movement_per_product_with_reference_and_actor():
    user = make_user()
    customer = make_customer()
    a = make_product(stock=20)
    b = make_product(stock=20)

    sale = sale_create(lines=lines((a, 5), (b, 1)), customer_id=customer.pk, created_by=user)

    rows = StockMovement.objects.filter(reason="sale").order_by("product_id")
    assert [(m.product_id, m.delta, m.reference, m.actor_id) for m in rows] == [
        (a.pk, -5, sale.reference, user.pk),
        (b.pk, -1, sale.reference, user.pk),
    ]
    stored = Sale.objects.get(pk=sale.pk)
    assert stored.customer_id == customer.pk
    assert stored.created_by_id == user.pk
    assert stored.status == SaleStatus.COMPLETED
    assert stored.cancelled_at is None


def test_create_generates_a_readable_unique_reference():
    product = make_product(stock=10)
    sold_at = timezone.now() - timedelta(days=3)
    first = sale_create(lines=lines((product, 1)), sold_at=sold_at)
    second = sale_create(lines=lines((product, 1)), sold_at=sold_at)

    pattern = re.compile(r"^S-" + sold_at.strftime("%Y%m%d") + r"-[0-9A-HJKMNP-TV-Z]{8}$")
    assert pattern.match(first.reference)
    assert pattern.match(second.reference)
    assert first.reference != second.reference
    assert Sale.objects.get(pk=first.pk).sold_at == sold_at


def test_create_keeps_a_custom_reference_and_refuses_a_duplicate_writing_nothing():
    product = make_product(stock=10)
    sale = sale_create(lines=lines((product, 2)), reference="  INV-2024-001 ")
    assert Sale.objects.get(pk=sale.pk).reference == "INV-2024-001"
    before = snapshot()

    with pytest.raises(ConflictError) as caught:
        sale_create(lines=lines((product, 3)), reference="INV-2024-001")

    assert caught.value.code == "duplicate_reference"
    assert caught.value.status_code == 409
    assert "reference" in caught.value.fields
    assert snapshot() == before
    assert stock_of(product) == 8
    assert Sale.objects.count() == 1
    assert SaleItem.objects.count() == 1


def test_create_refuses_a_reference_longer_than_the_column_writing_nothing():
    product = make_product(stock=10)
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        sale_create(lines=lines((product, 1)), reference="R" * 65)
    assert caught.value.status_code == 400
    assert "reference" in caught.value.fields
    assert snapshot() == before
    assert sale_create(lines=lines((product, 1)), reference="R" * 64).reference == "R" * 64


@pytest.mark.parametrize("inactive", [False, True], ids=["unknown", "inactive"])
def test_create_refuses_an_unknown_or_inactive_product_naming_the_line(inactive):
    good = make_product(stock=10)
    if inactive:
        bad = make_product(stock=10, is_active=False)
        bad_id = bad.pk
    else:
        bad_id = good.pk + 10_000
    before = snapshot()

    with pytest.raises(ApplicationError) as caught:
        sale_create(
            lines=[
                SaleLine(product_id=good.pk, quantity=1),
                SaleLine(product_id=good.pk, quantity=1),
                SaleLine(product_id=bad_id, quantity=1),
            ]
        )

    error = caught.value
    assert error.code == "invalid_product"
    assert error.status_code == 400
    items = error.fields["items"]
    assert items[0] == {} and items[1] == {}
    assert "product" in items[2]
    assert ("not active" in items[2]["product"][0]) is inactive
    assert "3" in error.message
    assert snapshot() == before
    assert stock_of(good) == 10


def test_create_refuses_an_unknown_customer_writing_nothing():
    product = make_product(stock=10)
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        sale_create(lines=lines((product, 1)), customer_id=987654)
    assert "customer" in caught.value.fields
    assert caught.value.status_code == 400
    assert snapshot() == before


def test_create_refuses_a_sale_without_lines():
    with pytest.raises(ApplicationError) as caught:
        sale_create(lines=[])
    assert "items" in caught.value.fields
    assert Sale.objects.count() == 0


@pytest.mark.parametrize("quantity", [0, -1, -50])
def test_create_refuses_a_non_positive_quantity_naming_the_line(quantity):
    a = make_product(stock=10)
    b = make_product(stock=10)
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        sale_create(lines=lines((a, 1), (b, quantity)))
    items = caught.value.fields["items"]
    assert items[0] == {}
    assert "quantity" in items[1]
    assert snapshot() == before


@pytest.mark.embedded
def test_create_insufficient_stock_on_the_second_of_three_lines_writes_nothing():
    first = make_product(stock=10)
    second = make_product(stock=2)
    third = make_product(stock=10)
    assert first.pk < second.pk < third.pk  # the first line's stock is taken before the failure

    with pytest.raises(InsufficientStockError) as caught:
        sale_create(lines=lines((first, 5), (second, 3), (third, 1)), reference="WILL-FAIL")

    error = caught.value
    assert error.code == "insufficient_stock"
    assert error.status_code == 409
    assert (error.requested, error.available) == (3, 2)
    assert error.extra["requested"] == 3
    assert error.extra["available"] == 2
    assert error.extra["product"] == second.pk
    assert Sale.objects.count() == 0
    assert SaleItem.objects.count() == 0
    assert (stock_of(first), stock_of(second), stock_of(third)) == (10, 2, 10)
    assert movements(reason="sale") == []
    assert movements(reference="WILL-FAIL") == []
    assert_ledger_balanced()


def test_create_checks_stock_against_the_merged_quantity():
    product = make_product(stock=3)
    with pytest.raises(InsufficientStockError) as caught:
        sale_create(lines=lines((product, 2), (product, 2)))
    assert (caught.value.requested, caught.value.available) == (4, 3)
    assert stock_of(product) == 3
    # Exactly the stock is fine and leaves zero.
    sale_create(lines=lines((product, 1), (product, 2)))
    assert stock_of(product) == 0


# --- sale_update ---------------------------------------------------------------------------------


@pytest.fixture
def edit_setup():
    """A sale of pen x5 @10.00 and pad x4 @5.00 (stock 100 each before), then price rises."""
    pen = make_product(price="10.00", cost="6.00", stock=100)
    pad = make_product(price="5.00", cost="2.00", stock=100)
    ink = make_product(price="3.00", cost="1.00", stock=100)
    sale = make_sale(items=[(pen, 5), (pad, 4)])
    assert db_total(sale) == Decimal("70.00")
    for product, price in ((pen, "12.00"), (pad, "6.00"), (ink, "3.50")):
        product_update(product=product, data={"price": Decimal(price)})
    return sale, pen, pad, ink


def test_update_quantities_up_and_down_moves_stock_by_the_difference(edit_setup):
    sale, pen, pad, _ = edit_setup

    sale_update(sale=sale, lines=lines((pen, 8), (pad, 1)))

    assert (stock_of(pen), stock_of(pad)) == (92, 99)
    assert movements(reference=sale.reference, reason="sale_edit") == sorted(
        [(pen.pk, -3, "sale_edit"), (pad.pk, 3, "sale_edit")]
    )
    # Kept lines keep their original price snapshot although the product price changed.
    assert item_rows(sale) == [
        (pen.pk, 8, Decimal("10.00"), Decimal("6.00"), Decimal("80.00")),
        (pad.pk, 1, Decimal("5.00"), Decimal("2.00"), Decimal("5.00")),
    ]
    assert db_total(sale) == Decimal("85.00")


def test_update_adds_and_removes_products(edit_setup):
    sale, pen, pad, ink = edit_setup

    updated = sale_update(sale=sale, lines=lines((pen, 5), (ink, 1), (ink, 1)))

    # pad removed: all 4 back; ink added: 2 out at today's price; pen unchanged: no movement.
    assert (stock_of(pen), stock_of(pad), stock_of(ink)) == (95, 100, 98)
    assert movements(reference=sale.reference, reason="sale_edit") == sorted(
        [(pad.pk, 4, "sale_edit"), (ink.pk, -2, "sale_edit")]
    )
    assert item_rows(sale) == [
        (pen.pk, 5, Decimal("10.00"), Decimal("6.00"), Decimal("50.00")),
        (ink.pk, 2, Decimal("3.50"), Decimal("1.00"), Decimal("7.00")),
    ]
    assert db_total(sale) == Decimal("57.00")
    assert updated.total == Decimal("57.00")


def test_update_with_identical_lines_moves_nothing(edit_setup):
    sale, pen, pad, _ = edit_setup
    sale_update(sale=sale, lines=lines((pad, 4), (pen, 5)))
    assert movements(reason="sale_edit") == []
    assert db_total(sale) == Decimal("70.00")


def test_update_customer_and_sold_at_only_leaves_items_and_stock(edit_setup):
    sale, pen, pad, _ = edit_setup
    customer = make_customer()
    when = timezone.now() - timedelta(days=10)

    sale_update(sale=sale, customer_id=customer.pk, sold_at=when)

    stored = Sale.objects.get(pk=sale.pk)
    assert (stored.customer_id, stored.sold_at) == (customer.pk, when)
    assert (stock_of(pen), stock_of(pad)) == (95, 96)
    assert movements(reason="sale_edit") == []
    assert db_total(sale) == Decimal("70.00")


def test_update_that_would_oversell_changes_nothing(edit_setup):
    sale, pen, pad, ink = edit_setup
    product_update(product=ink, data={"stock_quantity": 1})
    before = snapshot()
    sale_before = Sale.objects.values().get(pk=sale.pk)

    # pen goes down first (lower id, stock back), then ink cannot cover 5.
    with pytest.raises(InsufficientStockError) as caught:
        sale_update(sale=sale, lines=lines((pen, 2), (pad, 4), (ink, 5)))

    assert (caught.value.requested, caught.value.available) == (5, 1)
    assert snapshot() == before
    assert Sale.objects.values().get(pk=sale.pk) == sale_before
    assert (stock_of(pen), stock_of(pad), stock_of(ink)) == (95, 96, 1)
    assert item_rows(sale) == [
        (pen.pk, 5, Decimal("10.00"), Decimal("6.00"), Decimal("50.00")),
        (pad.pk, 4, Decimal("5.00"), Decimal("2.00"), Decimal("20.00")),
    ]
    assert movements(reason="sale_edit") == []


def test_update_raising_a_kept_line_beyond_stock_changes_nothing(edit_setup):
    sale, pen, pad, _ = edit_setup
    before = snapshot()
    with pytest.raises(InsufficientStockError) as caught:
        sale_update(sale=sale, lines=lines((pen, 5), (pad, 101)))
    # 96 on the shelf plus the 4 already in the sale.
    assert (caught.value.requested, caught.value.available) == (97, 96)
    assert snapshot() == before
    # Exactly everything is possible.
    sale_update(sale=sale, lines=lines((pen, 5), (pad, 100)))
    assert stock_of(pad) == 0


def test_update_refuses_an_inactive_new_product_naming_the_line(edit_setup):
    sale, pen, pad, ink = edit_setup
    product_update(product=ink, data={"is_active": False})
    before = snapshot()
    with pytest.raises(ApplicationError) as caught:
        sale_update(sale=sale, lines=lines((pen, 5), (pad, 4), (ink, 1)))
    assert caught.value.code == "invalid_product"
    assert "product" in caught.value.fields["items"][2]
    assert snapshot() == before


def test_update_of_a_cancelled_sale_is_a_conflict(edit_setup):
    sale, pen, pad, _ = edit_setup
    sale_cancel(sale=sale)
    before = snapshot()
    with pytest.raises(ConflictError) as caught:
        sale_update(sale=sale, lines=lines((pen, 1)))
    assert caught.value.code == "sale_cancelled"
    assert snapshot() == before
    assert (stock_of(pen), stock_of(pad)) == (100, 100)


# --- sale_cancel ---------------------------------------------------------------------------------


def test_cancel_returns_all_stock_and_keeps_the_record():
    a = make_product(stock=10)
    b = make_product(stock=10)
    user = make_user()
    sale = make_sale(items=[(a, 3), (b, 7)])

    cancelled = sale_cancel(sale=sale, actor=user)

    assert (stock_of(a), stock_of(b)) == (10, 10)
    rows = StockMovement.objects.filter(reason="sale_cancel").order_by("product_id")
    assert [(m.product_id, m.delta, m.reference, m.actor_id) for m in rows] == [
        (a.pk, 3, sale.reference, user.pk),
        (b.pk, 7, sale.reference, user.pk),
    ]
    stored = Sale.objects.get(pk=sale.pk)
    assert stored.status == SaleStatus.CANCELLED == cancelled.status
    assert stored.cancelled_at is not None
    assert SaleItem.objects.filter(sale=sale).count() == 2  # the ledger record stays


def test_cancel_twice_is_a_conflict_and_never_returns_stock_twice():
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 4)])
    sale_cancel(sale=sale)
    assert stock_of(product) == 10

    with pytest.raises(ConflictError) as caught:
        sale_cancel(sale=sale)  # the caller's instance still says "completed"

    assert caught.value.code == "sale_cancelled"
    assert stock_of(product) == 10
    assert movements(reason="sale_cancel") == [(product.pk, 4, "sale_cancel")]


def test_cancel_after_an_edit_returns_the_edited_quantities():
    a = make_product(stock=10)
    b = make_product(stock=10)
    sale = make_sale(items=[(a, 2)])
    sale_update(sale=sale, lines=lines((a, 5), (b, 1)))
    assert (stock_of(a), stock_of(b)) == (5, 9)
    sale_cancel(sale=sale)
    assert (stock_of(a), stock_of(b)) == (10, 10)


# --- sale_delete ---------------------------------------------------------------------------------


def test_delete_of_a_completed_sale_restores_stock_then_deletes():
    a = make_product(stock=10)
    b = make_product(stock=10)
    sale = make_sale(items=[(a, 3), (b, 1)])

    sale_delete(sale=sale)

    assert not Sale.objects.filter(pk=sale.pk).exists()
    assert SaleItem.objects.count() == 0
    assert (stock_of(a), stock_of(b)) == (10, 10)
    assert movements(reference=sale.reference, reason="sale_cancel") == sorted(
        [(a.pk, 3, "sale_cancel"), (b.pk, 1, "sale_cancel")]
    )


def test_delete_of_a_cancelled_sale_does_not_restock_again():
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 6)])
    sale_cancel(sale=sale)
    assert stock_of(product) == 10

    sale_delete(sale=sale)

    assert not Sale.objects.filter(pk=sale.pk).exists()
    assert stock_of(product) == 10
    assert movements(reason="sale_cancel") == [(product.pk, 6, "sale_cancel")]


# --- Database constraints (even when code bypasses the services) -------------------------------


def _violates(callable_) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_the_database_refuses_invalid_sale_items():
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 1)])
    base = {"sale": sale, "product": product, "unit_price": Decimal("1.00")}

    _violates(lambda: SaleItem.objects.create(**base, quantity=0, line_total=Decimal("0")))
    _violates(lambda: SaleItem.objects.filter(sale=sale).update(unit_price=Decimal("-0.01")))
    _violates(lambda: SaleItem.objects.filter(sale=sale).update(line_total=Decimal("-1.00")))
    # One line per product in a sale.
    _violates(lambda: SaleItem.objects.create(**base, quantity=1, line_total=Decimal("1.00")))
    assert item_rows(sale)[0][1] == 1


def test_the_database_refuses_an_inconsistent_sale_status():
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 1)])
    _violates(lambda: Sale.objects.filter(pk=sale.pk).update(status=SaleStatus.CANCELLED))
    _violates(lambda: Sale.objects.filter(pk=sale.pk).update(status="refunded"))
    _violates(lambda: Sale.objects.filter(pk=sale.pk).update(total=Decimal("-1")))
    _violates(lambda: Sale.objects.create(reference=sale.reference, total=Decimal("0")))
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.COMPLETED
