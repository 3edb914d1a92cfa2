"""``POST /api/sales/`` with an ``Idempotency-Key`` header (docs/architecture.md, "Idempotency"):
the first answer is stored and replayed for a repeat with the same key and body; the same key with
another body is a 422; keys are per user, live at least 24 hours, and a failed request stores
nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from products.services import product_restock
from sales import idempotency
from sales.models import IdempotencyKey, IdempotencyKeyStatus, Sale
from tests.catalog_api import (
    assert_ledger_balanced,
    exceptions_in,
    movements,
    sale_body,
    stock_of,
)
from tests.factories import ensure_role_groups, make_product
from tests.threads import run_at_once

pytestmark = pytest.mark.django_db

SALES_URL = "/api/sales/"


@pytest.fixture
def seller(client_for):
    return client_for("sales")


def post_sale(client, body, key=None, **headers):
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(SALES_URL, body, format="json", **headers)


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- Replay --------------------------------------------------------------------------------------


@pytest.mark.embedded
def test_a_repeat_with_the_same_key_and_body_replays_the_first_answer(seller):
    product = make_product(price="5.00", stock=10)
    body = sale_body((product, 3))

    first = post_sale(seller, body, key="order-1")
    second = post_sale(seller, body, key="order-1")
    third = post_sale(seller, body, key="order-1")

    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    for repeat in (second, third):
        assert repeat.status_code == 201
        assert repeat["Idempotent-Replayed"] == "true"
        assert repeat.json() == first.json()
    assert first.json()["total"] == "15.00"
    assert Sale.objects.count() == 1
    assert Sale.objects.get().pk == first.json()["id"]
    assert stock_of(product) == 7  # taken once
    assert [delta for delta, _, _ in movements(product, reason="sale")] == [-3]
    assert_ledger_balanced()
    record = IdempotencyKey.objects.get()
    assert record.status == IdempotencyKeyStatus.COMPLETED
    assert (record.response_status, record.sale_id) == (201, first.json()["id"])


def test_the_same_body_with_its_keys_in_another_order_is_a_replay(seller):
    product = make_product(stock=10)
    items = [{"product": product.pk, "quantity": 1}]

    first = seller.post(
        SALES_URL,
        json.dumps({"customer": None, "items": items}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    second = seller.post(
        SALES_URL,
        json.dumps({"items": items, "customer": None}),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert Sale.objects.count() == 1


def test_without_the_header_every_post_is_a_new_sale(seller):
    product = make_product(stock=10)
    body = sale_body((product, 1))

    first = post_sale(seller, body)
    second = post_sale(seller, body)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second
    assert stock_of(product) == 8
    assert not IdempotencyKey.objects.exists()


def test_a_replay_still_answers_after_the_sale_was_cancelled(seller):
    """The stored answer is replayed as it was; the repeat does not sell again."""
    product = make_product(stock=10)
    body = sale_body((product, 2))
    first = post_sale(seller, body, key="cancel-me")
    cancelled = seller.post(f"{SALES_URL}{first.json()['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.content

    again = post_sale(seller, body, key="cancel-me")

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert stock_of(product) == 10
    assert Sale.objects.count() == 1
    assert_ledger_balanced()


# --- Mismatch and scope --------------------------------------------------------------------------


def test_the_same_key_with_another_body_is_422(seller):
    a = make_product(stock=10)
    b = make_product(stock=10)
    first = post_sale(seller, sale_body((a, 1)), key="order-2")

    other_quantity = post_sale(seller, sale_body((a, 2)), key="order-2")
    other_product = post_sale(seller, sale_body((b, 1)), key="order-2")

    assert first.status_code == 201
    for response in (other_quantity, other_product):
        assert response.status_code == 422
        assert error_code(response) == "idempotency_key_mismatch"
        assert "Idempotent-Replayed" not in response
    assert Sale.objects.count() == 1
    assert (stock_of(a), stock_of(b)) == (9, 10)
    replay = post_sale(seller, sale_body((a, 1)), key="order-2")
    assert replay.status_code == 201 and replay.json()["id"] == first.json()["id"]


def test_keys_are_per_user(client_for):
    product = make_product(stock=10)
    body = sale_body((product, 1))
    alice, bob = client_for("sales"), client_for("sales")

    alice_first = post_sale(alice, body, key="shared-key")
    bob_first = post_sale(bob, body, key="shared-key")
    bob_other_body = post_sale(bob, sale_body((product, 2)), key="another")
    alice_again = post_sale(alice, body, key="shared-key")

    assert (alice_first.status_code, bob_first.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in bob_first  # not Alice's answer
    assert bob_first.json()["id"] != alice_first.json()["id"]
    assert bob_other_body.status_code == 201
    assert alice_again["Idempotent-Replayed"] == "true"
    assert alice_again.json()["id"] == alice_first.json()["id"]
    assert Sale.objects.count() == 3
    assert stock_of(product) == 6
    assert IdempotencyKey.objects.filter(key="shared-key").count() == 2


def test_a_key_is_not_shared_with_an_anonymous_or_unauthorised_caller(client_for):
    product = make_product(stock=10)
    body = sale_body((product, 1))

    anonymous = post_sale(client_for(None), body, key="k")
    analyst = post_sale(client_for("analyst"), body, key="k")

    assert anonymous.status_code in (401, 403)
    assert analyst.status_code == 403
    assert not IdempotencyKey.objects.exists()
    assert stock_of(product) == 10


# --- Failures store nothing ----------------------------------------------------------------------


def test_an_out_of_stock_failure_stores_nothing_and_the_key_can_be_retried(seller):
    product = make_product(stock=1)
    body = sale_body((product, 3))

    refused = post_sale(seller, body, key="retry-me")
    refused_again = post_sale(seller, body, key="retry-me")

    assert refused.status_code == 409
    assert error_code(refused) == "insufficient_stock"
    assert refused_again.status_code == 409  # ran again, not a replay of the failure
    assert "Idempotent-Replayed" not in refused_again
    assert not IdempotencyKey.objects.exists()

    product_restock(product_id=product.pk, quantity=5)
    succeeded = post_sale(seller, body, key="retry-me")
    replayed = post_sale(seller, body, key="retry-me")

    assert succeeded.status_code == 201, succeeded.content
    assert "Idempotent-Replayed" not in succeeded
    assert replayed["Idempotent-Replayed"] == "true"
    assert replayed.json()["id"] == succeeded.json()["id"]
    assert stock_of(product) == 3
    assert Sale.objects.count() == 1
    assert_ledger_balanced()


@pytest.mark.parametrize(
    "invalid",
    [
        {"customer": None, "items": []},
        {"customer": None, "items": [{"product": 0, "quantity": 1}]},
        {"customer": None, "items": "nope"},
        {"customer": 999_999, "items": None},
    ],
    ids=["no-items", "bad-product", "items-not-a-list", "no-such-customer"],
)
def test_an_invalid_request_stores_nothing(seller, invalid):
    product = make_product(stock=5)

    refused = post_sale(seller, invalid, key="fix-and-retry")
    corrected = post_sale(seller, sale_body((product, 1)), key="fix-and-retry")

    assert refused.status_code == 400, refused.content
    assert corrected.status_code == 201, corrected.content  # not a 422 mismatch
    assert "Idempotent-Replayed" not in corrected
    assert Sale.objects.count() == 1
    assert stock_of(product) == 4


def test_a_crash_releases_the_key(seller, monkeypatch):
    product = make_product(stock=5)
    body = sale_body((product, 1))

    def explode(**kwargs):
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr("sales.views.services.sale_create", explode)
        with pytest.raises(RuntimeError):
            post_sale(seller, body, key="crash")
    assert not IdempotencyKey.objects.exists()

    retried = post_sale(seller, body, key="crash")

    assert retried.status_code == 201
    assert stock_of(product) == 4


def test_malformed_json_with_a_key_is_400_and_stores_nothing(seller):
    response = seller.post(
        SALES_URL, '{"items": [', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400
    assert not IdempotencyKey.objects.exists()


# --- A first request still running ---------------------------------------------------------------


def processing_record(user, key, body, *, age=timedelta(0)):
    """The row a first request holds while it runs (claimed, no answer yet)."""
    now = timezone.now()
    return IdempotencyKey.objects.create(
        user=user,
        key=key,
        request_fingerprint=idempotency.request_fingerprint(body),
        created_at=now - age,
        expires_at=now + timedelta(hours=24),
    )


def test_a_repeat_while_the_first_still_runs_is_409_with_retry_after(seller, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST_REQUEST_SECONDS", 0.2)
    product = make_product(stock=5)
    body = sale_body((product, 1))
    processing_record(seller.user, "busy", body)

    response = post_sale(seller, body, key="busy")

    assert response.status_code == 409
    assert error_code(response) == "idempotency_in_progress"
    assert response["Retry-After"] == "1"
    assert not Sale.objects.exists()
    assert stock_of(product) == 5
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.PROCESSING


def test_another_body_while_the_first_still_runs_is_422_at_once(seller):
    product = make_product(stock=5)
    processing_record(seller.user, "busy", sale_body((product, 1)))

    response = post_sale(seller, sale_body((product, 2)), key="busy")

    assert response.status_code == 422
    assert error_code(response) == "idempotency_key_mismatch"


def test_a_first_request_that_died_long_ago_is_taken_over(seller):
    product = make_product(stock=5)
    body = sale_body((product, 1))
    processing_record(seller.user, "abandoned", body, age=timedelta(minutes=10))

    response = post_sale(seller, body, key="abandoned")
    replay = post_sale(seller, body, key="abandoned")

    assert response.status_code == 201, response.content
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == response.json()["id"]
    assert Sale.objects.count() == 1
    assert stock_of(product) == 4


# --- The key itself ------------------------------------------------------------------------------


def test_an_over_long_key_is_400_and_the_longest_allowed_works(seller):
    product = make_product(stock=5)
    body = sale_body((product, 1))

    too_long = post_sale(seller, body, key="k" * 256)
    longest = post_sale(seller, body, key="k" * 255)

    assert too_long.status_code == 400
    assert error_code(too_long) == "invalid_idempotency_key"
    assert longest.status_code == 201, longest.content
    assert Sale.objects.count() == 1
    assert stock_of(product) == 4
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k" * 255]


def test_an_empty_key_is_400(seller):
    product = make_product(stock=5)

    response = post_sale(seller, sale_body((product, 1)), key="")

    assert response.status_code == 400
    assert error_code(response) == "invalid_idempotency_key"
    assert not Sale.objects.exists()


def test_keys_live_at_least_24_hours(seller):
    product = make_product(stock=5)

    post_sale(seller, sale_body((product, 1)), key="ttl")

    record = IdempotencyKey.objects.get()
    assert record.expires_at - record.created_at >= timedelta(hours=24)
    assert settings.IDEMPOTENCY_KEY_TTL_HOURS >= 24


def test_expired_keys_are_purged_and_live_ones_kept(seller):
    product = make_product(stock=10)
    for key in ("old-1", "old-2", "fresh"):
        assert post_sale(seller, sale_body((product, 1)), key=key).status_code == 201
    IdempotencyKey.objects.filter(key__startswith="old").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    purged = idempotency.idempotency_keys_purge()

    assert purged == 2
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
    assert Sale.objects.count() == 3  # the sales stay; only the stored answers go
    assert idempotency.idempotency_keys_purge() == 0


def test_purge_works_in_batches(seller):
    product = make_product(stock=10)
    for index in range(5):
        post_sale(seller, sale_body((product, 1)), key=f"batch-{index}")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    assert idempotency.idempotency_keys_purge(batch_size=2) == 5
    assert not IdempotencyKey.objects.exists()


def test_an_expired_key_can_be_used_again_for_a_new_sale(seller):
    product = make_product(stock=10)
    first = post_sale(seller, sale_body((product, 1)), key="reused")
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    second = post_sale(seller, sale_body((product, 2)), key="reused")  # another body: no 422

    assert second.status_code == 201, second.content
    assert "Idempotent-Replayed" not in second
    assert second.json()["id"] != first.json()["id"]
    assert stock_of(product) == 7
    record = IdempotencyKey.objects.get()
    assert record.sale_id == second.json()["id"]
    assert record.expires_at > timezone.now() + timedelta(hours=23)


# --- Concurrent duplicates (PostgreSQL, real threads) ---------------------------------------------


def postgres_threads(test):
    """Real threads, each with its own connection: committed data, PostgreSQL only."""
    for mark in (
        pytest.mark.skipif(not settings.IS_POSTGRES, reason="needs PostgreSQL (threads)"),
        pytest.mark.postgres,
        pytest.mark.django_db(transaction=True),
    ):
        test = mark(test)
    return test


@postgres_threads
def test_concurrent_duplicates_make_one_sale(client_for):
    ensure_role_groups()  # an earlier transactional test's flush may have removed them
    seller = client_for("sales")
    product = make_product(price="3.00", stock=50)
    body = sale_body((product, 2))

    def send(index: int):
        client = APIClient()
        client.force_authenticate(seller.user)
        return post_sale(client, body, key="double-click")

    results = run_at_once(20, send)

    assert exceptions_in(results) == []
    assert all(r.status_code in (201, 409) for r in results), [r.status_code for r in results]
    created = [r for r in results if r.status_code == 201]
    busy = [r for r in results if r.status_code == 409]
    assert Sale.objects.count() == 1
    sale_id = Sale.objects.get().pk
    assert {r.json()["id"] for r in created} == {sale_id}
    assert sum(1 for r in created if "Idempotent-Replayed" not in r) == 1
    for response in busy:
        assert error_code(response) == "idempotency_in_progress"
        assert response["Retry-After"]
    assert len(created) >= 10  # the repeats wait up to ~5 s for the first
    assert stock_of(product) == 48  # taken once
    assert [delta for delta, _, _ in movements(product, reason="sale")] == [-2]
    assert_ledger_balanced()
    assert IdempotencyKey.objects.get().status == IdempotencyKeyStatus.COMPLETED


@postgres_threads
def test_concurrent_requests_with_one_key_and_different_bodies_make_one_sale(client_for):
    ensure_role_groups()
    seller = client_for("sales")
    product = make_product(stock=100)

    def send(index: int):
        client = APIClient()
        client.force_authenticate(seller.user)
        return post_sale(client, sale_body((product, index + 1)), key="same-key")

    results = run_at_once(10, send)

    assert exceptions_in(results) == []
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [422] * 9, statuses
    winner = next(r for r in results if r.status_code == 201)
    quantity = winner.json()["items"][0]["quantity"]
    assert Sale.objects.count() == 1
    assert stock_of(product) == 100 - quantity
    assert_ledger_balanced()
