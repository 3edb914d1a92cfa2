"""The catalog contract served by our own API (docs/catalog.md, "The contract"):
``POST /api/products/{id}/purchase/`` and ``/restock/`` with ``Authorization: Api-Key <key>``,
answering ``{"detail": …}`` bodies, and the anonymous ``GET /api/products/{id}/``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import ApiKey
from products.models import Product, StockMovement
from products.serializers import MAX_STOCK_QUANTITY
from tests.catalog_api import (
    assert_ledger_balanced,
    key_header,
    movements,
    purchase_url,
    restock_url,
    stock_of,
)
from tests.factories import make_api_key, make_product, make_user

pytestmark = pytest.mark.django_db

UNKNOWN_ID = 987_654_321


@pytest.fixture
def api_key():
    return make_api_key(name="shop-frontend")


@pytest.fixture
def auth(api_key):
    return key_header(api_key[1])


def post_json(client, url, body, **headers):
    return client.post(url, body, format="json", **headers)


def assert_detail_only(response) -> str:
    """The contract's error body: exactly ``{"detail": "<text>"}``."""
    body = response.json()
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body["detail"]


# --- Purchase: success ---------------------------------------------------------------------------


@pytest.mark.embedded
def test_purchase_answers_the_product_after_the_decrement_and_ledgers_it(api_client, api_key, auth):
    product = make_product(name="Blue mug", price="12.50", cost="3.10", stock=10)

    response = post_json(api_client, purchase_url(product.pk), {"quantity": 3}, **auth)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == product.pk
    assert body["name"] == "Blue mug"
    assert body["price"] == "12.50"  # a decimal string, never a float
    assert body["stock_quantity"] == 7 and isinstance(body["stock_quantity"], int)
    assert "cost" not in body  # the public contract never shows the cost
    assert stock_of(product) == 7
    assert movements(product, reason="purchase_api") == [
        (-3, "purchase_api", f"api-key:{api_key[0].prefix}")
    ]
    assert_ledger_balanced()
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None
    assert timezone.now() - api_key[0].last_used_at < timedelta(minutes=1)


def test_successive_purchases_each_write_one_movement(api_client, auth):
    product = make_product(stock=10)

    for quantity in (1, 2, 3):
        response = post_json(api_client, purchase_url(product.pk), {"quantity": quantity}, **auth)
        assert response.status_code == 200, response.content

    assert response.json()["stock_quantity"] == 4
    assert stock_of(product) == 4
    assert [delta for delta, _, _ in movements(product, reason="purchase_api")] == [-1, -2, -3]
    assert_ledger_balanced()


def test_purchase_of_every_remaining_unit_leaves_zero(api_client, auth):
    product = make_product(stock=5)

    response = post_json(api_client, purchase_url(product.pk), {"quantity": 5}, **auth)

    assert response.status_code == 200, response.content
    assert response.json()["stock_quantity"] == 0
    assert stock_of(product) == 0
    assert_ledger_balanced()


def test_purchase_does_not_show_cost_even_to_a_logged_in_manager(api_client, auth):
    """The endpoint authenticates by API key only; a manager's session adds nothing."""
    api_client.force_login(make_user(role="manager"))
    product = make_product(stock=3)

    response = post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)

    assert response.status_code == 200, response.content
    assert "cost" not in response.json()


def test_a_form_encoded_quantity_is_accepted(api_client, auth):
    product = make_product(stock=4)

    response = api_client.post(purchase_url(product.pk), {"quantity": "2"}, **auth)

    assert response.status_code == 200, response.content
    assert stock_of(product) == 2


# --- Purchase: not enough stock ------------------------------------------------------------------


@pytest.mark.parametrize(("stock", "quantity"), [(3, 4), (0, 1), (1, 1_000_000)])
def test_not_enough_stock_is_400_with_the_contract_message(api_client, auth, stock, quantity):
    product = make_product(stock=stock)

    response = post_json(api_client, purchase_url(product.pk), {"quantity": quantity}, **auth)

    assert response.status_code == 400
    assert response.json() == {"detail": f"Not enough stock. Only {stock} available."}
    assert stock_of(product) == stock
    assert movements(product, reason="purchase_api") == []
    assert_ledger_balanced()


