"""/api/stock-movements/: the read-only stock ledger."""

import pytest

from products.models import StockMovement
from tests.api import assert_error, ids
from tests.factories import make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/stock-movements/"


def test_ledger_lists_every_stock_change_newest_first(client_for):
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 3)])
    client = client_for("analyst")

    response = client.get(URL, {"product": product.pk})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["delta"], row["reason"]) for row in rows] == [(-3, "sale"), (10, "restock")]
    assert rows[0]["reference"] == sale.reference
    assert rows[0]["product"] == product.pk
    assert set(rows[0]) == {"id", "product", "delta", "reason", "reference", "actor", "created_at"}
    assert response.json()["next"] is None  # cursor pages: no count on a growing ledger


def test_retrieve_shows_the_actor_username(manager_client):
    product = make_product(stock=1)
    manager_client.patch(f"/api/products/{product.pk}/", {"stock_quantity": 6}, format="json")
    movement = StockMovement.objects.get(product=product, reason="adjustment")
    response = manager_client.get(f"{URL}{movement.pk}/")
    assert response.status_code == 200
    assert response.json()["delta"] == 5
    assert response.json()["actor"] == manager_client.user.username


def test_unknown_movement_is_404(manager_client):
    assert_error(manager_client.get(f"{URL}999999/"), 404, "not_found")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_ledger_is_read_only(manager_client, method):
    product = make_product(stock=2)
    movement = StockMovement.objects.get(product=product)
    url = URL if method == "post" else f"{URL}{movement.pk}/"
    response = getattr(manager_client, method)(
        url, {"product": product.pk, "delta": 5, "reason": "restock"}, format="json"
    )
    assert_error(response, 405, "method_not_allowed")
    assert list(StockMovement.objects.values_list("pk", "delta")) == [(movement.pk, 2)]


def test_filters_reason_reference_and_dates(client_for):
    first = make_product(stock=5)
    second = make_product(stock=5)
    sale = make_sale(items=[(first, 1), (second, 2)])
    client = client_for("analyst")

    sale_rows = StockMovement.objects.filter(reason="sale")
    assert set(ids(client.get(URL, {"reason": "sale"}))) == set(
        sale_rows.values_list("pk", flat=True)
    )
    assert len(ids(client.get(URL, {"reference": sale.reference}))) == 2
    assert ids(client.get(URL, {"reference": "nope"})) == []
    assert set(ids(client.get(URL, {"product": second.pk, "reason": "restock"}))) == set(
        StockMovement.objects.filter(product=second, reason="restock").values_list("pk", flat=True)
    )

    old = StockMovement.objects.get(product=first, reason="restock")
    StockMovement.objects.filter(pk=old.pk).update(created_at="2020-01-01T00:00:00Z")
    assert ids(client.get(URL, {"created_before": "2021-01-01T00:00:00Z"})) == [old.pk]
    after = ids(client.get(URL, {"created_after": "2021-01-01T00:00:00Z"}))
    assert old.pk not in after and len(after) == 3


def test_ordering_by_delta(client_for):
    product = make_product(stock=7)
    make_sale(items=[(product, 2)])
    client = client_for("analyst")
    deltas = [row["delta"] for row in client.get(URL, {"ordering": "delta"}).json()["results"]]
    assert deltas == [-2, 7]
    deltas = [row["delta"] for row in client.get(URL, {"ordering": "-delta"}).json()["results"]]
    assert deltas == [7, -2]


@pytest.mark.parametrize(
    "params",
    [
        {"product": "abc"},
        {"reason": "bogus"},
        {"created_after": "notadate"},
        {"created_before": "2024-13-45"},
        {"ordering": "product__sku"},
    ],
)
def test_invalid_filters_are_400(client_for, params):
    response = client_for("analyst").get(URL, params)
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == set(params)
