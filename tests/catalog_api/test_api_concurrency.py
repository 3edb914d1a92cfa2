"""Real concurrency through the whole stack (URL routing, DRF views, serializers, services) on
PostgreSQL: many threads, each with its own API client and database connection, released at the
same instant by a barrier. Stock never oversells, nothing deadlocks or answers 500, and the
ledger always sums to the stock."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from products.models import StockMovement
from sales.models import Sale, SaleItem
from tests.catalog_api import (
    assert_ledger_balanced,
    exceptions_in,
    key_header,
    movements,
    purchase_url,
    restock_url,
    sale_body,
    stock_of,
)
from tests.factories import ensure_role_groups, make_api_key, make_product, make_sale, make_user
from tests.threads import run_at_once

pytestmark = [
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="needs PostgreSQL (row locks, threads)"),
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

SALES_URL = "/api/sales/"


@pytest.fixture
def seller(fast_password_hasher):
    ensure_role_groups()  # an earlier transactional test's flush may have removed them
    return make_user(role="sales")


def client_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def statuses(results) -> list[int]:
    return sorted(result.status_code for result in results)


# --- The catalog contract: POST /api/products/{id}/purchase/ ------------------------------------


def test_fifty_concurrent_purchases_of_the_last_ten_units_sell_exactly_ten():
    api_key, full_key = make_api_key(name="remote-sales")
    product = make_product(stock=25)
    make_sale(items=[(product, 15)])  # the last 10 units are left
    headers = key_header(full_key)

    def buy(index: int):
        return APIClient().post(purchase_url(product.pk), {"quantity": 1}, format="json", **headers)

    results = run_at_once(50, buy)

    assert exceptions_in(results) == []
    assert statuses(results) == [200] * 10 + [400] * 40
    sold = [r.json() for r in results if r.status_code == 200]
    refused = [r.json() for r in results if r.status_code == 400]
    # Each answer shows the stock once its own decrement committed (concurrent ones may have
    # committed too); the last one to commit sees 0.
    answered = [body["stock_quantity"] for body in sold]
    assert all(0 <= quantity <= 9 for quantity in answered) and min(answered) == 0
    assert all(body == {"detail": "Not enough stock. Only 0 available."} for body in refused)
    assert stock_of(product) == 0
    assert [delta for delta, _, _ in movements(product, reason="purchase_api")] == [-1] * 10
    assert_ledger_balanced()
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_concurrent_purchases_and_restocks_keep_the_ledger_equal_to_the_stock():
    _, full_key = make_api_key()
    product = make_product(stock=5)
    headers = key_header(full_key)

    def move(index: int):
        url = restock_url(product.pk) if index % 2 else purchase_url(product.pk)
        return APIClient().post(url, {"quantity": 2}, format="json", **headers)

    results = run_at_once(30, move)

    assert exceptions_in(results) == []
    assert all(r.status_code in (200, 400) for r in results), statuses(results)
    restocks = [r for i, r in enumerate(results) if i % 2]
    purchases = [r for i, r in enumerate(results) if not i % 2]
    assert all(r.status_code == 200 for r in restocks)
    bought = sum(1 for r in purchases if r.status_code == 200)
    assert all(
        r.json()["detail"].startswith("Not enough stock. Only ")
        for r in purchases
        if r.status_code == 400
    )
    assert stock_of(product) == 5 + 2 * 15 - 2 * bought
    assert StockMovement.objects.filter(product=product, reason="restock").count() == 1 + 15
    assert_ledger_balanced()


# --- POST /api/sales/ ----------------------------------------------------------------------------


def test_fifty_concurrent_buyers_of_the_last_ten_units_get_ten_sales(seller):
    product = make_product(price="9.99", stock=30)
    make_sale(items=[(product, 20)])  # the last 10 units are left
    body = sale_body((product, 1))

    results = run_at_once(50, lambda i: client_as(seller).post(SALES_URL, body, format="json"))

    assert exceptions_in(results) == []
    assert statuses(results) == [201] * 10 + [409] * 40
    refused = [r.json()["error"] for r in results if r.status_code == 409]
    assert {error["code"] for error in refused} == {"insufficient_stock"}
    created_ids = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(created_ids) == 10
    assert stock_of(product) == 0
    assert Sale.objects.count() == 11  # the 10 new ones and the one that took the first 20
    assert set(Sale.objects.filter(created_by=seller).values_list("pk", flat=True)) == created_ids
    assert set(Sale.objects.filter(pk__in=created_ids).values_list("total", flat=True)) == {
        Decimal("9.99")
    }
    assert [delta for delta, _, _ in movements(product, reason="sale")] == [-20] + [-1] * 10
    assert_ledger_balanced()


def test_a_hundred_multi_line_sales_in_opposite_orders_never_deadlock(seller):
    """100 sales of [A, B, C] and [C, B, A] at once. 50 threads (the PostgreSQL server
    allows 100 connections and is shared) send 2 sales each, all released together."""
    a = make_product(price="1.00", stock=1000)
    b = make_product(price="2.00", stock=1000)
    c = make_product(price="3.00", stock=1000)
    threads, per_thread = 50, 2
    lock = threading.Lock()
    answers: list = []

    def send(index: int):
        client = client_as(seller)
        for n in range(per_thread):
            order = [(a, 1), (b, 2), (c, 3)]
            if (index * per_thread + n) % 2:
                order.reverse()
            response = client.post(SALES_URL, sale_body(*order), format="json")
            with lock:
                answers.append(response)

    results = run_at_once(threads, send)

    assert exceptions_in(results) == []
    assert len(answers) == 100
    assert statuses(answers) == [201] * 100, [r.content for r in answers if r.status_code != 201]
    assert (stock_of(a), stock_of(b), stock_of(c)) == (1000 - 100, 1000 - 200, 1000 - 300)
    assert Sale.objects.count() == 100
    assert set(Sale.objects.values_list("total", flat=True)) == {Decimal("14.00")}
    assert SaleItem.objects.count() == 300
    assert len({r.json()["id"] for r in answers}) == 100
    assert_ledger_balanced()
