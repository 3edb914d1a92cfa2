"""Analytics names a product `product`, as the sales do (issue 16 item 7): the rows of
top-products carry `product` (and top-customers `customer`); `product_id` and `customer_id`
stay as deprecated aliases with the same value."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_customer, make_product, make_sale, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


def test_top_rows_say_product_and_customer():
    product = make_product(price="10.00", cost="4.00", stock=10)
    customer = make_customer()
    make_sale(items=[(product, 2)], customer=customer)
    client = APIClient()
    client.force_authenticate(make_user(role="analyst"))
    row = client.get("/api/analytics/top-products/").json()["results"][0]
    assert row["product"] == row["product_id"] == product.pk
    row = client.get("/api/analytics/top-customers/").json()["results"][0]
    assert row["customer"] == row["customer_id"] == customer.pk
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schema["TopProduct"]["properties"]["product_id"].get("deprecated") is True


def test_answers_name_their_currency(settings):
    settings.CURRENCY = "EUR"
    client = APIClient()
    client.force_authenticate(make_user(role="analyst"))
    customer = make_customer()
    for name in (
        "summary",
        "revenue",
        "top-products",
        "top-customers",
        "breakdown",
        "cohorts",
        "rfm",
        f"customers/{customer.pk}",
    ):
        answer = client.get(f"/api/analytics/{name}/").json()
        assert answer["currency"] == "EUR", name
    csv = client.get("/api/analytics/revenue/?format=csv")
    assert csv.status_code == 200
    schema = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert "currency" in schema["TopProductsResponse"]["properties"]
    assert "currency" in schema["CustomerLifetime"]["properties"]
