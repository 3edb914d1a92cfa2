"""The permission matrix: every role against every endpoint and method.

- anonymous: may read products and categories; anything else is 401;
- norole (authenticated, no group): the public reads; anything else is 403;
- analyst: reads everything, writes nothing;
- sales: analyst + create and cancel sales, create customers;
- manager and superuser: everything.

A refused request changes nothing in the database; an allowed one does what it says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from customers.models import Customer
from products.models import Category, Product, StockMovement
from sales.models import Sale, SaleItem
from tests.api import assert_error
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

ROLES = [None, "norole", "analyst", "sales", "manager", "superuser"]


@dataclass
class Targets:
    customer: Customer  # no sales: deletable
    category: Category  # no products: deletable
    product: Product  # never sold: deletable
    sold_product: Product
    sale: Sale
    movement: StockMovement


@pytest.fixture
def targets() -> Targets:
    sold_product = make_product(stock=100)
    sale = make_sale(items=[(sold_product, 2)], customer=make_customer())
    return Targets(
        customer=make_customer(name="Target", email="target@example.com"),
        category=make_category(name="Target category"),
        product=make_product(sku="TARGET", stock=5),
        sold_product=sold_product,
        sale=sale,
        movement=StockMovement.objects.filter(product=sold_product).first(),
    )


@dataclass(frozen=True)
class Case:
    endpoint: str
    action: str
    method: str
    url: Callable[[Targets], str]
    body: Callable[[Targets], dict[str, Any] | None] = lambda t: None
    done: Callable[[Targets], bool] = lambda t: True  # the effect, once allowed


def _gone(model, pk) -> bool:
    return not model.objects.filter(pk=pk).exists()


CASES = [
    # customers
    Case("customers", "list", "get", lambda t: "/api/customers/"),
    Case("customers", "retrieve", "get", lambda t: f"/api/customers/{t.customer.pk}/"),
    Case(
        "customers",
        "create",
        "post",
        lambda t: "/api/customers/",
        lambda t: {"name": "New", "email": "new@example.com"},
        lambda t: Customer.objects.filter(email="new@example.com").exists(),
    ),
    Case(
        "customers",
        "update",
        "put",
        lambda t: f"/api/customers/{t.customer.pk}/",
        lambda t: {"name": "Renamed", "email": "renamed@example.com"},
        lambda t: Customer.objects.get(pk=t.customer.pk).email == "renamed@example.com",
    ),
    Case(
        "customers",
        "partial_update",
        "patch",
        lambda t: f"/api/customers/{t.customer.pk}/",
        lambda t: {"city": "Rome"},
        lambda t: Customer.objects.get(pk=t.customer.pk).city == "Rome",
    ),
    Case(
        "customers",
        "destroy",
        "delete",
        lambda t: f"/api/customers/{t.customer.pk}/",
        done=lambda t: _gone(Customer, t.customer.pk),
    ),
    # categories
    Case("categories", "list", "get", lambda t: "/api/categories/"),
    Case("categories", "retrieve", "get", lambda t: f"/api/categories/{t.category.pk}/"),
    Case(
        "categories",
        "create",
        "post",
        lambda t: "/api/categories/",
        lambda t: {"name": "Brand new"},
        lambda t: Category.objects.filter(name="Brand new").exists(),
    ),
    Case(
        "categories",
        "update",
        "put",
        lambda t: f"/api/categories/{t.category.pk}/",
        lambda t: {"name": "Renamed category"},
        lambda t: Category.objects.get(pk=t.category.pk).name == "Renamed category",
    ),
    Case(
        "categories",
        "partial_update",
        "patch",
        lambda t: f"/api/categories/{t.category.pk}/",
        lambda t: {"description": "Described"},
        lambda t: Category.objects.get(pk=t.category.pk).description == "Described",
    ),
    Case(
        "categories",
        "destroy",
        "delete",
        lambda t: f"/api/categories/{t.category.pk}/",
        done=lambda t: _gone(Category, t.category.pk),
    ),
    # products
    Case("products", "list", "get", lambda t: "/api/products/"),
    Case("products", "retrieve", "get", lambda t: f"/api/products/{t.product.pk}/"),
    Case(
        "products",
        "create",
        "post",
        lambda t: "/api/products/",
        lambda t: {"sku": "NEW-1", "name": "New", "price": "1.00", "stock_quantity": 3},
        lambda t: Product.objects.filter(sku="NEW-1", stock_quantity=3).exists(),
    ),
    Case(
        "products",
        "update",
        "put",
        lambda t: f"/api/products/{t.product.pk}/",
        lambda t: {"sku": "UPD-1", "name": "Updated", "price": "2.00"},
        lambda t: Product.objects.get(pk=t.product.pk).sku == "UPD-1",
    ),
    Case(
        "products",
        "partial_update",
        "patch",
        lambda t: f"/api/products/{t.product.pk}/",
        lambda t: {"stock_quantity": 9},
        lambda t: Product.objects.get(pk=t.product.pk).stock_quantity == 9,
    ),
    Case(
        "products",
        "destroy",
        "delete",
        lambda t: f"/api/products/{t.product.pk}/",
        done=lambda t: _gone(Product, t.product.pk),
    ),
    # sales
    Case("sales", "list", "get", lambda t: "/api/sales/"),
    Case("sales", "retrieve", "get", lambda t: f"/api/sales/{t.sale.pk}/"),
    Case(
        "sales",
        "create",
        "post",
        lambda t: "/api/sales/",
        lambda t: {"customer": t.customer.pk, "items": [{"product": t.product.pk, "quantity": 1}]},
        lambda t: (
            Sale.objects.filter(customer=t.customer).exists()
            and Product.objects.get(pk=t.product.pk).stock_quantity == 4
        ),
    ),
    Case(
        "sales",
        "update",
        "put",
        lambda t: f"/api/sales/{t.sale.pk}/",
        lambda t: {"items": [{"product": t.sold_product.pk, "quantity": 5}]},
        lambda t: (
            SaleItem.objects.get(sale=t.sale).quantity == 5
            and Product.objects.get(pk=t.sold_product.pk).stock_quantity == 95
        ),
    ),
    Case(
        "sales",
        "partial_update",
        "patch",
        lambda t: f"/api/sales/{t.sale.pk}/",
        lambda t: {"customer": None},
        lambda t: Sale.objects.get(pk=t.sale.pk).customer_id is None,
    ),
    Case(
        "sales",
        "destroy",
        "delete",
        lambda t: f"/api/sales/{t.sale.pk}/",
        done=lambda t: (
            _gone(Sale, t.sale.pk)
            and Product.objects.get(pk=t.sold_product.pk).stock_quantity == 100
        ),
    ),
    Case(
        "sales",
        "cancel",
        "post",
        lambda t: f"/api/sales/{t.sale.pk}/cancel/",
        done=lambda t: (
            Sale.objects.get(pk=t.sale.pk).status == "cancelled"
            and Product.objects.get(pk=t.sold_product.pk).stock_quantity == 100
        ),
    ),
    # the stock ledger: read-only
    Case("stock-movements", "list", "get", lambda t: "/api/stock-movements/"),
    Case("stock-movements", "retrieve", "get", lambda t: f"/api/stock-movements/{t.movement.pk}/"),
    Case(
        "stock-movements",
        "create",
        "post",
        lambda t: "/api/stock-movements/",
        lambda t: {"product": t.product.pk, "delta": 5, "reason": "restock"},
    ),
    Case(
        "stock-movements",
        "update",
        "put",
        lambda t: f"/api/stock-movements/{t.movement.pk}/",
        lambda t: {"product": t.product.pk, "delta": 5, "reason": "restock"},
    ),
    Case(
        "stock-movements",
        "partial_update",
        "patch",
        lambda t: f"/api/stock-movements/{t.movement.pk}/",
        lambda t: {"delta": 5},
    ),
    Case(
        "stock-movements", "destroy", "delete", lambda t: f"/api/stock-movements/{t.movement.pk}/"
    ),
]

SUCCESS = {
    "list": 200,
    "retrieve": 200,
    "create": 201,
    "update": 200,
    "partial_update": 200,
    "destroy": 204,
    "cancel": 200,
}
READS = {"list", "retrieve"}
PUBLIC = {"products", "categories"}
SALES_ROLE_WRITES = {("sales", "create"), ("sales", "cancel"), ("customers", "create")}


def expected_status(role: str | None, case: Case) -> int:
    if case.action in READS and case.endpoint in PUBLIC:
        return 200
    if role is None:
        return 401
    if role == "norole":
        return 403
    if case.action in READS:
        return 200
    if role in ("manager", "superuser"):
        return 405 if case.endpoint == "stock-movements" else SUCCESS[case.action]
    if role == "sales" and (case.endpoint, case.action) in SALES_ROLE_WRITES:
        return SUCCESS[case.action]
    return 403


def database_state() -> tuple:
    return (
        sorted(Customer.objects.values_list("pk", "name", "email", "city")),
        sorted(Category.objects.values_list("pk", "name", "description")),
        sorted(Product.objects.values_list("pk", "sku", "stock_quantity")),
        sorted(Sale.objects.values_list("pk", "status", "customer_id")),
        sorted(SaleItem.objects.values_list("pk", "quantity")),
        StockMovement.objects.count(),
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{c.endpoint}-{c.action}" for c in CASES])
@pytest.mark.parametrize("role", ROLES, ids=[r or "anonymous" for r in ROLES])
def test_permission_matrix(client_for, targets, role, case):
    client = client_for(role)
    expected = expected_status(role, case)
    before = database_state()

    response = getattr(client, case.method)(case.url(targets), case.body(targets), format="json")

    if expected >= 400:
        code = {
            401: "not_authenticated",
            403: "permission_denied",
            405: "method_not_allowed",
        }[expected]
        assert_error(response, expected, code)
        assert database_state() == before, "a refused request changed the database"
    else:
        assert response.status_code == expected, (role, case, response.content)
        if case.action not in READS:
            assert case.done(targets), "the allowed request did not do its job"
        else:
            assert database_state() == before


@pytest.mark.embedded
def test_analyst_reads_but_cannot_write(client_for):
    product = make_product(stock=5)
    client = client_for("analyst")
    assert client.get("/api/sales/").status_code == 200
    response = client.post(
        "/api/sales/", {"items": [{"product": product.pk, "quantity": 1}]}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    assert not Sale.objects.exists()
    product.refresh_from_db()
    assert product.stock_quantity == 5


def test_the_roles_are_the_groups_of_accounts_roles():
    """The matrix above relies on these groups existing with exactly these permissions."""
    from django.contrib.auth.models import Group

    from accounts.roles import ROLES as ROLE_PERMISSIONS

    for name, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=name)
        granted = {
            f"{app}.{codename}"
            for app, codename in group.permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert granted == set(codenames), name