# --- Purchase: invalid quantity ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"quantity": None},
        {"quantity": "abc"},
        {"quantity": ""},
        {"quantity": 1.5},
        {"quantity": 2.0},
        {"quantity": True},
        {"quantity": False},
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": "-3"},
        {"quantity": [1]},
        {"quantity": {"n": 1}},
        {"quantity": MAX_STOCK_QUANTITY + 1},
        {"quantity": 10**30},
        {"amount": 1},
    ],
    ids=repr,
)
def test_a_missing_non_integer_or_non_positive_quantity_is_400(api_client, auth, body):
    product = make_product(stock=10)

    response = post_json(api_client, purchase_url(product.pk), body, **auth)

    assert response.status_code == 400, response.content
    assert "quantity" in assert_detail_only(response)
    assert stock_of(product) == 10
    assert not StockMovement.objects.filter(product=product, reason="purchase_api").exists()


@pytest.mark.parametrize("raw", ["[1]", '"quantity"', "3", "null"])
def test_a_body_that_is_not_an_object_is_400(api_client, auth, raw):
    product = make_product(stock=10)

    response = api_client.post(
        purchase_url(product.pk), raw, content_type="application/json", **auth
    )

    assert response.status_code == 400, response.content
    assert_detail_only(response)
    assert stock_of(product) == 10


def test_malformed_json_is_400_with_a_detail_body(api_client, auth):
    product = make_product(stock=10)

    response = api_client.post(
        purchase_url(product.pk), '{"quantity": 1', content_type="application/json", **auth
    )

    assert response.status_code == 400
    assert "JSON" in assert_detail_only(response)
    assert stock_of(product) == 10


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_wrong_method_is_405_with_a_detail_body(api_client, auth, method):
    product = make_product(stock=10)

    response = getattr(api_client, method)(
        purchase_url(product.pk), {"quantity": 1}, format="json", **auth
    )

    assert response.status_code == 405
    assert method.upper() in assert_detail_only(response)
    assert stock_of(product) == 10


# --- Purchase: API key (checked before anything else) -------------------------------------------


@pytest.mark.embedded
def test_the_key_is_checked_before_the_product_lookup(api_client, api_key):
    product = make_product(stock=10)
    _, full_key = api_key
    prefix = full_key.split(".")[0]

    unknown_without_key = post_json(api_client, purchase_url(UNKNOWN_ID), {"quantity": 1})
    unknown_bad_key = post_json(
        api_client,
        purchase_url(UNKNOWN_ID),
        {"quantity": 1},
        **key_header(f"{prefix}.not-the-secret"),
    )
    known_without_key = post_json(api_client, purchase_url(product.pk), {"quantity": 1})
    unknown_with_key = post_json(
        api_client, purchase_url(UNKNOWN_ID), {"quantity": 1}, **key_header(full_key)
    )

    assert unknown_without_key.status_code == 403  # not 404: nothing leaks without a key
    assert_detail_only(unknown_without_key)
    assert unknown_bad_key.status_code == 403
    assert_detail_only(unknown_bad_key)
    assert known_without_key.status_code == 403
    assert unknown_with_key.status_code == 404
    assert_detail_only(unknown_with_key)
    assert stock_of(product) == 10
    assert_ledger_balanced()


