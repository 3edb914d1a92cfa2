"""Edits outside sales that change analytics answers (a customer's country or segment, a
product's category, a category's name, an import of customers or products) start a new cache
generation after their commit: the very next answer shows them."""

from __future__ import annotations

import io

import pytest

from core.dataio.importer import ImportOptions
from core.dataio.services import data_import
from customers.services import customer_update
from products.services import category_update, product_update
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


@pytest.fixture
def shop(db):
    garden = make_category(name="Garden")
    product = make_product(sku="RAKE-1", price="10.00", cost="4.00", stock=100, category=garden)
    customer = make_customer(email="ann@example.com", country="FR")
    make_sale(items=[(product, 2)], customer=customer)
    return garden, product, customer


def rows(response):
    body = response.json()
    return body.get("rows") or body.get("results") or body["items"]


def labels(client, dimension):
    response = client.get("/api/analytics/breakdown/", {"dimension": dimension})
    assert response.status_code == 200, response.json()
    return sorted(str(value) for row in rows(response) for value in row.values())


def test_a_customer_moving_country_is_in_the_next_answer(
    client_for, shop, django_capture_on_commit_callbacks
):
    client = client_for("analyst")
    assert any("FR" in value for value in labels(client, "country"))
    with django_capture_on_commit_callbacks(execute=True):
        customer_update(customer=shop[2], data={"country": "DE"})
    after = labels(client, "country")
    assert any("DE" in value for value in after) and not any(value == "FR" for value in after)


def test_a_category_rename_and_a_product_move_are_in_the_next_answer(
    client_for, shop, django_capture_on_commit_callbacks
):
    client = client_for("analyst")
    assert "Garden" in labels(client, "category")
    with django_capture_on_commit_callbacks(execute=True):
        category_update(category=shop[0], data={"name": "Outdoor"})
    assert "Outdoor" in labels(client, "category")
    tools = make_category(name="Tools")
    with django_capture_on_commit_callbacks(execute=True):
        product_update(product=shop[1], data={"category": tools})
    after = labels(client, "category")
    assert "Tools" in after and "Outdoor" not in after


def test_an_import_of_customers_is_in_the_next_answer(
    client_for, shop, django_capture_on_commit_callbacks
):
    client = client_for("analyst")
    assert not any("corporate" in value for value in labels(client, "segment"))
    data = b"email,name,segment\nann@example.com,Ann,corporate\n"
    with django_capture_on_commit_callbacks(execute=True):
        report = data_import(
            table="customers", source=io.BytesIO(data), fmt="csv", options=ImportOptions()
        )
    assert report.updated == 1
    assert any("corporate" in value for value in labels(client, "segment"))
