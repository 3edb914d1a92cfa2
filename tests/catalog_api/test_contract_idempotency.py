"""Our extension of the catalog contract: an optional Idempotency-Key on purchase/restock."""

from __future__ import annotations

import functools
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from core.idempotency import (
    IdempotencyRecord,
    IdempotencyStatus,
    idempotency_claim,
    request_fingerprint,
)
from products.models import CatalogRequestKey, StockMovement
from sales.models import IdempotencyKey
from tests.catalog_api import (
    assert_ledger_balanced,
    key_header,
    purchase_url,
    restock_url,
    stock_of,
)
from tests.factories import make_api_key, make_product
from tests.threads import run_at_once

pytestmark = pytest.mark.django_db


def send(client, url, quantity, full_key, idempotency_key=None):
    headers = key_header(full_key)
    if idempotency_key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
    return client.post(url, {"quantity": quantity}, format="json", **headers)


@pytest.mark.embedded
@pytest.mark.parametrize("url_of", [purchase_url, restock_url])
def test_a_repeat_with_the_same_key_is_answered_without_moving_stock_again(api_client, url_of):
    _, full_key = make_api_key(name="shop")
    product = make_product(stock=10)

    first = send(api_client, url_of(product.pk), 3, full_key, "k-1")
    again = send(api_client, url_of(product.pk), 3, full_key, "k-1")

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert stock_of(product) == (7 if url_of is purchase_url else 13)  # moved once
    assert StockMovement.objects.filter(product=product).count() == 2  # opening + one
    assert_ledger_balanced()


def test_the_same_key_for_another_request_is_422(api_client):
    _, full_key = make_api_key(name="shop")
    product = make_product(stock=10)
    assert send(api_client, purchase_url(product.pk), 1, full_key, "k").status_code == 200

    for url, quantity in ((purchase_url(product.pk), 2), (restock_url(product.pk), 1)):
        response = send(api_client, url, quantity, full_key, "k")
        assert response.status_code == 422
        assert set(response.json()) == {"detail"}
    assert stock_of(product) == 9


def test_keys_belong_to_one_api_key_and_failures_are_not_stored(api_client):
    _, shop = make_api_key(name="shop")
    _, other = make_api_key(name="other")
    product = make_product(stock=2)

    assert send(api_client, purchase_url(product.pk), 1, shop, "same").status_code == 200
    assert send(api_client, purchase_url(product.pk), 1, other, "same").status_code == 200
    assert stock_of(product) == 0
    # Out of stock: nothing stored, so the same key works once stock is back.
    assert send(api_client, purchase_url(product.pk), 1, shop, "later").status_code == 400
    assert send(api_client, restock_url(product.pk), 5, shop, "restock-1").status_code == 200
    assert send(api_client, purchase_url(product.pk), 1, shop, "later").status_code == 200
    assert stock_of(product) == 4


@pytest.mark.parametrize("bad_key", ["", "x" * 256, "tab\\there"])
def test_a_malformed_key_is_400(api_client, bad_key):
    _, full_key = make_api_key(name="shop")
    product = make_product(stock=5)
    response = send(api_client, purchase_url(product.pk), 1, full_key, bad_key.replace("\\t", "\t"))
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert stock_of(product) == 5


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="real concurrency needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_move_stock_once():
    from rest_framework.test import APIClient

    _, full_key = make_api_key(name="shop")
    product = make_product(stock=50)

    def buy(_index):
        return send(APIClient(), purchase_url(product.pk), 5, full_key, "burst").status_code

    statuses = run_at_once(12, buy)

    assert statuses == [200] * 12
    assert stock_of(product) == 45
    assert CatalogRequestKey.objects.count() == 1
    assert_ledger_balanced()


def test_expired_request_keys_are_purged(api_client):
    _, full_key = make_api_key(name="shop")
    product = make_product(stock=5)
    send(api_client, purchase_url(product.pk), 1, full_key, "old")
    send(api_client, purchase_url(product.pk), 1, full_key, "new")
    CatalogRequestKey.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1),
        expires_at=timezone.now() - timedelta(hours=1),
    )
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 1 expired" in out.getvalue()
    assert list(CatalogRequestKey.objects.values_list("key", flat=True)) == ["new"]


# --- The one mechanism (core/idempotency.py), shared with POST /api/sales/ ----------------------


def claimed_row(api_key, key, *, operation="purchase", product_id, quantity, age=timedelta(0)):
    """The row a first request holds while it runs (claimed, no answer yet)."""
    now = timezone.now()
    return CatalogRequestKey.objects.create(
        api_key=api_key,
        key=key,
        operation=operation,
        product_id=product_id,
        quantity=quantity,
        request_fingerprint=request_fingerprint(
            {"operation": operation, "product_id": product_id, "quantity": quantity}
        ),
        created_at=now - age,
        expires_at=now + timedelta(hours=24),
    )


def test_a_repeat_while_the_first_still_runs_is_409_with_retry_after(api_client, monkeypatch):
    monkeypatch.setattr(
        "products.services.contract.idempotency_claim",
        functools.partial(idempotency_claim, wait_seconds=0.2),
    )
    api_key, full_key = make_api_key(name="shop")
    product = make_product(stock=5)
    claimed_row(api_key, "busy", product_id=product.pk, quantity=1)

    response = send(api_client, purchase_url(product.pk), 1, full_key, "busy")

    assert response.status_code == 409
    assert set(response.json()) == {"detail"}
    assert response["Retry-After"] == "1"
    assert stock_of(product) == 5
    assert CatalogRequestKey.objects.get().status == IdempotencyStatus.PROCESSING


def test_a_first_request_that_died_long_ago_is_taken_over(api_client):
    api_key, full_key = make_api_key(name="shop")
    product = make_product(stock=5)
    claimed_row(api_key, "abandoned", product_id=product.pk, quantity=2, age=timedelta(hours=1))

    response = send(api_client, purchase_url(product.pk), 2, full_key, "abandoned")
    replay = send(api_client, purchase_url(product.pk), 2, full_key, "abandoned")

    assert response.status_code == 200, response.content
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == response.json()
    assert stock_of(product) == 3
    record = CatalogRequestKey.objects.get()
    assert (record.status, record.response_status) == (IdempotencyStatus.COMPLETED, 200)


def test_an_expired_key_can_be_used_again_for_another_request(api_client):
    _, full_key = make_api_key(name="shop")
    product = make_product(stock=10)
    assert send(api_client, purchase_url(product.pk), 1, full_key, "reused").status_code == 200
    CatalogRequestKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    again = send(api_client, purchase_url(product.pk), 3, full_key, "reused")  # no 422

    assert again.status_code == 200, again.content
    assert "Idempotent-Replayed" not in again
    assert stock_of(product) == 6
    assert CatalogRequestKey.objects.get().quantity == 3


def test_both_idempotency_keys_are_one_mechanism():
    assert issubclass(CatalogRequestKey, IdempotencyRecord)
    assert issubclass(IdempotencyKey, IdempotencyRecord)
