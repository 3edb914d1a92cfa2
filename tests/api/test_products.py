"""/api/products/: CRUD, the stock ledger behind stock_quantity, money as strings, cost
visibility and validation errors."""

from decimal import Decimal

import pytest

from products.models import Product, StockMovement
from tests.api import assert_error, assert_ledger_matches_stock, stock_of
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/products/"


def detail(product) -> str:
    return f"{URL}{product.pk}/"


@pytest.mark.embedded
def test_product_crud_round_trip(manager_client):
    category = make_category(name="Tools")

    created = manager_client.post(
        URL,
        {
            "sku": "HAM-001",
            "name": "Hammer",
            "category": category.pk,
            "price": "12.50",
            "cost": "7.25",
            "stock_quantity": 40,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["sku"] == "HAM-001"
    assert body["name"] == "Hammer"
    assert body["category"] == category.pk
    assert body["category_name"] == "Tools"
    assert body["price"] == "12.50"
    assert body["cost"] == "7.25"
    assert body["stock_quantity"] == 40
    assert body["is_active"] is True
    assert body["created_at"] and body["updated_at"]
    product = Product.objects.get(pk=body["id"])
    assert product.price == Decimal("12.50")
    assert product.stock_quantity == 40

    listed = manager_client.get(URL)
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [product.pk]

    retrieved = manager_client.get(detail(product))
    assert retrieved.status_code == 200
    assert retrieved.json() == body

    replaced = manager_client.put(
        detail(product),
        {"sku": "HAM-002", "name": "Claw hammer", "category": None, "price": "13.00"},
        format="json",
    )
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["sku"] == "HAM-002"
    assert replaced.json()["category"] is None
    assert replaced.json()["category_name"] is None
    assert replaced.json()["price"] == "13.00"
    assert replaced.json()["stock_quantity"] == 40  # PUT without stock leaves it alone
    product.refresh_from_db()
    assert (product.sku, product.name, product.category_id) == ("HAM-002", "Claw hammer", None)

    patched = manager_client.patch(detail(product), {"is_active": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    assert patched.json()["name"] == "Claw hammer"
    product.refresh_from_db()
    assert product.is_active is False

    deleted = manager_client.delete(detail(product))
    assert deleted.status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not StockMovement.objects.filter(product_id=product.pk).exists()
    assert manager_client.get(detail(product)).status_code == 404


def test_create_with_stock_writes_one_restock_row_with_actor(manager_client):
    response = manager_client.post(
        URL, {"sku": "S-1", "name": "Stocked", "price": "1.00", "stock_quantity": 25}, format="json"
    )
    assert response.status_code == 201
    product = Product.objects.get(pk=response.json()["id"])
    rows = list(StockMovement.objects.filter(product=product).values("delta", "reason", "actor"))
    assert rows == [{"delta": 25, "reason": "restock", "actor": manager_client.user.pk}]
    assert_ledger_matches_stock(product)


def test_create_without_stock_writes_no_ledger_row(manager_client):
    response = manager_client.post(URL, {"sku": "S-0", "name": "Empty", "price": "1.00"}, "json")
    assert response.status_code == 201
    assert response.json()["stock_quantity"] == 0
    assert response.json()["cost"] == "0.00"
    assert not StockMovement.objects.filter(product_id=response.json()["id"]).exists()


def test_patch_stock_quantity_writes_an_adjustment_of_the_difference(manager_client):
    product = make_product(stock=10)

    down = manager_client.patch(detail(product), {"stock_quantity": 3}, format="json")
    assert down.status_code == 200
    assert down.json()["stock_quantity"] == 3
    up = manager_client.patch(detail(product), {"stock_quantity": 8}, format="json")
    assert up.json()["stock_quantity"] == 8

    adjustments = list(
        StockMovement.objects.filter(product=product, reason="adjustment")
        .order_by("id")
        .values_list("delta", "actor")
    )
    assert adjustments == [(-7, manager_client.user.pk), (5, manager_client.user.pk)]
    assert stock_of(product) == 8
    assert_ledger_matches_stock(product)

    same = manager_client.patch(detail(product), {"stock_quantity": 8}, format="json")
    assert same.status_code == 200
    assert StockMovement.objects.filter(product=product).count() == 3  # no zero-delta row


def test_patch_price_does_not_touch_stock_or_ledger(manager_client):
    product = make_product(stock=10, price="5.00")
    response = manager_client.patch(detail(product), {"price": "6.10"}, format="json")
    assert response.status_code == 200
    assert response.json()["price"] == "6.10"
    assert response.json()["stock_quantity"] == 10
    assert StockMovement.objects.filter(product=product).count() == 1


def test_money_is_rendered_as_decimal_strings(client_for):
    make_product(price="1234.5", cost="0.1")
    row = client_for("analyst").get(URL).json()["results"][0]
    assert row["price"] == "1234.50"
    assert row["cost"] == "0.10"


@pytest.mark.parametrize(
    ("role", "sees_cost"),
    [(None, False), ("norole", False), ("analyst", True), ("sales", True), ("manager", True)],
)
def test_cost_is_shown_only_to_back_office_roles(client_for, role, sees_cost):
    product = make_product(cost="4.20")
    client = client_for(role)
    listed = client.get(URL).json()["results"][0]
    retrieved = client.get(detail(product)).json()
    assert ("cost" in listed) is sees_cost
    assert ("cost" in retrieved) is sees_cost
    if sees_cost:
        assert listed["cost"] == retrieved["cost"] == "4.20"
    # the public fields of the catalog contract are always there
    for key in ("id", "sku", "name", "price", "stock_quantity", "is_active"):
        assert key in listed


def test_delete_product_that_has_sales_is_409_and_keeps_it(manager_client):
    product = make_product(stock=5)
    make_sale(items=[(product, 1)])
    response = manager_client.delete(detail(product))
    assert_error(response, 409, "protected")
    assert Product.objects.filter(pk=product.pk).exists()
    assert_ledger_matches_stock(product)


def test_duplicate_sku_is_400_on_sku(manager_client):
    make_product(sku="DUP-1")
    response = manager_client.post(URL, {"sku": "DUP-1", "name": "x", "price": "1"}, "json")
    error = assert_error(response, 400, "invalid")
    assert "sku" in error["fields"]
    assert Product.objects.filter(sku="DUP-1").count() == 1


def test_duplicate_sku_on_update_is_400(manager_client):
    make_product(sku="TAKEN")
    other = make_product(sku="FREE")
    response = manager_client.patch(detail(other), {"sku": "TAKEN"}, format="json")
    error = assert_error(response, 400)
    assert "sku" in error["fields"]
    other.refresh_from_db()
    assert other.sku == "FREE"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "N", "name": "n", "price": "-1.00"}, "price"),
        ({"sku": "N", "name": "n", "price": "1.00", "cost": "-0.01"}, "cost"),
        ({"sku": "N", "name": "n", "price": "abc"}, "price"),
        ({"sku": "N", "name": "n", "price": "1.001"}, "price"),
        ({"sku": "N", "name": "n", "price": "12345678901.00"}, "price"),
        ({"sku": "N", "name": "n", "price": "1", "stock_quantity": -1}, "stock_quantity"),
        ({"sku": "N", "name": "n", "price": "1", "category": 999999}, "category"),
        ({"name": "n", "price": "1"}, "sku"),
        ({"sku": "N", "price": "1"}, "name"),
        ({"sku": "N", "name": "n"}, "price"),
    ],
)
def test_invalid_product_body_is_400_naming_the_field(manager_client, body, field):
    response = manager_client.post(URL, body, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error
    assert isinstance(error["fields"][field], list) and error["fields"][field]
    assert not Product.objects.exists()


def test_stock_quantity_beyond_the_column_range_is_400_not_500(manager_client):
    product = make_product(stock=1)
    response = manager_client.patch(detail(product), {"stock_quantity": 10**12}, format="json")
    error = assert_error(response, 400)
    assert "stock_quantity" in error["fields"]
    assert stock_of(product) == 1
    created = manager_client.post(
        URL, {"sku": "BIG", "name": "n", "price": "1", "stock_quantity": 10**12}, format="json"
    )
    assert_error(created, 400)
    assert not Product.objects.filter(sku="BIG").exists()


def test_patch_stock_to_negative_is_400_and_changes_nothing(manager_client):
    product = make_product(stock=4)
    response = manager_client.patch(detail(product), {"stock_quantity": -3}, format="json")
    error = assert_error(response, 400)
    assert "stock_quantity" in error["fields"]
    assert stock_of(product) == 4
    assert StockMovement.objects.filter(product=product).count() == 1


def test_unknown_product_is_404(manager_client):
    for url in (f"{URL}999999/", f"{URL}{10**20}/", f"{URL}abc/"):
        response = manager_client.get(url)
        # A product GET also answers the catalog contract's {"detail"} beside the error shape.
        assert response.status_code == 404
        assert response.json() == {
            "error": {"code": "not_found", "message": "Not found.", "fields": {}},
            "detail": "Not found.",
        }
    assert_error(manager_client.patch(f"{URL}999999/", {"name": "x"}, "json"), 404)
    assert_error(manager_client.delete(f"{URL}999999/"), 404)


def test_only_products_that_were_sold_are_protected(manager_client):
    """Only products that appear in a sale are protected."""
    sold = make_product()
    unsold = make_product()
    make_sale(items=[(sold, 1)], customer=make_customer())
    assert manager_client.delete(detail(unsold)).status_code == 204
    assert manager_client.delete(detail(sold)).status_code == 409
