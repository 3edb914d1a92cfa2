"""Every money value the API answers or writes to a file has exactly two decimals, on both
databases: SQLite computes with floating point and hands back decimals such as
``10.4900000000000`` for anything that is not a plain column (the price-update dry run's
``new_price``, the analytics sums) unless they are rounded to cents on the way out."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.embedded,
    pytest.mark.usefixtures("fast_password_hasher", "jobs_in_process"),
]

MONEY = re.compile(r"^-?\d+\.\d{2}$")
# Every key under which the API and the exports give an amount of money.
MONEY_KEYS = {
    "price",
    "cost",
    "unit_price",
    "unit_cost",
    "line_total",
    "total",
    "revenue",
    "old_price",
    "new_price",
    "margin",
    "gross_margin",
    "average_order_value",
    "avg_order_value",
    "average_price",
}


def money_values(value, path="") -> list[tuple[str, object]]:
    """``(path, value)`` of every money key in a JSON document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in MONEY_KEYS and not isinstance(item, dict | list):
                found.append((f"{path}.{key}", item))
            else:
                found += money_values(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += money_values(item, f"{path}[{index}]")
    return found


def assert_money(found: list[tuple[str, object]], where: str) -> None:
    assert found, f"no money in {where}"
    bad = [(path, value) for path, value in found if value is not None and not (
        isinstance(value, str) and MONEY.match(value)
    )]  # fmt: skip
    assert not bad, f"{where}: {bad}"


@pytest.fixture
def shop(db):
    """Prices whose products, sums and percentages are not exact in binary floating point."""
    garden = make_category(name="Garden")
    products = [
        make_product(sku="M-1", price="10.49", cost="3.33", category=garden),
        make_product(sku="M-2", price="0.15", cost="0.07", category=garden),
        make_product(sku="M-3", price="19.99", cost="7.10"),
    ]
    customer = make_customer(country="GB")
    make_sale(items=[(products[0], 3), (products[1], 7)], customer=customer)
    make_sale(items=[(products[2], 1), (products[1], 1)])
    make_sale(items=[(products[0], 1)], customer=customer)
    return products


def body(response):
    assert response.status_code in (200, 202), response.content[:500]
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def test_every_money_value_of_the_api_has_two_decimals(shop, client_for):
    client = client_for("manager")
    product = shop[0]
    sale_id = client.get("/api/sales/").json()["results"][0]["id"]
    reads = [
        "/api/products/",
        f"/api/products/{product.pk}/",
        "/api/sales/",
        f"/api/sales/{sale_id}/",
        "/api/analytics/summary/",
        "/api/analytics/revenue/?interval=day",
        "/api/analytics/revenue/?interval=month",
        "/api/analytics/top-products/",
        "/api/analytics/top-products/?by=margin",
        "/api/analytics/top-customers/",
        "/api/analytics/breakdown/?dimension=category",
        "/api/analytics/breakdown/?dimension=country",
    ]
    for url in reads:
        assert_money(money_values(json.loads(body(client.get(url)))), url)

    skus = [product.sku for product in shop]
    for change in ({"percent": "3.7"}, {"amount": "0.1"}):
        payload = {"skus": skus, **change, "dry_run": True}
        answer = client.post("/api/products/price-update/", payload, format="json").json()
        assert_money(money_values(answer), f"price-update {payload}")
    payload = {"skus": skus, "percent": "3.7"}  # the real one: a batch job
    job = client.post("/api/products/price-update/", payload, format="json").json()["job"]
    answer = client.get(f"/api/jobs/{job['id']}/").json()
    assert answer["status"] == "succeeded", answer
    # The job answers counts; the new prices are read back.
    for url in ("/api/products/", f"/api/products/{product.pk}/"):
        assert_money(money_values(client.get(url).json()), f"{url} after the price update")


@pytest.mark.parametrize("resource", ["products", "sales"])
def test_every_money_value_of_the_exports_has_two_decimals(shop, client_for, resource):
    client = client_for("manager")
    rows = json.loads(body(client.get(f"/api/{resource}/export/?format=json")))
    assert_money(money_values(rows), f"{resource} JSON export")
    reader = csv.DictReader(io.StringIO(body(client.get(f"/api/{resource}/export/?format=csv"))
                                        .decode("utf-8-sig")))  # fmt: skip
    assert_money(money_values(list(reader)), f"{resource} CSV export")