def test_the_key_is_checked_before_the_body(api_client):
    product = make_product(stock=10)

    invalid_quantity = post_json(api_client, purchase_url(product.pk), {"quantity": "abc"})
    malformed = api_client.post(purchase_url(product.pk), "{", content_type="application/json")

    assert invalid_quantity.status_code == 403
    assert_detail_only(invalid_quantity)
    assert malformed.status_code == 403
    assert_detail_only(malformed)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Api-Key",
        "Api-Key ",
        "Api-Key nodot",
        "Api-Key {prefix}.",
        "Api-Key .{secret}",
        "Api-Key {prefix}.wrong-secret",
        "Api-Key {prefix}.{secret}x",
        "Api-Key deadbeef.{secret}",
        "Api-Key {prefix}\x00.{secret}",  # a NUL reaching PostgreSQL was a 500
        "Api-Key {prefix}.{secret}\x00",
        "Api-Key " + "a" * 5000 + ".{secret}",
        "Bearer {key}",
        "Token {key}",
        "{key}",
    ],
)
def test_a_missing_or_bad_key_is_403(api_client, api_key, header):
    product = make_product(stock=10)
    _, full_key = api_key
    prefix, _, secret = full_key.partition(".")
    value = header.format(prefix=prefix, secret=secret, key=full_key)

    response = post_json(
        api_client, purchase_url(product.pk), {"quantity": 1}, HTTP_AUTHORIZATION=value
    )

    assert response.status_code == 403
    assert_detail_only(response)
    assert stock_of(product) == 10
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is None


def test_an_inactive_key_is_403(api_client):
    api_key, full_key = make_api_key(is_active=False)
    product = make_product(stock=10)

    response = post_json(
        api_client, purchase_url(product.pk), {"quantity": 1}, **key_header(full_key)
    )

    assert response.status_code == 403
    assert_detail_only(response)
    assert stock_of(product) == 10
    api_key.refresh_from_db()
    assert api_key.last_used_at is None


def test_a_key_deactivated_after_use_stops_working(api_client, api_key, auth):
    product = make_product(stock=10)
    assert (
        post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth).status_code == 200
    )

    ApiKey.objects.filter(pk=api_key[0].pk).update(is_active=False)
    response = post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)

    assert response.status_code == 403
    assert stock_of(product) == 9


def test_only_the_hash_of_the_secret_is_stored(api_key):
    stored, full_key = api_key
    secret = full_key.partition(".")[2]

    row = ApiKey.objects.values().get(pk=stored.pk)

    assert not any(secret in str(value) for value in row.values())
    assert row["prefix"] == full_key.partition(".")[0]


def test_last_used_at_is_not_rewritten_on_every_request(api_client, api_key, auth):
    product = make_product(stock=10)
    post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)
    api_key[0].refresh_from_db()
    first_use = api_key[0].last_used_at

    post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at == first_use  # at most one write a minute

    stale = timezone.now() - timedelta(minutes=5)
    ApiKey.objects.filter(pk=api_key[0].pk).update(last_used_at=stale)
    post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at > stale


# --- Purchase: unknown product and paths ---------------------------------------------------------


@pytest.mark.parametrize("product_id", [UNKNOWN_ID, 2**63 + 5])
def test_an_unknown_product_is_404_with_a_detail_body(api_client, auth, product_id):
    response = post_json(api_client, purchase_url(product_id), {"quantity": 1}, **auth)

    assert response.status_code == 404
    assert_detail_only(response)


def test_the_trailing_slash_is_part_of_the_path(api_client, auth):
    product = make_product(stock=10)

    response = post_json(
        api_client, f"/api/products/{product.pk}/purchase", {"quantity": 1}, **auth
    )

    assert response.status_code == 404  # neither a redirect nor a purchase
    assert stock_of(product) == 10


# --- Restock -------------------------------------------------------------------------------------


def test_restock_adds_stock_and_ledgers_it(api_client, api_key, auth):
    product = make_product(price="4.20", stock=2)

    response = post_json(api_client, restock_url(product.pk), {"quantity": 8}, **auth)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["price"], body["stock_quantity"]) == (product.pk, "4.20", 10)
    assert "cost" not in body
    assert stock_of(product) == 10
    assert movements(product, reason="restock")[-1] == (
        8,
        "restock",
        f"api-key:{api_key[0].prefix}",
    )
    assert_ledger_balanced()
    api_key[0].refresh_from_db()
    assert api_key[0].last_used_at is not None


