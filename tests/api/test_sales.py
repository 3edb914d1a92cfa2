"""/api/sales/: create, retrieve, update, delete and cancel, with their effect on stock and the
ledger; validation errors and the all-or-nothing insufficient-stock conflict."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from products.models import StockMovement
from sales.models import Sale, SaleItem
from tests.api import assert_error, assert_ledger_matches_stock, stock_of
from tests.factories import make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/sales/"


def detail(sale) -> str:
    return f"{URL}{sale.pk}/"


def snapshot() -> tuple:
    """Everything a failed sale must leave untouched."""
    return (
        Sale.objects.count(),
        SaleItem.objects.count(),
        StockMovement.objects.count(),
        sorted(StockMovement.objects.values_list("product_id", "delta")),
    )


@pytest.mark.embedded
def test_create_sale_takes_stock_snapshots_prices_and_computes_the_total(manager_client):
    hammer = make_product(sku="HAM", name="Hammer", price="12.50", cost="7.00", stock=10)
    nails = make_product(sku="NAIL", name="Nails", price="0.10", stock=1000)
    customer = make_customer()

    response = manager_client.post(
        URL,
        {
            "customer": customer.pk,
            "sold_at": "2024-05-06T10:30:00Z",
            "items": [
                {"product": hammer.pk, "quantity": 2},
                {"product": nails.pk, "quantity": 150},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "completed"
    assert body["customer"] == customer.pk
    assert body["customer_name"] == customer.name
    assert body["total"] == "40.00"  # 2 x 12.50 + 150 x 0.10
    assert body["reference"].startswith("S-20240506-")
    assert datetime.fromisoformat(body["sold_at"]) == datetime(2024, 5, 6, 10, 30, tzinfo=UTC)
    items = sorted(body["items"], key=lambda item: item["sku"])
    assert items == [
        {
            "product": hammer.pk,
            "sku": "HAM",
            "name": "Hammer",
            "quantity": 2,
            "unit_price": "12.50",
            "line_total": "25.00",
        },
        {
            "product": nails.pk,
            "sku": "NAIL",
            "name": "Nails",
            "quantity": 150,
            "unit_price": "0.10",
            "line_total": "15.00",
        },
    ]

    sale = Sale.objects.get(pk=body["id"])
    assert sale.total == Decimal("40.00")
    assert sale.created_by == manager_client.user
    assert stock_of(hammer) == 8
    assert stock_of(nails) == 850
    sale_rows = StockMovement.objects.filter(reason="sale", reference=sale.reference)
    assert sorted(sale_rows.values_list("product_id", "delta", "actor")) == sorted(
        [(hammer.pk, -2, manager_client.user.pk), (nails.pk, -150, manager_client.user.pk)]
    )
    assert_ledger_matches_stock(hammer, nails)

    # the price is a snapshot: changing the product later does not change the sale
    manager_client.patch(f"/api/products/{hammer.pk}/", {"price": "99.00"}, format="json")
    again = manager_client.get(detail(sale)).json()
    assert again["total"] == "40.00"
    assert {i["sku"]: i["unit_price"] for i in again["items"]}["HAM"] == "12.50"


def test_create_without_customer_and_with_own_reference(manager_client):
    product = make_product(stock=3, price="2.00")
    response = manager_client.post(
        URL,
        {
            "customer": None,
            "reference": "POS-0001",
            "items": [{"product": product.pk, "quantity": 3}],
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["reference"] == "POS-0001"
    assert response.json()["customer"] is None
    assert response.json()["customer_name"] is None
    assert stock_of(product) == 0


def test_lines_of_the_same_product_are_merged(manager_client):
    product = make_product(stock=10, price="1.00")
    response = manager_client.post(
        URL,
        {"items": [{"product": product.pk, "quantity": 2}, {"product": product.pk, "quantity": 3}]},
        format="json",
    )
    assert response.status_code == 201
    assert [(i["product"], i["quantity"]) for i in response.json()["items"]] == [(product.pk, 5)]
    assert stock_of(product) == 5


def test_duplicate_reference_is_409_and_writes_nothing(manager_client):
    product = make_product(stock=5)
    make_sale(items=[(product, 1)], reference="REF-1")
    before = snapshot()
    response = manager_client.post(
        URL, {"reference": "REF-1", "items": [{"product": product.pk, "quantity": 1}]}, "json"
    )
    error = assert_error(response, 409, "duplicate_reference")
    assert "reference" in error["fields"]
    assert snapshot() == before
    assert stock_of(product) == 4


def test_retrieve_and_list_show_the_same_sale(client_for):
    sale = make_sale(items=[(make_product(), 1)], customer=make_customer())
    client = client_for("analyst")
    retrieved = client.get(detail(sale))
    assert retrieved.status_code == 200
    assert retrieved.json()["id"] == sale.pk
    assert client.get(URL).json()["results"] == [retrieved.json()]


def test_patch_items_moves_stock_by_the_difference(manager_client):
    kept = make_product(stock=20, price="3.00")
    dropped = make_product(stock=20, price="5.00")
    added = make_product(stock=20, price="7.00")
    sale = make_sale(items=[(kept, 4), (dropped, 2)])
    assert (stock_of(kept), stock_of(dropped)) == (16, 18)

    response = manager_client.patch(
        detail(sale),
        {"items": [{"product": kept.pk, "quantity": 6}, {"product": added.pk, "quantity": 1}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert sorted((i["product"], i["quantity"]) for i in body["items"]) == sorted(
        [(kept.pk, 6), (added.pk, 1)]
    )
    assert body["total"] == "25.00"  # 6 x 3 + 1 x 7
    assert (stock_of(kept), stock_of(dropped), stock_of(added)) == (14, 20, 19)
    edits = StockMovement.objects.filter(reason="sale_edit", reference=sale.reference)
    assert sorted(edits.values_list("product_id", "delta")) == sorted(
        [(kept.pk, -2), (dropped.pk, 2), (added.pk, -1)]
    )
    assert_ledger_matches_stock(kept, dropped, added)
    sale.refresh_from_db()
    assert sale.total == Decimal("25.00")
    assert SaleItem.objects.filter(sale=sale).count() == 2


def test_patch_keeps_the_price_snapshot_of_kept_lines(manager_client):
    product = make_product(stock=10, price="2.00")
    sale = make_sale(items=[(product, 1)])
    manager_client.patch(f"/api/products/{product.pk}/", {"price": "9.00"}, format="json")
    response = manager_client.patch(
        detail(sale), {"items": [{"product": product.pk, "quantity": 3}]}, format="json"
    )
    assert response.json()["total"] == "6.00"
    assert response.json()["items"][0]["unit_price"] == "2.00"


def test_patch_customer_and_sold_at_leaves_stock_alone(manager_client):
    product = make_product(stock=5)
    sale = make_sale(items=[(product, 2)], customer=make_customer())
    other = make_customer()
    movements = StockMovement.objects.count()

    response = manager_client.patch(
        detail(sale), {"customer": other.pk, "sold_at": "2023-01-02T03:04:05Z"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["customer"] == other.pk
    sale.refresh_from_db()
    assert sale.customer_id == other.pk
    assert sale.sold_at == datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert stock_of(product) == 3
    assert StockMovement.objects.count() == movements

    cleared = manager_client.patch(detail(sale), {"customer": None}, format="json")
    assert cleared.json()["customer"] is None
    sale.refresh_from_db()
    assert sale.customer_id is None


def test_put_replaces_the_items(manager_client):
    first = make_product(stock=10, price="1.00")
    second = make_product(stock=10, price="2.00")
    sale = make_sale(items=[(first, 5)])
    response = manager_client.put(
        detail(sale),
        {"customer": None, "items": [{"product": second.pk, "quantity": 4}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [(i["product"], i["quantity"]) for i in response.json()["items"]] == [(second.pk, 4)]
    assert response.json()["total"] == "8.00"
    assert (stock_of(first), stock_of(second)) == (10, 6)
    assert_ledger_matches_stock(first, second)


def test_put_without_items_is_400(manager_client):
    sale = make_sale(items=[(make_product(), 1)])
    error = assert_error(manager_client.put(detail(sale), {"customer": None}, "json"), 400)
    assert "items" in error["fields"]


def test_patch_items_beyond_stock_is_409_and_changes_nothing(manager_client):
    product = make_product(stock=5, price="1.00")
    sale = make_sale(items=[(product, 2)])
    before = snapshot()
    response = manager_client.patch(
        detail(sale), {"items": [{"product": product.pk, "quantity": 9}]}, format="json"
    )
    error = assert_error(response, 409, "insufficient_stock")
    assert error["requested"] == 7  # 9 wanted, 2 already taken by this sale
    assert error["available"] == 3
    assert snapshot() == before
    assert stock_of(product) == 3
    assert SaleItem.objects.get(sale=sale).quantity == 2


def test_delete_restores_stock_first(manager_client):
    first = make_product(stock=10)
    second = make_product(stock=10)
    sale = make_sale(items=[(first, 3), (second, 4)])

    response = manager_client.delete(detail(sale))
    assert response.status_code == 204
    assert not Sale.objects.filter(pk=sale.pk).exists()
    assert not SaleItem.objects.filter(sale_id=sale.pk).exists()
    assert (stock_of(first), stock_of(second)) == (10, 10)
    returned = StockMovement.objects.filter(reason="sale_cancel", reference=sale.reference)
    assert sorted(returned.values_list("product_id", "delta")) == sorted(
        [(first.pk, 3), (second.pk, 4)]
    )
    assert_ledger_matches_stock(first, second)


def test_deleting_a_cancelled_sale_does_not_restock_twice(manager_client):
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 3)])
    assert manager_client.post(f"{detail(sale)}cancel/").status_code == 200
    assert manager_client.delete(detail(sale)).status_code == 204
    assert stock_of(product) == 10
    assert_ledger_matches_stock(product)


def test_cancel_returns_stock_and_keeps_the_record(manager_client):
    product = make_product(stock=10, price="4.00")
    sale = make_sale(items=[(product, 3)])

    response = manager_client.post(f"{detail(sale)}cancel/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["cancelled_at"]
    assert body["total"] == "12.00"
    assert len(body["items"]) == 1
    sale.refresh_from_db()
    assert sale.status == "cancelled"
    assert stock_of(product) == 10
    assert list(
        StockMovement.objects.filter(reason="sale_cancel").values_list("product_id", "delta")
    ) == [(product.pk, 3)]

    second = manager_client.post(f"{detail(sale)}cancel/")
    error = assert_error(second, 409, "sale_cancelled")
    assert sale.reference in error["message"]
    assert stock_of(product) == 10
    assert StockMovement.objects.filter(reason="sale_cancel").count() == 1
    assert_ledger_matches_stock(product)


def test_a_cancelled_sale_cannot_be_edited(manager_client):
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 3)])
    manager_client.post(f"{detail(sale)}cancel/")
    response = manager_client.patch(
        detail(sale), {"items": [{"product": product.pk, "quantity": 1}]}, format="json"
    )
    assert_error(response, 409, "sale_cancelled")
    assert stock_of(product) == 10


def test_cancel_unknown_sale_is_404(manager_client):
    assert_error(manager_client.post(f"{URL}999999/cancel/"), 404, "not_found")


# --- Validation ----------------------------------------------------------------------------------


def test_sale_beyond_stock_is_409_with_details_and_writes_nothing(manager_client):
    plenty = make_product(stock=50)
    scarce = make_product(sku="SCARCE", stock=2)
    before = snapshot()

    response = manager_client.post(
        URL,
        {
            "customer": make_customer().pk,
            "items": [
                {"product": plenty.pk, "quantity": 5},
                {"product": scarce.pk, "quantity": 3},
            ],
        },
        format="json",
    )
    error = assert_error(response, 409, "insufficient_stock")
    assert error["product"] == scarce.pk
    assert error["sku"] == "SCARCE"
    assert error["requested"] == 3
    assert error["available"] == 2
    assert "SCARCE" in error["message"]
    assert snapshot() == before
    assert (stock_of(plenty), stock_of(scarce)) == (50, 2)
    assert not Sale.objects.exists()


def test_merged_lines_beyond_stock_are_409(manager_client):
    product = make_product(stock=4)
    response = manager_client.post(
        URL,
        {"items": [{"product": product.pk, "quantity": 3}, {"product": product.pk, "quantity": 2}]},
        format="json",
    )
    error = assert_error(response, 409, "insufficient_stock")
    assert (error["requested"], error["available"]) == (5, 4)
    assert stock_of(product) == 4


def test_unknown_product_is_invalid_product_naming_the_line(manager_client):
    product = make_product(stock=5)
    before = snapshot()
    response = manager_client.post(
        URL,
        {"items": [{"product": product.pk, "quantity": 1}, {"product": 999999, "quantity": 1}]},
        format="json",
    )
    error = assert_error(response, 400, "invalid_product")
    assert "2" in error["message"]
    assert error["fields"]["items"][0] == {}
    assert "product" in error["fields"]["items"][1]
    assert snapshot() == before


def test_huge_product_id_is_400_not_500(manager_client):
    response = manager_client.post(
        URL, {"items": [{"product": 10**20, "quantity": 1}]}, format="json"
    )
    assert_error(response, 400)
    assert not Sale.objects.exists()


def test_inactive_product_cannot_be_sold(manager_client):
    product = make_product(stock=5, is_active=False)
    before = snapshot()
    response = manager_client.post(
        URL, {"items": [{"product": product.pk, "quantity": 1}]}, format="json"
    )
    error = assert_error(response, 400, "invalid_product")
    assert "not active" in error["fields"]["items"][0]["product"][0]
    assert snapshot() == before
    assert stock_of(product) == 5


def test_empty_items_is_400(manager_client):
    error = assert_error(manager_client.post(URL, {"items": []}, format="json"), 400, "invalid")
    assert error["fields"]["items"]
    assert not Sale.objects.exists()


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -2}, "quantity"),
        ({"quantity": "many"}, "quantity"),
        ({"quantity": 1_000_001}, "quantity"),
        ({"product": None}, "product"),
        ({"product": "abc"}, "product"),
    ],
)
def test_invalid_line_is_400_naming_the_line(manager_client, bad_line, field):
    """Errors of the lines come as a list indexed like the request's items, ``{}`` for a good
    line: the same shape as the service's invalid_product errors."""
    product = make_product(stock=5)
    good = {"product": product.pk, "quantity": 1}
    bad = {k: v for k, v in {**good, **bad_line}.items() if v is not None}
    before = snapshot()
    response = manager_client.post(URL, {"items": [good, bad]}, format="json")
    error = assert_error(response, 400, "invalid")
    assert list(error["fields"]) == ["items"]
    lines = error["fields"]["items"]
    assert isinstance(lines, list)
    assert lines[0] == {}
    assert field in lines[1], error
    assert snapshot() == before


def test_missing_items_is_400(manager_client):
    error = assert_error(manager_client.post(URL, {"customer": None}, format="json"), 400)
    assert "items" in error["fields"]


def test_unknown_customer_is_400_on_customer(manager_client):
    product = make_product(stock=5)
    before = snapshot()
    response = manager_client.post(
        URL, {"customer": 999999, "items": [{"product": product.pk, "quantity": 1}]}, "json"
    )
    error = assert_error(response, 400)
    assert "customer" in error["fields"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"sold_at": "yesterday"},
        {"customer": "abc"},
        {"reference": "x" * 65},
    ],
)
def test_invalid_sale_fields_are_400(manager_client, body):
    product = make_product(stock=5)
    response = manager_client.post(
        URL, {**body, "items": [{"product": product.pk, "quantity": 1}]}, "json"
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == set(body)
    assert not Sale.objects.exists()


def test_unknown_sale_is_404(manager_client):
    assert_error(manager_client.get(f"{URL}999999/"), 404, "not_found")
    assert_error(manager_client.delete(f"{URL}999999/"), 404)
    assert_error(manager_client.patch(f"{URL}999999/", {"customer": None}, "json"), 404)
