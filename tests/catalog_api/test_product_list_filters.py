"""The product list for clients of the Product Catalog API: its filter names (``name``,
``min_price``, ``max_price``, ``available``) mean what they mean there, and a query parameter
the list does not know (``is_featured``, a typo) is a 400 naming it, never ignored."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.api import assert_error
from tests.factories import make_product

pytestmark = pytest.mark.django_db

PRODUCTS = "/api/products/"


@pytest.fixture
def shelf():
    """Four products: names, prices and stock chosen so each filter keeps a different set."""
    return {
        "alpha": make_product(name="Alpha Widget", price="5.00", stock=3),
        "beta": make_product(name="Beta widget", price="15.00", stock=0),
        "gamma": make_product(name="Gamma Gadget", price="25.00", stock=7),
        "delta": make_product(name="Delta Gadget", price="35.00", stock=0),
    }


def listed(query: str) -> set[int]:
    response = APIClient().get(f"{PRODUCTS}?{query}")
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def ids(shelf, *names: str) -> set[int]:
    return {shelf[name].pk for name in names}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("name=WIDGET", ("alpha", "beta")),  # contains, case-insensitive
        ("name=a gad", ("gamma", "delta")),  # a phrase, not words
        ("min_price=15", ("beta", "gamma", "delta")),
        ("max_price=15", ("alpha", "beta")),
        ("min_price=10&max_price=30", ("beta", "gamma")),
        ("available=true", ("alpha", "gamma")),
        ("available=false", ("beta", "delta")),
        ("name=gadget&available=true", ("gamma",)),
    ],
)
def test_the_peer_catalogs_filter_names_filter(shelf, query, expected):
    assert listed(query) == ids(shelf, *expected)


@pytest.mark.parametrize(
    ("alias", "ours"),
    [
        ("min_price=15", "price_min=15"),
        ("max_price=15", "price_max=15"),
        ("available=true", "in_stock=true"),
    ],
)
def test_an_alias_answers_as_our_own_name(shelf, alias, ours):
    assert listed(alias) == listed(ours)


def test_is_featured_is_a_400_saying_there_is_no_such_flag(shelf):
    response = APIClient().get(f"{PRODUCTS}?is_featured=true")

    error = assert_error(response, 400)
    assert "is_featured" in error["message"]
    assert "featured" in error["fields"]["is_featured"][0]


def test_unknown_query_parameters_are_a_400_naming_each(shelf):
    response = APIClient().get(f"{PRODUCTS}?nmae=Alpha&colour=red&price_min=1")

    error = assert_error(response, 400)
    assert set(error["fields"]) == {"colour", "nmae"}
    assert "colour, nmae" in error["message"]


def test_pagination_ordering_and_format_are_known(shelf):
    response = APIClient().get(
        f"{PRODUCTS}?page=1&page_size=2&ordering=-price&format=json&available=true"
    )

    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == [
        shelf["gamma"].pk,
        shelf["alpha"].pk,
    ]


@pytest.mark.parametrize("query", ["available=maybe", "min_price=cheap", f"name={'x' * 201}"])
def test_bad_alias_values_are_a_400(shelf, query):
    response = APIClient().get(f"{PRODUCTS}?{query}")

    error = assert_error(response, 400)
    assert query.split("=")[0] in error["fields"]
