"""Filters, search and ordering of /api/sales/ (cursor-paginated, newest first by default)."""

from datetime import UTC, datetime

import pytest

from sales.services import sale_cancel
from tests.api import assert_error, ids
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/sales/"


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


@pytest.fixture
def world():
    """Five sales over four days; ``d`` is cancelled, ``e`` has no customer."""
    tools = make_category(name="Tools")
    toys = make_category(name="Toys")
    hammer = make_product(price="10.00", stock=100, category=tools)
    ball = make_product(price="2.50", stock=100, category=toys)
    loose = make_product(price="1.00", stock=100)
    ada = make_customer(name="Ada Lovelace", email="ada@math.org")
    bob = make_customer(name="Bob Martin", email="bob@acme.com")

    def at(day, hour=12):
        return datetime(2024, 3, day, hour, tzinfo=UTC)

    sales = {
        "a": make_sale(
            items=[(hammer, 1)], customer=ada, sold_at=at(1, 0), reference="INV-A"
        ),  # 10.00
        "b": make_sale(
            items=[(hammer, 2), (ball, 2)], customer=bob, sold_at=at(2), reference="INV-B"
        ),  # 25.00
        "c": make_sale(items=[(ball, 4)], customer=ada, sold_at=at(3), reference="POS-C"),  # 10
        "d": make_sale(
            items=[(loose, 7)], customer=bob, sold_at=at(3, 23), reference="POS-D"
        ),  # 7.00
        "e": make_sale(items=[(loose, 3), (ball, 1)], sold_at=at(4), reference="WEB-E"),  # 5.50
    }
    sale_cancel(sale=sales["d"])
    return {
        "sales": sales,
        "tools": tools,
        "toys": toys,
        "hammer": hammer,
        "ball": ball,
        "loose": loose,
        "ada": ada,
        "bob": bob,
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "edcba"),
        ({"sold_after": "2024-03-02T12:00:00Z"}, "edcb"),
        ({"sold_before": "2024-03-02T12:00:00Z"}, "a"),
        ({"sold_after": "2024-03-02T00:00:00Z", "sold_before": "2024-03-03T23:00:00Z"}, "cb"),
        ({"date_from": "2024-03-03"}, "edc"),
        ({"date_to": "2024-03-03"}, "dcba"),
        ({"date_from": "2024-03-01", "date_to": "2024-03-01"}, "a"),
        ({"date_from": "2024-03-03", "date_to": "2024-03-03"}, "dc"),
        ({"customer": "ada"}, "ca"),
        ({"customer": "bob"}, "db"),
        ({"has_customer": "true"}, "dcba"),
        ({"has_customer": "false"}, "e"),
        ({"product": "hammer"}, "ba"),
        ({"product": "loose"}, "ed"),
        ({"category": "toys"}, "ecb"),
        ({"category": "tools"}, "ba"),
        ({"status": "cancelled"}, "d"),
        ({"status": "completed"}, "ecba"),
        ({"total_min": "10"}, "cba"),
        ({"total_max": "7.00"}, "ed"),
        ({"total_min": "5.50", "total_max": "10.00"}, "edca"),
        ({"reference": "inv-b"}, "b"),
        ({"reference": "INV"}, ""),
        ({"search": "pos"}, "dc"),
        ({"search": "lovelace"}, "ca"),
        ({"search": "acme.com"}, "db"),
        ({"search": "inv martin"}, "b"),
        ({"customer": "ada", "product": "ball"}, "c"),
        ({"status": "completed", "has_customer": "true", "total_min": "10"}, "cba"),
    ],
)
def test_sale_filters(analyst, world, params, expected):
    params = {
        key: world[value].pk if key in ("customer", "product", "category") else value
        for key, value in params.items()
    }
    response = analyst.get(URL, params)
    assert response.status_code == 200, response.json()
    assert ids(response) == [world["sales"][key].pk for key in expected]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("sold_at", "abcde"),
        ("-sold_at", "edcba"),
        ("total", "edacb"),  # 5.50, 7.00, 10.00 (a before c: id tie-breaker), 10.00, 25.00
        ("-total", "bcade"),
        ("created_at", "abcde"),
        ("-id", "edcba"),
    ],
)
def test_sale_ordering(analyst, world, ordering, expected):
    response = analyst.get(URL, {"ordering": ordering})
    assert response.status_code == 200, response.json()
    assert ids(response) == [world["sales"][key].pk for key in expected]


def test_unknown_sale_ordering_names_the_allowed_fields(analyst, world):
    error = assert_error(analyst.get(URL, {"ordering": "reference"}), 400, "invalid")
    message = error["fields"]["ordering"][0]
    assert "reference" in message
    for field in ("sold_at", "total", "created_at"):
        assert field in message


@pytest.mark.parametrize(
    "params",
    [
        {"sold_after": "notadate"},
        {"sold_before": "2024-03-40T00:00:00Z"},
        {"date_from": "yesterday"},
        {"date_to": "2024-02-30"},
        {"customer": "abc"},
        {"has_customer": "maybe"},
        {"product": "x"},
        {"category": "1;DROP"},
        {"status": "bogus"},
        {"total_min": "abc"},
        {"total_max": "Infinity"},
        {"ordering": "--sold_at"},
    ],
)
def test_invalid_sale_filters_are_400(analyst, world, params):
    error = assert_error(analyst.get(URL, params), 400, "invalid")
    assert set(error["fields"]) == set(params)
