"""Product, category and stock services: the ledger, and the constraints the database enforces."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import ApplicationError, ConflictError
from products.models import Category, Product, StockMovement
from products.selectors import stock_ledger_balance
from products.services import (
    InsufficientStockError,
    category_create,
    category_update,
    product_create,
    product_delete,
    product_update,
    stock_change,
)
from sales.services import sale_cancel
from tests.factories import make_category, make_product, make_sale, make_user
from tests.services import assert_ledger_balanced, movements, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _ledger_invariant(db):
    yield
    assert_ledger_balanced()


def _violates(callable_) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


# --- product_create ------------------------------------------------------------------------------


def test_create_with_opening_stock_writes_a_restock_movement():
    user = make_user()
    category = make_category(name="Stationery")

    product = product_create(
        sku=" PEN-001 ",
        name="Blue pen",
        price=Decimal("1.20"),
        cost=Decimal("0.40"),
        category=category,
        stock_quantity=25,
        actor=user,
    )

    stored = Product.objects.get(pk=product.pk)
    assert (stored.sku, stored.stock_quantity, stored.price, stored.cost) == (
        "PEN-001",
        25,
        Decimal("1.20"),
        Decimal("0.40"),
    )
    assert product.stock_quantity == 25
    movement = StockMovement.objects.get(product=product)
    assert (movement.delta, movement.reason, movement.reference, movement.actor_id) == (
        25,
        "restock",
        "opening stock",
        user.pk,
    )
    assert stock_ledger_balance(product_id=product.pk) == 25


def test_create_without_stock_writes_no_movement():
    product = product_create(sku="ZERO", name="Nothing yet", price=Decimal("3.00"))
    assert stock_of(product) == 0
    assert movements() == []


def test_create_with_negative_opening_stock_is_a_validation_error_not_a_stock_conflict():
    with pytest.raises(ApplicationError) as caught:
        product_create(sku="NEG-STOCK", name="Negative", price=Decimal("1"), stock_quantity=-5)
    assert not isinstance(caught.value, InsufficientStockError)
    assert caught.value.status_code == 400
    assert "stock_quantity" in caught.value.fields
    assert Product.objects.count() == 0
    assert movements() == []


def test_create_with_a_duplicate_sku_is_a_validation_error_and_writes_nothing():
    make_product(sku="DUP-1", stock=5)
    with pytest.raises(ValidationError) as caught:
        product_create(sku="DUP-1", name="Again", price=Decimal("1.00"), stock_quantity=9)
    assert "sku" in caught.value.message_dict
    assert Product.objects.count() == 1
    assert movements() == [(Product.objects.get().pk, 5, "restock")]


def test_create_with_a_negative_price_is_a_validation_error():
    with pytest.raises(ValidationError):
        product_create(sku="NEG", name="Negative", price=Decimal("-1.00"))
    assert Product.objects.count() == 0


# --- product_update ------------------------------------------------------------------------------


def test_update_of_stock_quantity_writes_an_adjustment_of_the_difference():
    product = make_product(stock=25)

    product_update(product=product, data={"stock_quantity": 40, "price": Decimal("11.00")})
    assert stock_of(product) == 40
    product_update(product=product, data={"stock_quantity": 10})
    assert stock_of(product) == 10
    product_update(product=product, data={"stock_quantity": 10})  # same figure: no movement

    assert Product.objects.get(pk=product.pk).price == Decimal("11.00")
    assert list(
        StockMovement.objects.filter(product=product).order_by("id").values_list("delta", "reason")
    ) == [(25, "restock"), (15, "adjustment"), (-30, "adjustment")]


def test_update_of_stock_uses_the_current_figure_not_a_stale_instance():
    product = make_product(stock=100)
    stale = Product.objects.get(pk=product.pk)  # says 100
    make_sale(items=[(product, 30)])  # now 70 in the database

    product_update(product=stale, data={"stock_quantity": 80})

    assert stock_of(product) == 80
    assert stale.stock_quantity == 80
    assert movements(reason="adjustment") == [(product.pk, 10, "adjustment")]


def test_update_to_negative_stock_is_refused_and_changes_nothing():
    product = make_product(price="10.00", stock=5)
    with pytest.raises(ApplicationError) as caught:
        product_update(product=product, data={"stock_quantity": -1, "price": Decimal("99.00")})
    assert "stock_quantity" in caught.value.fields
    stored = Product.objects.get(pk=product.pk)
    assert (stored.stock_quantity, stored.price) == (5, Decimal("10.00"))
    assert movements(reason="adjustment") == []


def test_update_ignores_fields_that_are_not_editable():
    product = make_product(stock=5)
    product_update(product=product, data={"name": "Renamed", "created_at": None})
    assert Product.objects.get(pk=product.pk).name == "Renamed"
    assert stock_of(product) == 5


# --- product_delete ------------------------------------------------------------------------------


def test_delete_of_a_sold_product_is_a_conflict():
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 1)])
    sale_cancel(sale=sale)  # even a cancelled sale keeps the product referenced

    with pytest.raises(ConflictError) as caught:
        product_delete(product=product)

    assert caught.value.code == "protected"
    assert caught.value.status_code == 409
    assert Product.objects.filter(pk=product.pk).exists()
    assert stock_ledger_balance(product_id=product.pk) == 10


def test_delete_of_a_never_sold_product_removes_it_and_its_ledger():
    product = make_product(stock=10)
    product_update(product=product, data={"stock_quantity": 3})
    kept = make_product(stock=4)

    product_delete(product=product)

    assert not Product.objects.filter(pk=product.pk).exists()
    assert movements() == [(kept.pk, 4, "restock")]


# --- stock_change --------------------------------------------------------------------------------


def test_stock_change_is_all_or_nothing_across_products():
    a = make_product(stock=10)
    b = make_product(stock=1)
    with pytest.raises(InsufficientStockError):
        stock_change(deltas={b.pk: -2, a.pk: -5}, reason="adjustment")
    assert (stock_of(a), stock_of(b)) == (10, 1)
    assert movements(reason="adjustment") == []


def test_stock_change_of_an_unknown_product_is_an_application_error():
    with pytest.raises(ApplicationError) as caught:
        stock_change(deltas={424242: 3}, reason="restock")
    assert caught.value.code == "unknown_product"
    assert movements() == []


def test_stock_change_ignores_zero_deltas():
    product = make_product(stock=2)
    stock_change(deltas={product.pk: 0}, reason="adjustment")
    assert movements(reason="adjustment") == []


# --- Categories ----------------------------------------------------------------------------------


def test_category_create_refuses_the_same_name_in_another_case():
    category_create(name="Office Supplies")
    with pytest.raises(ValidationError) as caught:
        category_create(name="  office supplies ")
    assert "name" in caught.value.message_dict
    assert Category.objects.count() == 1


def test_category_update_refuses_a_name_taken_in_another_case():
    category_create(name="Books")
    other = category_create(name="Music")
    with pytest.raises(ValidationError):
        category_update(category=other, data={"name": "BOOKS"})
    assert Category.objects.get(pk=other.pk).name == "Music"
    category_update(category=other, data={"name": "MUSIC"})  # its own name in another case
    assert Category.objects.get(pk=other.pk).name == "MUSIC"


# --- Database constraints (even when code bypasses the services) -------------------------------


def test_the_database_refuses_negative_stock_even_without_services():
    product = make_product(stock=3)
    _violates(lambda: Product.objects.filter(pk=product.pk).update(stock_quantity=-1))
    assert stock_of(product) == 3


def test_the_database_refuses_negative_prices_and_costs():
    product = make_product(stock=3)
    _violates(lambda: Product.objects.filter(pk=product.pk).update(price=Decimal("-0.01")))
    _violates(lambda: Product.objects.filter(pk=product.pk).update(cost=Decimal("-5")))
    _violates(lambda: Product.objects.create(sku="RAW", name="Raw", price=Decimal("-1"), cost=0))
    assert Product.objects.get(pk=product.pk).price == Decimal("10.00")


def test_the_database_refuses_a_duplicate_sku():
    make_product(sku="ONE", stock=0)
    _violates(lambda: Product.objects.create(sku="ONE", name="Copy", price=Decimal("1")))


def test_the_database_refuses_a_category_name_in_another_case():
    Category.objects.create(name="Garden")
    _violates(lambda: Category.objects.create(name="GARDEN"))
    assert Category.objects.count() == 1


def test_the_database_refuses_invalid_stock_movements():
    product = make_product(stock=3)
    _violates(lambda: StockMovement.objects.create(product=product, delta=0, reason="restock"))
    _violates(lambda: StockMovement.objects.create(product=product, delta=1, reason="gift"))


def test_with_the_http_catalog_local_products_and_stock_are_read_only_mirrors(settings):
    from core.errors import ConflictError
    from products.services import product_create, stock_set

    product = make_product(stock=5)
    settings.CATALOG_BACKEND = "http"
    with pytest.raises(ConflictError) as caught:
        product_create(sku="NEW", name="New", price=Decimal("1.00"))
    assert caught.value.code == "catalog_is_remote"
    with pytest.raises(ConflictError):
        stock_set(product=product, stock_quantity=9)
    assert Product.objects.get(pk=product.pk).stock_quantity == 5
