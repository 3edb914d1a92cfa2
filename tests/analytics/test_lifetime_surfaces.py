"""Issue 17: where the analytics show outside ``/api/analytics/``. A customer's lifetime figures
on ``/api/customers/`` and on the customer's admin page, and "bought together" on the product's
admin page (analytics/customer_api.py, analytics/admin.py). Expected figures are computed here
from the sales tables, for sales made through the real sale services."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

import customers.services
import products.services
from analytics.models import CustomerLifetime
from customers.admin import CustomerAdmin as PlainCustomerAdmin
from customers.models import Customer
from products.admin import ProductAdmin as PlainProductAdmin
from products.models import Product
from sales.models import Sale, SaleItem, SaleStatus
from sales.services import SaleLine, sale_cancel, sale_update
from tests.factories import make_customer, make_product, make_sale, make_user
from tests.oauth.conftest import bearer, make_application, make_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

CENT = Decimal("0.01")
LIFETIME_TABLE = CustomerLifetime._meta.db_table


def days_ago(days: int, hour: int = 12):
    return timezone.now().replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(
        days=days
    )


def expected_lifetime(customer: Customer) -> dict | None:
    """The lifetime figures from the sales tables: completed sales, local days, line totals."""
    sales = list(Sale.objects.filter(customer=customer, status=SaleStatus.COMPLETED))
    if not sales:
        return None
    days = [timezone.localdate(sale.sold_at) for sale in sales]
    revenue = sum(
        (item.line_total for item in SaleItem.objects.filter(sale__in=sales)), Decimal("0")
    )
    return {
        "first_sale": min(days).isoformat(),
        "last_sale": max(days).isoformat(),
        "orders": len(sales),
        "revenue": f"{revenue.quantize(CENT):f}",
    }


def user_with(*perms: str, **extra):
    """A user holding exactly these permissions (``app_label.codename``), no role."""
    user = make_user(**extra)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


@pytest.fixture
def history():
    """Alice: three completed sales on three days (one edited), one cancelled; Bob: one sale;
    Carol: only a cancelled sale; Dan: nothing."""
    cola = make_product(sku="COLA-1", price="2.50", stock=1000)
    chips = make_product(sku="CHIPS-1", price="1.99", stock=1000)
    alice, bob, carol, dan = (make_customer(name=n) for n in ("Alice", "Bob", "Carol", "Dan"))
    make_sale(items=[(cola, 2)], customer=alice, sold_at=days_ago(40))
    edited = make_sale(items=[(chips, 1)], customer=alice, sold_at=days_ago(10, hour=23))
    sale_update(sale=edited, lines=[SaleLine(chips.pk, 3), SaleLine(cola.pk, 1)])
    make_sale(items=[(cola, 1), (chips, 2)], customer=alice, sold_at=days_ago(2))
    sale_cancel(sale=make_sale(items=[(cola, 9)], customer=alice, sold_at=days_ago(60)))
    make_sale(items=[(chips, 5)], customer=bob, sold_at=days_ago(5))
    sale_cancel(sale=make_sale(items=[(cola, 1)], customer=carol))
    make_sale(items=[(cola, 1)])  # no customer
    return {"alice": alice, "bob": bob, "carol": carol, "dan": dan}


# --- The customers API ------------------------------------------------------------------------


def test_detail_and_list_carry_the_lifetime_figures_of_the_completed_sales(client_for, history):
    analyst = client_for("analyst")
    alice = expected_lifetime(history["alice"])
    assert alice is not None and alice["orders"] == 3  # the cancelled sale does not count

    for name, customer in history.items():
        answer = analyst.get(f"/api/customers/{customer.pk}/")
        assert answer.status_code == 200
        assert answer.json()["lifetime"] == expected_lifetime(customer), name
    assert analyst.get(f"/api/customers/{history['carol'].pk}/").json()["lifetime"] is None
    assert analyst.get(f"/api/customers/{history['dan'].pk}/").json()["lifetime"] is None

    listed = analyst.get("/api/customers/", {"page_size": 100}).json()["results"]
    assert {row["id"]: row["lifetime"] for row in listed} == {
        customer.pk: expected_lifetime(customer) for customer in history.values()
    }
    # The same figures as the analytics' own lifetime endpoint.
    report = analyst.get(f"/api/analytics/customers/{history['alice'].pk}/").json()
    assert (report["first_sale_day"], report["last_sale_day"]) == (
        alice["first_sale"],
        alice["last_sale"],
    )
    assert (report["orders"], report["revenue"]) == (alice["orders"], alice["revenue"])


def test_lifetime_follows_the_writes(client_for, history):
    analyst = client_for("analyst")
    dan = history["dan"]
    sale = make_sale(items=[(make_product(price="10.00"), 3)], customer=dan)
    assert analyst.get(f"/api/customers/{dan.pk}/").json()["lifetime"] == {
        "first_sale": timezone.localdate(sale.sold_at).isoformat(),
        "last_sale": timezone.localdate(sale.sold_at).isoformat(),
        "orders": 1,
        "revenue": "30.00",
    }
    sale_cancel(sale=sale)
    assert analyst.get(f"/api/customers/{dan.pk}/").json()["lifetime"] is None


def test_create_and_update_answer_the_lifetime_too(client_for, history):
    manager = client_for("manager")
    created = manager.post("/api/customers/", {"name": "Eve", "email": "eve@example.com"})
    assert created.status_code == 201
    assert created.json()["lifetime"] is None
    alice = history["alice"]
    changed = manager.patch(f"/api/customers/{alice.pk}/", {"city": "Lyon"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["lifetime"] == expected_lifetime(alice)


def test_lifetime_is_left_out_for_a_user_who_may_not_read_analytics(client, history):
    user = user_with("customers.view_customer")
    client.force_login(user)
    alice = history["alice"]
    detail = client.get(f"/api/customers/{alice.pk}/")
    assert detail.status_code == 200
    assert detail.json()["name"] == "Alice"
    assert "lifetime" not in detail.json()
    listed = client.get("/api/customers/").json()["results"]
    assert listed and all("lifetime" not in row for row in listed)
    # ... who could not read it from the analytics either.
    assert client.get(f"/api/analytics/customers/{alice.pk}/").status_code == 403


def test_an_oauth2_token_sees_the_lifetime_as_it_may_read_the_analytics(client, history):
    """A token's scopes narrow its user's role: it sees ``lifetime`` when it could read the
    same figures at /api/analytics/ (scope ``analytics`` or ``read``, and the user's
    permission). The customers endpoint itself needs ``read``."""
    alice = history["alice"]
    analyst = make_user(role="analyst")
    application, _ = make_application(user=analyst)
    token = make_token(application, scope="read")
    detail = client.get(f"/api/customers/{alice.pk}/", **bearer(token))
    assert detail.status_code == 200
    assert detail.json()["lifetime"] == expected_lifetime(alice)
    assert client.get(f"/api/analytics/customers/{alice.pk}/", **bearer(token)).status_code == 200

    plain = user_with("customers.view_customer")
    application, _ = make_application(user=plain)
    token = make_token(application, scope="read analytics")
    detail = client.get(f"/api/customers/{alice.pk}/", **bearer(token))
    assert detail.status_code == 200
    assert "lifetime" not in detail.json()
    assert client.get(f"/api/analytics/customers/{alice.pk}/", **bearer(token)).status_code == 403


def _list_queries(client) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/customers/", {"page_size": 100})
    assert response.status_code == 200
    return queries


def test_the_list_reads_the_lifetimes_of_a_page_in_one_query(client_for):
    product = make_product(stock=1000)

    def customers_with_sales(n: int) -> None:
        for _ in range(n):
            make_sale(items=[(product, 1)], customer=make_customer())

    customers_with_sales(1)
    one = _list_queries(client_for("analyst"))
    customers_with_sales(19)
    twenty = _list_queries(client_for("analyst"))
    assert len(twenty) == len(one), [q["sql"] for q in twenty.captured_queries]
    lifetime_reads = [q for q in twenty.captured_queries if LIFETIME_TABLE in q["sql"]]
    assert len(lifetime_reads) == 1
    rows = client_for("analyst").get("/api/customers/", {"page_size": 100}).json()["results"]
    assert len(rows) == 20 and all(row["lifetime"]["orders"] == 1 for row in rows)

    # Who may not read analytics costs no lifetime query at all.
    outsider = client_for(None)
    outsider.force_authenticate(user_with("customers.view_customer"))
    assert not [q for q in _list_queries(outsider).captured_queries if LIFETIME_TABLE in q["sql"]]


def test_the_schema_documents_lifetime_as_an_optional_nullable_object(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    customer = schema["components"]["schemas"]["CustomerOutput"]
    lifetime = customer["properties"]["lifetime"]
    assert lifetime["nullable"] is True
    assert "analytics.view_analytics" in lifetime["description"]
    assert "lifetime" not in customer["required"]
    assert "name" in customer["required"]
    figures = schema["components"]["schemas"]["LifetimeFigures"]
    assert figures["properties"]["revenue"]["type"] == "string"
    assert set(figures["required"]) == {"first_sale", "last_sale", "orders", "revenue"}
    list_item = schema["components"]["schemas"]["PaginatedCustomerOutputList"]
    assert list_item["properties"]["results"]["items"]["$ref"].endswith("/CustomerOutput")


# --- The admin: a customer's lifetime ---------------------------------------------------------


def customer_page(client, customer) -> str:
    response = client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def readonly(html: str, label: str) -> str:
    """The text of the read-only field labelled ``label`` on an admin change page."""
    match = re.search(
        rf"<label>{re.escape(label)}:</label>\s*<div class=\"readonly\">(.*?)</div>", html, re.S
    )
    assert match, f"no read-only field {label!r}"
    return match.group(1).strip()


def test_the_customer_admin_page_shows_the_lifetime(admin_client, history):
    alice = history["alice"]
    expected = expected_lifetime(alice)
    html = customer_page(admin_client, alice)
    assert "<h2>Lifetime</h2>" in html or ">Lifetime<" in html
    first, last = (
        timezone.localdate(s.sold_at)
        for s in (
            Sale.objects.filter(customer=alice, status="completed").earliest("sold_at"),
            Sale.objects.filter(customer=alice, status="completed").latest("sold_at"),
        )
    )
    assert readonly(html, "First sale") == first.isoformat()
    assert readonly(html, "Last sale") == last.isoformat()
    assert readonly(html, "Revenue") == f"{expected['revenue']} {settings.CURRENCY}"
    sales = readonly(html, "Sales")
    assert sales.startswith(f"{expected['orders']} (")
    link = re.search(r'href="([^"]+)"', sales).group(1).replace("&amp;", "&")
    changelist = admin_client.get(link)
    assert changelist.status_code == 200
    listed = list(changelist.context["cl"].result_list)
    assert listed and {sale.customer_id for sale in listed} == {alice.pk}
    assert len(listed) == expected["orders"]  # the cancelled sale is not listed

    html = customer_page(admin_client, history["dan"])
    assert readonly(html, "First sale") == "No completed sale yet"
    assert readonly(html, "Sales") == "0"


def test_a_view_only_analyst_sees_the_sections_too(client, history, basket):
    """An analyst (view permissions only: every field of the page is read-only)."""
    client.force_login(make_user(role="analyst", is_staff=True))
    alice = expected_lifetime(history["alice"])
    assert readonly(customer_page(client, history["alice"]), "Revenue").startswith(alice["revenue"])
    assert [row[1] for row in ROW.findall(product_page(client, basket["A"]))] == [
        "Product B",
        "Product C",
    ]


def test_the_lifetime_section_needs_the_analytics_permission(client, history):
    staff = user_with("customers.view_customer", "customers.change_customer", is_staff=True)
    client.force_login(staff)
    html = customer_page(client, history["alice"])
    assert "Alice" in html
    assert ">Lifetime<" not in html and "First sale" not in html


def test_the_customer_admin_is_the_customers_one_extended(admin_client, history, monkeypatch):
    """Everything of customers' admin stays: the change page still saves through the
    service (and the lifetime's read-only fields are not part of the form)."""
    model_admin = admin.site._registry[Customer]
    assert isinstance(model_admin, PlainCustomerAdmin)
    assert type(model_admin) is not PlainCustomerAdmin
    calls = []
    real_update = customers.services.customer_update

    def spy(**kwargs):
        calls.append(kwargs["data"])
        return real_update(**kwargs)

    monkeypatch.setattr(customers.services, "customer_update", spy)
    alice = history["alice"]
    data = {
        "name": "Alice B.",
        "email": alice.email,
        "phone": "",
        "city": "Paris",
        "country": "FR",
        "segment": alice.segment,
    }
    response = admin_client.post(reverse("admin:customers_customer_change", args=[alice.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert calls == [{"name": "Alice B.", "city": "Paris", "country": "FR"}]
    alice.refresh_from_db()
    assert (alice.name, alice.city) == ("Alice B.", "Paris")


# --- The admin: "bought together" on a product's page ------------------------------------------


@pytest.fixture
def basket():
    """A with B twice, A with C once (and D alone), all completed in the last year; A with D
    in a cancelled sale and 400 days ago (neither counts); E never sold."""
    a, b, c, d, e = (make_product(sku=f"SKU-{x}", name=f"Product {x}", stock=1000) for x in "ABCDE")
    make_sale(items=[(a, 1), (b, 2)], sold_at=days_ago(3))
    make_sale(items=[(a, 2), (b, 1)], sold_at=days_ago(200))
    make_sale(items=[(a, 1), (c, 1)], sold_at=days_ago(20))
    make_sale(items=[(d, 1)], sold_at=days_ago(1))
    sale_cancel(sale=make_sale(items=[(a, 1), (d, 1)], sold_at=days_ago(5)))
    make_sale(items=[(a, 1), (d, 1)], sold_at=days_ago(400))
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


ROW = re.compile(
    r'<tr><td><a href="([^"]+)">([^<]*)</a></td><td>([^<]*)</td><td>(\d+)</td>'
    r"<td>([^<]*) %</td><td>([^<]*)</td></tr>"
)


def product_page(client, product) -> str:
    response = client.get(reverse("admin:products_product_change", args=[product.pk]))
    assert response.status_code == 200
    return response.content.decode()


def pct(value: Decimal) -> str:
    return str((value * 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).quantize(CENT))


def test_the_product_admin_page_lists_what_is_bought_together(admin_client, basket):
    a = basket["A"]
    html = product_page(admin_client, a)
    assert "Bought together (last 365 days)" in html
    rows = ROW.findall(html)
    # Independent figures: 3 completed sales of the last year contain A, 4 sales in all; B is
    # in 2 sales (both with A), C in 1 (with A).
    with_a, everything = 3, 4
    expected = []
    for key, together, containing in (("B", 2, 2), ("C", 1, 1)):
        product = basket[key]
        confidence = Decimal(together) / with_a
        lift = (confidence / (Decimal(containing) / everything)).quantize(CENT, ROUND_HALF_UP)
        expected.append(
            (
                reverse("admin:products_product_change", args=[product.pk]),
                product.name,
                product.sku,
                str(together),
                pct(confidence),
                str(lift),
            )
        )
    assert rows == expected
    assert rows[0][1] == "Product B" and rows[0][3] == "2"
    dashboard = f'href="/dashboard/?product={a.pk}&amp;preset=365"'
    assert dashboard in html
    answer = admin_client.get(f"/dashboard/?product={a.pk}&preset=365")
    assert answer.status_code == 200
    assert "Product B" in answer.content.decode()


def test_bought_together_when_there_is_nothing_to_show(admin_client, basket):
    html = product_page(admin_client, basket["E"])
    assert "No sale in the last 365 days." in html
    assert not ROW.findall(html)
    html = product_page(admin_client, basket["D"])
    assert "1 sale in the last 365 days, none with another product." in html


def test_bought_together_needs_the_analytics_permission(client, basket):
    staff = user_with(
        "products.view_product",
        "products.change_product",
        "products.view_stockmovement",
        is_staff=True,
    )
    client.force_login(staff)
    html = product_page(client, basket["A"])
    assert "Product A" in html and "Stock ledger (latest" in html
    assert "Bought together" not in html and not ROW.findall(html)


def test_the_product_admin_is_the_products_one_extended(admin_client, basket, monkeypatch):
    """The ledger inline and the writes through products.services stay."""
    model_admin = admin.site._registry[Product]
    assert isinstance(model_admin, PlainProductAdmin)
    assert type(model_admin) is not PlainProductAdmin
    a = basket["A"]
    html = product_page(admin_client, a)
    assert "Stock ledger (latest" in html
    calls = []
    real_update = products.services.product_update

    def spy(**kwargs):
        calls.append(kwargs["data"])
        return real_update(**kwargs)

    monkeypatch.setattr(products.services, "product_update", spy)
    a.refresh_from_db()
    data = {
        "stock_movements-TOTAL_FORMS": "0",
        "stock_movements-INITIAL_FORMS": "0",
        "sku": a.sku,
        "name": "Product A renamed",
        "category": "",
        "price": str(a.price),
        "cost": str(a.cost),
        "stock_quantity": str(a.stock_quantity),
        "initial-stock_quantity": str(a.stock_quantity),
        "is_active": "on",
    }
    response = admin_client.post(reverse("admin:products_product_change", args=[a.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert calls == [{"name": "Product A renamed"}]
    a.refresh_from_db()
    assert a.name == "Product A renamed"