def test_restock_then_purchase_keeps_the_ledger_equal_to_the_stock(api_client, auth):
    product = make_product(stock=0)

    sold_out = post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)
    restocked = post_json(api_client, restock_url(product.pk), {"quantity": 5}, **auth)
    bought = post_json(api_client, purchase_url(product.pk), {"quantity": 5}, **auth)

    assert sold_out.status_code == 400
    assert sold_out.json() == {"detail": "Not enough stock. Only 0 available."}
    assert (restocked.status_code, bought.status_code) == (200, 200)
    assert bought.json()["stock_quantity"] == 0
    assert [(d, r) for d, r, _ in movements(product)] == [(5, "restock"), (-5, "purchase_api")]
    assert_ledger_balanced()


@pytest.mark.parametrize(
    ("headers", "product_id", "body", "status"),
    [
        ({}, UNKNOWN_ID, {"quantity": 1}, 403),
        ({"HTTP_AUTHORIZATION": "Api-Key abc.def"}, None, {"quantity": 1}, 403),
        (None, None, {"quantity": 0}, 400),
        (None, None, {"quantity": "abc"}, 400),
        (None, None, {"quantity": 1.5}, 400),
        (None, None, {"quantity": True}, 400),
        (None, None, {}, 400),
        (None, UNKNOWN_ID, {"quantity": 1}, 404),
    ],
)
def test_restock_refusals_follow_the_contract(api_client, auth, headers, product_id, body, status):
    product = make_product(stock=3)

    response = post_json(
        api_client,
        restock_url(product_id or product.pk),
        body,
        **(auth if headers is None else headers),
    )

    assert response.status_code == status
    assert_detail_only(response)
    assert stock_of(product) == 3
    assert_ledger_balanced()


@pytest.mark.skipif(not settings.IS_POSTGRES, reason="SQLite integers are 64-bit")
def test_a_restock_beyond_the_largest_stock_is_400_not_500(api_client, auth):
    product = make_product(stock=10)

    response = post_json(
        api_client, restock_url(product.pk), {"quantity": MAX_STOCK_QUANTITY}, **auth
    )

    assert response.status_code == 400, response.content
    assert_detail_only(response)
    assert stock_of(product) == 10
    assert_ledger_balanced()


def test_restock_body_errors_use_the_detail_shape(api_client, auth):
    product = make_product(stock=3)

    malformed = api_client.post(
        restock_url(product.pk), "{oops", content_type="application/json", **auth
    )
    wrong_method = api_client.get(restock_url(product.pk), **auth)

    assert malformed.status_code == 400
    assert_detail_only(malformed)
    assert wrong_method.status_code == 405
    assert_detail_only(wrong_method)


# --- GET /api/products/{id}/ (the contract's read, anonymous) -------------------------------------


def test_the_product_read_is_anonymous_with_a_decimal_string_price(api_client):
    product = make_product(name="Teapot", price="19.90", cost="7.00", stock=6)

    response = api_client.get(f"/api/products/{product.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == product.pk
    assert body["name"] == "Teapot"
    assert body["price"] == "19.90"
    assert body["stock_quantity"] == 6 and isinstance(body["stock_quantity"], int)
    assert "cost" not in body


def test_the_product_read_reflects_a_purchase(api_client, auth):
    product = make_product(stock=6)
    post_json(api_client, purchase_url(product.pk), {"quantity": 4}, **auth)

    body = api_client.get(f"/api/products/{product.pk}/").json()

    assert body["stock_quantity"] == 2


def test_reading_an_unknown_product_is_404(api_client):
    response = api_client.get(f"/api/products/{UNKNOWN_ID}/")

    assert response.status_code == 404


def test_a_purchase_response_is_valid_json_of_the_contract(api_client, auth):
    """What a remote client parses: a JSON object, ``application/json``."""
    product = make_product(price="1.05", stock=2)

    response = post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)

    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert {"id", "name", "price", "stock_quantity"} <= set(body)


def test_a_deployment_using_a_remote_catalog_refuses_to_be_one(api_client, auth, settings):
    product = make_product(stock=5)
    settings.CATALOG_BACKEND = "http"
    response = post_json(api_client, purchase_url(product.pk), {"quantity": 1}, **auth)
    assert response.status_code == 409
    assert "remote catalog" in assert_detail_only(response)
    assert Product.objects.get(pk=product.pk).stock_quantity == 5
