"""Real concurrency on PostgreSQL: many threads, each with its own database connection, hit the
sale services at the same instant (a ``threading.Barrier``). Stock never oversells, never
deadlocks, and the ledger always sums to the stock."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError

from core.errors import ConflictError
from products.models import Product, StockMovement
from products.services import InsufficientStockError, product_update
from sales.models import Sale, SaleItem, SaleStatus
from sales.services import sale_cancel, sale_create
from tests.factories import make_product, make_sale
from tests.services import assert_ledger_balanced, lines, movements, stock_of
from tests.threads import run_at_once

pytestmark = [
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="needs PostgreSQL (row locks, threads)"),
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def unexpected(results: list[Any], *allowed: type[BaseException]) -> list[BaseException]:
    return [r for r in results if isinstance(r, BaseException) and not isinstance(r, allowed)]


def test_thirty_buyers_for_ten_units_sell_exactly_ten():
    product = make_product(price="9.99", stock=10)

    results = run_at_once(30, lambda i: sale_create(lines=lines((product, 1))))

    assert unexpected(results, InsufficientStockError) == []
    sold = [r for r in results if isinstance(r, Sale)]
    refused = [r for r in results if isinstance(r, InsufficientStockError)]
    assert (len(sold), len(refused)) == (10, 20)
    assert all(error.code == "insufficient_stock" for error in refused)
    assert all(error.requested == 1 and error.available == 0 for error in refused)
    assert stock_of(product) == 0
    assert Sale.objects.count() == 10
    assert SaleItem.objects.filter(product=product).count() == 10
    assert sorted(Sale.objects.values_list("pk", flat=True)) == sorted(s.pk for s in sold)
    assert movements(reason="sale") == [(product.pk, -1, "sale")] * 10
    assert_ledger_balanced()


def test_two_line_sales_in_opposite_orders_never_deadlock():
    a = make_product(price="2.00", stock=1000)
    b = make_product(price="3.00", stock=1000)

    def buy(index: int) -> Sale:
        pairs = [(a, 1), (b, 2)] if index % 2 == 0 else [(b, 2), (a, 1)]
        return sale_create(lines=lines(*pairs))

    results = run_at_once(40, buy)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not any(isinstance(e, OperationalError) for e in errors), errors
    assert not any("deadlock" in str(e).lower() for e in errors), errors
    assert errors == []
    assert all(isinstance(r, Sale) for r in results)
    assert (stock_of(a), stock_of(b)) == (1000 - 40, 1000 - 80)
    assert Sale.objects.count() == 40
    assert set(Sale.objects.values_list("total", flat=True)) == {Decimal("8.00")}
    assert SaleItem.objects.count() == 80
    assert_ledger_balanced()


def test_ten_concurrent_cancels_of_one_sale_return_the_stock_once():
    a = make_product(stock=10)
    b = make_product(stock=10)
    sale = make_sale(items=[(a, 4), (b, 6)])
    assert (stock_of(a), stock_of(b)) == (6, 4)

    results = run_at_once(10, lambda i: sale_cancel(sale=Sale.objects.get(pk=sale.pk)))

    assert unexpected(results, ConflictError) == []
    cancelled = [r for r in results if isinstance(r, Sale)]
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert (len(cancelled), len(conflicts)) == (1, 9)
    assert all(error.code == "sale_cancelled" for error in conflicts)
    assert (stock_of(a), stock_of(b)) == (10, 10)
    assert movements(reason="sale_cancel") == sorted(
        [(a.pk, 4, "sale_cancel"), (b.pk, 6, "sale_cancel")]
    )
    stored = Sale.objects.get(pk=sale.pk)
    assert stored.status == SaleStatus.CANCELLED
    assert stored.cancelled_at is not None
    assert_ledger_balanced()


def test_sales_racing_stock_adjustments_keep_the_ledger_exact():
    product = make_product(stock=50)

    def work(index: int) -> Any:
        if index % 4 == 0:  # 5 adjusters set an absolute figure while 15 buyers take 1 each
            return product_update(
                product=Product.objects.get(pk=product.pk), data={"stock_quantity": 40 + index}
            )
        return sale_create(lines=lines((product, 1)))

    results = run_at_once(20, work)

    assert unexpected(results, InsufficientStockError) == []
    sold = sum(isinstance(r, Sale) for r in results)
    assert sold == Sale.objects.count() == 15  # there is always enough stock here
    adjustments = StockMovement.objects.filter(product=product, reason="adjustment").count()
    assert adjustments <= 5
    assert_ledger_balanced()
    assert 0 <= stock_of(product) <= 80
