"""The Django admin: every model browsable, and every write going through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from accounts.models import ApiKey
from accounts.services import api_key_create, hash_api_key_secret
from customers.admin import CustomerAdmin
from customers.models import Customer
from products.models import Category, Product, StockMovement
from products.selectors import stock_ledger_balance
from products.services import product_update
from sales.models import Sale, SaleItem, SaleStatus
from sales.services import sale_cancel
from tests.factories import make_category, make_customer, make_product, make_sale, make_user

pytestmark = pytest.mark.django_db


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return make_user(is_superuser=True, is_staff=True)


@pytest.fixture
def su_client(client, superuser):
    client.force_login(superuser)
    client.user = superuser
    return client


def staff_client(client, role):
    user = make_user(role=role, is_staff=True)
    client.force_login(user)
    client.user = user
    return client


def url(name, *args, query=""):
    return reverse(f"admin:{name}", args=args) + (f"?{query}" if query else "")


def page(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def action_names(response) -> list[str]:
    form = response.context["action_form"]
    return [] if form is None else [value for value, _ in form.fields["action"].choices]


def stock(product) -> int:
    return Product.objects.get(pk=product.pk).stock_quantity


def ledger(reference):
    return sorted(
        StockMovement.objects.filter(reference=reference).values_list(
            "product_id", "delta", "reason", "actor_id"
        )
    )


def assert_ledger_balanced(*products):
    for product in products:
        assert stock_ledger_balance(product_id=product.pk) == stock(product)


SOLD_AT = ("2024-05-17", "10:30:00")


def sale_add_data(lines, *, customer=None, reference="", sold_at=SOLD_AT, extra_rows=1):
    """The POST of the sale add form: ``lines`` are ``(product, quantity)`` inline rows, followed
    by ``extra_rows`` rows left empty (as the browser sends them)."""
    data = {
        "reference": reference,
        "customer": customer.pk if customer else "",
        "sold_at_0": sold_at[0],
        "sold_at_1": sold_at[1],
        "items-TOTAL_FORMS": str(len(lines) + extra_rows),
        "items-INITIAL_FORMS": "0",
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for index, (product, quantity) in enumerate(lines):
        data[f"items-{index}-product"] = str(product.pk)
        data[f"items-{index}-quantity"] = str(quantity)
    for index in range(len(lines), len(lines) + extra_rows):
        data[f"items-{index}-product"] = ""
        data[f"items-{index}-quantity"] = ""
    return data


def sale_change_data(sale, *, quantities=None, delete=(), add=(), customer=None):
    """The POST of a sale's change form: its current rows (``quantities`` overrides a
    product's quantity, ``delete`` ticks DELETE), then ``add`` new ``(product, quantity)`` rows."""
    quantities = quantities or {}
    items = list(sale.items.order_by("id"))
    local = timezone.localtime(sale.sold_at)
    customer = customer if customer is not None else sale.customer
    data = {
        "customer": customer.pk if customer else "",
        "sold_at_0": local.strftime("%Y-%m-%d"),
        "sold_at_1": local.strftime("%H:%M:%S"),
        "items-TOTAL_FORMS": str(len(items) + len(add)),
        "items-INITIAL_FORMS": str(len(items)),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for index, item in enumerate(items):
        data[f"items-{index}-id"] = str(item.pk)
        data[f"items-{index}-sale"] = str(sale.pk)
        data[f"items-{index}-product"] = str(item.product_id)
        data[f"items-{index}-quantity"] = str(quantities.get(item.product_id, item.quantity))
        if item.product_id in delete:
            data[f"items-{index}-DELETE"] = "on"
    for offset, (product, quantity) in enumerate(add):
        index = len(items) + offset
        data[f"items-{index}-sale"] = str(sale.pk)
        data[f"items-{index}-product"] = str(product.pk)
        data[f"items-{index}-quantity"] = str(quantity)
    return data


# --- every model: changelist (with search and a filter), add and change pages --------------


def test_customer_pages(su_client):
    alice = make_customer(
        name="Alice Martin",
        email="alice@example.com",
        city="Lyon",
        country="FR",
        segment="corporate",
    )
    make_customer(name="Alicia Keys", email="alicia@example.com", country="US", segment="consumer")
    make_customer(name="Bob Stone", email="bob@example.com", country="FR", segment="corporate")

    response = su_client.get(url("customers_customer_changelist", query="q=ali&segment=corporate"))
    assert response.status_code == 200
    assert response.context["cl"].result_list[0] == alice
    assert len(response.context["cl"].result_list) == 1

    response = su_client.get(url("customers_customer_changelist", query="q=lyon&country=FR"))
    assert list(response.context["cl"].result_list) == [alice]

    response = su_client.get(url("customers_customer_add"))
    assert response.status_code == 200
    assert 'name="email"' in page(response)
    response = su_client.get(url("customers_customer_change", alice.pk))
    assert response.status_code == 200
    assert "alice@example.com" in page(response)


def test_category_and_product_pages(su_client):
    drinks, food = make_category(name="Drinks"), make_category(name="Food")
    cola = make_product(sku="COLA-1", name="Cola", category=drinks)
    make_product(sku="COLA-2", name="Cola zero", category=drinks, is_active=False)
    make_product(sku="BREAD-1", name="Bread", category=food)

    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    query = urlencode(  # the "Today" choice of the date filter
        {"q": "drin", "created_at__gte": today, "created_at__lt": today + dt.timedelta(days=1)}
    )
    response = su_client.get(url("products_category_changelist", query=query))
    assert response.status_code == 200
    assert [(c.name, c.product_count) for c in response.context["cl"].result_list] == [
        ("Drinks", 2)
    ]
    assert su_client.get(url("products_category_add")).status_code == 200
    assert su_client.get(url("products_category_change", drinks.pk)).status_code == 200

    query = f"q=cola&is_active__exact=1&category__id__exact={drinks.pk}"
    response = su_client.get(url("products_product_changelist", query=query))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [cola]
    assert su_client.get(url("products_product_add")).status_code == 200
    response = su_client.get(url("products_product_change", cola.pk))
    assert response.status_code == 200
    assert "opening stock" in page(response)  # the ledger inline
    assert 'name="initial-stock_quantity" value="100"' in page(response)

    # The product picker of a sale line searches active products only.
    response = su_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "sales", "model_name": "saleitem", "field_name": "product", "term": "cola"},
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(cola.pk)]


def test_stock_movement_pages(su_client):
    cola = make_product(sku="COLA-1", stock=10)
    bread = make_product(sku="BREAD-1", stock=5)
    make_sale(items=[(cola, 2)], reference="S-TEST-1")

    response = su_client.get(
        url("products_stockmovement_changelist", query="q=cola&reason__exact=sale")
    )
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [(m.product_id, m.delta, m.reference) for m in rows] == [(cola.pk, -2, "S-TEST-1")]

    response = su_client.get(url("products_stockmovement_changelist", query="q=S-TEST-1"))
    assert [m.delta for m in response.context["cl"].result_list] == [-2]

    # The product page links to its whole ledger, filtered on the product.
    response = su_client.get(
        url("products_stockmovement_changelist", query=f"product__id__exact={bread.pk}")
    )
    assert response.status_code == 200
    assert [(m.product_id, m.delta) for m in response.context["cl"].result_list] == [(bread.pk, 5)]

    movement = StockMovement.objects.filter(product=cola).first()
    response = su_client.get(url("products_stockmovement_change", movement.pk))
    assert response.status_code == 200  # a read-only view
    assert 'name="_save"' not in page(response)


def test_sale_pages(su_client):
    customer = make_customer(name="Alice Martin", email="alice@example.com")
    cola, bread = make_product(stock=50), make_product(stock=50)
    may = dt.datetime(2024, 5, 17, 10, 30, tzinfo=dt.UTC)
    june = dt.datetime(2024, 6, 1, 9, 0, tzinfo=dt.UTC)
    wanted = make_sale(items=[(cola, 1), (bread, 2)], customer=customer, sold_at=may)
    make_sale(items=[(cola, 1)], customer=customer, sold_at=june)
    cancelled = make_sale(items=[(cola, 1)], customer=customer, sold_at=may)
    sale_cancel(sale=cancelled)

    query = "q=alice@example&status__exact=completed&sold_at__year=2024&sold_at__month=5"
    response = su_client.get(url("sales_sale_changelist", query=query))
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows == [wanted]
    assert rows[0].item_count == 2
    assert wanted.reference in page(response)

    response = su_client.get(url("sales_sale_changelist", query=f"q={wanted.reference}"))
    assert list(response.context["cl"].result_list) == [wanted]

    response = su_client.get(url("sales_sale_add"))
    assert response.status_code == 200
    assert 'name="items-0-quantity"' in page(response)
    response = su_client.get(url("sales_sale_change", wanted.pk))
    assert response.status_code == 200
    assert 'name="items-0-quantity"' in page(response)


def test_sale_changelist_counts_items_without_n_plus_one(su_client, django_assert_max_num_queries):
    products = [make_product(stock=100) for _ in range(3)]
    for _ in range(3):
        make_sale(items=[(products[0], 1), (products[1], 1)])
    su_client.get(url("sales_sale_changelist"))  # warm up (session, content types)
    with django_assert_max_num_queries(12) as few:
        su_client.get(url("sales_sale_changelist"))
    for _ in range(10):
        make_sale(items=[(products[2], 1)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = su_client.get(url("sales_sale_changelist"))
    assert len(response.context["cl"].result_list) == 13


def test_api_key_pages(su_client):
    api_key_create(name="Warehouse sync")
    api_key_create(name="Old partner")
    old = ApiKey.objects.get(name="Old partner")
    old.is_active = False
    old.save()

    response = su_client.get(url("accounts_apikey_changelist", query="q=sync&is_active__exact=1"))
    assert response.status_code == 200
    assert [k.name for k in response.context["cl"].result_list] == ["Warehouse sync"]

    response = su_client.get(url("accounts_apikey_add"))
    assert response.status_code == 200
    assert list(response.context["adminform"].form.fields) == ["name"]

    response = su_client.get(url("accounts_apikey_change", old.pk))
    assert response.status_code == 200
    assert old.hashed_secret not in page(response)
    assert set(response.context["adminform"].form.fields) == {"name", "is_active"}


def test_manager_staff_uses_the_admin(client):
    manager_client = staff_client(client, "manager")
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 4)])
    for name in (
        "customers_customer",
        "products_category",
        "products_product",
        "products_stockmovement",
        "sales_sale",
        "accounts_apikey",
    ):
        response = manager_client.get(url(f"{name}_changelist"))
        assert response.status_code == 200, name
    response = manager_client.get(url("sales_sale_changelist"))
    assert "cancel_sales" in action_names(response)

    response = manager_client.post(
        url("sales_sale_changelist"),
        {"action": "cancel_sales", "_selected_action": [sale.pk]},
    )
    assert response.status_code == 302
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.CANCELLED
    assert stock(product) == 10


def test_cancel_action_needs_the_cancel_permission(client):
    analyst_client = staff_client(client, "analyst")  # may look, not cancel
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 4)])

    response = analyst_client.get(url("sales_sale_changelist"))
    assert response.status_code == 200
    assert "cancel_sales" not in action_names(response)
    response = analyst_client.post(
        url("sales_sale_changelist"), {"action": "cancel_sales", "_selected_action": [sale.pk]}
    )
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.COMPLETED
    assert stock(product) == 6
    assert analyst_client.get(url("sales_sale_add")).status_code == 403


# --- customers -----------------------------------------------------------------------------


def test_customer_add_change_and_duplicate_email(su_client):
    data = {
        "name": "Alice",
        "email": " Alice@Example.com ",
        "phone": "+33 1 23",
        "city": "Lyon",
        "country": "FR",
        "segment": "corporate",
    }
    response = su_client.post(url("customers_customer_add"), data)
    assert response.status_code == 302
    alice = Customer.objects.get()
    assert (alice.email, alice.city, alice.country.code, alice.segment) == (
        "Alice@Example.com",
        "Lyon",
        "FR",
        "corporate",
    )
    assert LogEntry.objects.filter(object_id=str(alice.pk)).count() == 1

    response = su_client.post(url("customers_customer_add"), {**data, "email": "ALICE@example.COM"})
    assert response.status_code == 200
    assert "already exists" in page(response)
    assert Customer.objects.count() == 1

    response = su_client.post(
        url("customers_customer_change", alice.pk), {**data, "email": alice.email, "city": "Paris"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.city == "Paris"


def test_customer_with_sales_cannot_be_deleted(su_client):
    customer = make_customer()
    make_sale(items=[(make_product(), 1)], customer=customer)
    lonely = make_customer()

    response = su_client.post(url("customers_customer_delete", customer.pk), {"post": "yes"})
    assert response.status_code == 200
    assert "has sales and cannot be deleted" in page(response)
    assert Customer.objects.filter(pk=customer.pk).exists()

    response = su_client.post(
        url("customers_customer_changelist"),
        {"action": "delete_selected", "_selected_action": [customer.pk, lonely.pk], "post": "yes"},
    )
    assert "has sales and cannot be deleted" in page(response)
    assert Customer.objects.count() == 2

    response = su_client.post(url("customers_customer_delete", lonely.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=lonely.pk).exists()


def test_customer_delete_refused_by_the_service_is_a_message(su_client, monkeypatch):
    """Sales recorded between the confirmation page and the delete: the service refuses."""
    customer = make_customer()
    monkeypatch.setattr(  # the confirmation page saw no sales
        CustomerAdmin, "get_deleted_objects", lambda self, objs, request: ([], {}, set(), [])
    )
    make_sale(items=[(make_product(), 1)], customer=customer)

    response = su_client.post(url("customers_customer_delete", customer.pk), {"post": "yes"})
    assert response.status_code == 302
    assert any("cannot be deleted" in m for m in messages_of(response))
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert not LogEntry.objects.filter(object_id=str(customer.pk)).exists()


# --- products and the ledger -----------------------------------------------------------------


def product_data(**overrides):
    """The POST of the product form (with the management form of the read-only ledger inline,
    which the browser always sends)."""
    data = {
        "stock_movements-TOTAL_FORMS": "0",
        "stock_movements-INITIAL_FORMS": "0",
        "sku": "COLA-1",
        "name": "Cola",
        "category": "",
        "price": "2.50",
        "cost": "1.10",
        "stock_quantity": "25",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_product_created_in_admin_writes_the_ledger(su_client, superuser):
    category = make_category()
    response = su_client.post(url("products_product_add"), product_data(category=str(category.pk)))
    assert response.status_code == 302
    product = Product.objects.get(sku="COLA-1")
    assert (product.stock_quantity, product.price, product.category) == (
        25,
        Decimal("2.50"),
        category,
    )
    assert list(
        StockMovement.objects.filter(product=product).values_list("delta", "reason", "actor_id")
    ) == [(25, "restock", superuser.pk)]

    # Changing the stock in the form records the difference as a manual adjustment.
    response = su_client.post(
        url("products_product_change", product.pk),
        product_data(
            category=str(category.pk),
            stock_quantity="30",
            name="Cola classic",
            **{"initial-stock_quantity": "25"},  # the figure the page showed
        ),
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.stock_quantity) == ("Cola classic", 30)
    assert StockMovement.objects.filter(product=product).first().delta == 5
    assert StockMovement.objects.filter(product=product).first().reason == "adjustment"

    # A sale takes 4 while the page (showing 30) is open.
    make_sale(items=[(product, 4)])
    seen_30 = {"category": str(category.pk), "initial-stock_quantity": "30"}

    # Saving without touching the stock leaves it (and the ledger) alone: no stale figure.
    response = su_client.post(
        url("products_product_change", product.pk),
        product_data(stock_quantity="30", name="Cola", **seen_30),
    )
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.stock_quantity) == ("Cola", 26)
    assert StockMovement.objects.filter(product=product).count() == 3

    # Changing the stock from a stale page is refused, nothing changes.
    response = su_client.post(
        url("products_product_change", product.pk),
        product_data(stock_quantity="40", name="Cola light", **seen_30),
    )
    assert response.status_code == 200
    assert "The stock changed to 26 since this page was loaded" in page(response)
    product.refresh_from_db()
    assert (product.name, product.stock_quantity) == ("Cola", 26)
    assert StockMovement.objects.filter(product=product).count() == 3
    assert_ledger_balanced(product)


def test_category_add_rename_and_protected_delete(su_client):
    response = su_client.post(url("products_category_add"), {"name": " Drinks ", "description": ""})
    assert response.status_code == 302
    drinks = Category.objects.get()
    assert drinks.name == "Drinks"

    response = su_client.post(url("products_category_add"), {"name": "DRINKS", "description": ""})
    assert response.status_code == 200
    assert "already exists" in page(response)
    assert Category.objects.count() == 1

    response = su_client.post(
        url("products_category_change", drinks.pk), {"name": "Soft drinks", "description": "Cold"}
    )
    assert response.status_code == 302
    drinks.refresh_from_db()
    assert (drinks.name, drinks.description) == ("Soft drinks", "Cold")

    make_product(category=drinks)
    response = su_client.post(url("products_category_delete", drinks.pk), {"post": "yes"})
    assert response.status_code == 200
    assert "Cannot delete" in page(response)
    assert Category.objects.filter(pk=drinks.pk).exists()


def test_product_form_errors_change_nothing(su_client):
    make_product(sku="COLA-1", stock=3)
    response = su_client.post(url("products_product_add"), product_data(sku="COLA-1"))
    assert response.status_code == 200
    assert "already exists" in page(response)
    response = su_client.post(
        url("products_product_add"), product_data(sku="NEG-1", stock_quantity="-4")
    )
    assert response.status_code == 200
    assert not Product.objects.filter(sku="NEG-1").exists()
    assert Product.objects.count() == 1


def test_product_page_shows_the_newest_50_ledger_rows_read_only(su_client):
    product = make_product(stock=1)
    for quantity in range(2, 62):
        product_update(product=product, data={"stock_quantity": quantity})
    response = su_client.get(url("products_product_change", product.pk))
    formset = response.context["inline_admin_formsets"][0].formset
    shown = [form.instance.delta for form in formset.forms]
    assert len(shown) == 50
    assert shown[0] == 1 and shown == [1] * 50  # the adjustments, newest first
    assert formset.forms[0].instance == StockMovement.objects.filter(product=product).first()
    assert 'name="stock_movements-0-DELETE"' not in page(response)

    # Saving the product leaves the ledger alone.
    response = su_client.post(
        url("products_product_change", product.pk),
        {
            **product_data(sku=product.sku, stock_quantity="61", name="Renamed"),
            "initial-stock_quantity": "61",
            "stock_movements-TOTAL_FORMS": "50",
            "stock_movements-INITIAL_FORMS": "50",
        },
    )
    assert response.status_code == 302
    assert StockMovement.objects.filter(product=product).count() == 61
    assert_ledger_balanced(product)


def test_sold_product_cannot_be_deleted(su_client):
    sold = make_product(stock=10)
    make_sale(items=[(sold, 1)])
    unsold = make_product(stock=10)

    response = su_client.post(url("products_product_delete", sold.pk), {"post": "yes"})
    assert response.status_code == 200
    assert "appears in sales and cannot be deleted" in page(response)
    assert Product.objects.filter(pk=sold.pk).exists()

    response = su_client.get(url("products_product_delete", unsold.pk))
    assert "its stock ledger (1 movements)" in page(response)
    response = su_client.post(url("products_product_delete", unsold.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Product.objects.filter(pk=unsold.pk).exists()
    assert not StockMovement.objects.filter(product_id=unsold.pk).exists()


def test_sold_product_delete_refused_by_the_service_is_a_message(su_client, monkeypatch):
    sold = make_product(stock=10)
    make_sale(items=[(sold, 1)])
    monkeypatch.setattr("products.admin.protected_by_other_apps", lambda product: False)

    response = su_client.post(
        url("products_product_changelist"),
        {"action": "delete_selected", "_selected_action": [sold.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert any("deactivate it instead" in m for m in messages_of(response))
    assert not any("Successfully deleted" in m for m in messages_of(response))
    assert Product.objects.filter(pk=sold.pk).exists()
    assert StockMovement.objects.filter(product=sold).count() == 2
    assert not LogEntry.objects.filter(object_id=str(sold.pk)).exists()


def test_stock_movement_admin_refuses_add_change_delete(su_client):
    product = make_product(stock=10)
    movement = StockMovement.objects.get(product=product)

    assert su_client.get(url("products_stockmovement_add")).status_code == 403
    assert (
        su_client.post(url("products_stockmovement_add"), {"product": product.pk, "delta": 5})
    ).status_code == 403
    response = su_client.post(
        url("products_stockmovement_change", movement.pk),
        {"product": product.pk, "delta": 99, "reason": "restock"},
    )
    assert response.status_code == 403
    assert (
        su_client.post(
            url("products_stockmovement_delete", movement.pk), {"post": "yes"}
        ).status_code
        == 403
    )
    response = su_client.post(
        url("products_stockmovement_changelist"),
        {"action": "delete_selected", "_selected_action": [movement.pk], "post": "yes"},
    )
    movement.refresh_from_db()
    assert movement.delta == 10
    assert StockMovement.objects.count() == 1
    response = su_client.get(url("products_stockmovement_changelist"))
    assert "delete_selected" not in action_names(response)


# --- sales -----------------------------------------------------------------------------------


def test_sale_added_in_admin_takes_stock_exactly_like_the_api(su_client, superuser):
    customer = make_customer()
    cola = make_product(price="2.50", stock=20)
    bread = make_product(price="1.20", stock=10)

    response = su_client.post(
        url("sales_sale_add"),
        sale_add_data([(cola, 3), (bread, 2)], customer=customer, reference="S-ADMIN-1"),
    )
    assert response.status_code == 302, page(response)
    sale = Sale.objects.get(reference="S-ADMIN-1")
    assert response["Location"] == url("sales_sale_changelist")
    assert (sale.customer, sale.status, sale.total, sale.created_by) == (
        customer,
        SaleStatus.COMPLETED,
        Decimal("9.90"),
        superuser,
    )
    assert sale.sold_at == dt.datetime(2024, 5, 17, 10, 30, tzinfo=dt.UTC)
    assert sorted(sale.items.values_list("product_id", "quantity", "unit_price", "line_total")) == [
        (cola.pk, 3, Decimal("2.50"), Decimal("7.50")),
        (bread.pk, 2, Decimal("1.20"), Decimal("2.40")),
    ]
    assert (stock(cola), stock(bread)) == (17, 8)
    admin_ledger = ledger("S-ADMIN-1")
    assert admin_ledger == sorted(
        [(cola.pk, -3, "sale", superuser.pk), (bread.pk, -2, "sale", superuser.pk)]
    )
    log = LogEntry.objects.get(object_id=str(sale.pk))
    assert log.is_addition()

    # The same sale through the API: same stock decrements, same ledger rows.
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(superuser)
    response = api.post(
        "/api/sales/",
        {
            "customer": customer.pk,
            "reference": "S-API-1",
            "sold_at": "2024-05-17T10:30:00Z",
            "items": [{"product": cola.pk, "quantity": 3}, {"product": bread.pk, "quantity": 2}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    api_sale = Sale.objects.get(reference="S-API-1")
    assert (stock(cola), stock(bread)) == (14, 6)
    assert ledger("S-API-1") == admin_ledger
    assert api_sale.total == sale.total
    assert sorted(api_sale.items.values_list("product_id", "quantity", "line_total")) == sorted(
        sale.items.values_list("product_id", "quantity", "line_total")
    )
    assert_ledger_balanced(cola, bread)


def test_sales_role_records_a_sale_in_the_admin(client):
    seller = staff_client(client, "sales")
    product = make_product(stock=5)
    response = seller.post(url("sales_sale_add"), sale_add_data([(product, 2)], reference="S-S1"))
    assert response.status_code == 302, page(response)
    sale = Sale.objects.get(reference="S-S1")
    assert sale.created_by == seller.user
    assert stock(product) == 3
    assert ledger("S-S1") == [(product.pk, -2, "sale", seller.user.pk)]
    # ... but may not edit it afterwards (no change permission).
    response = seller.post(
        url("sales_sale_change", sale.pk), sale_change_data(sale, quantities={product.pk: 1})
    )
    assert response.status_code == 403
    assert stock(product) == 3


def test_sale_added_without_reference_gets_one(su_client):
    product = make_product(stock=5)
    response = su_client.post(url("sales_sale_add"), sale_add_data([(product, 5)]))
    assert response.status_code == 302
    sale = Sale.objects.get()
    assert sale.reference.startswith("S-20240517-")
    assert sale.customer is None
    assert stock(product) == 0


def test_sale_exceeding_stock_shows_an_error_and_changes_nothing(su_client):
    cola = make_product(sku="COLA-1", stock=20)
    bread = make_product(sku="BREAD-1", stock=1)
    movements = StockMovement.objects.count()

    response = su_client.post(
        url("sales_sale_add"), sale_add_data([(cola, 3), (bread, 2)], reference="S-TOO-MUCH")
    )
    assert response.status_code == 200
    assert "Not enough stock for BREAD-1" in page(response)
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[1].errors["quantity"]  # on the offending row
    assert not formset.forms[0].errors
    # The user's input is still there to fix.
    assert response.context["adminform"].form["reference"].value() == "S-TOO-MUCH"
    assert Sale.objects.count() == 0
    assert SaleItem.objects.count() == 0
    assert StockMovement.objects.count() == movements
    assert (stock(cola), stock(bread)) == (20, 1)
    assert not LogEntry.objects.exists()


def test_sale_with_inactive_product_or_no_lines_is_refused(su_client):
    active = make_product(stock=10)
    inactive = make_product(sku="OLD-1", stock=10, is_active=False)

    response = su_client.post(url("sales_sale_add"), sale_add_data([(active, 1), (inactive, 1)]))
    assert response.status_code == 200
    assert "is not active and cannot be sold" in page(response)
    formset = response.context["inline_admin_formsets"][0].formset
    assert "is not active" in str(formset.forms[1].errors["product"])

    response = su_client.post(url("sales_sale_add"), sale_add_data([], extra_rows=3))
    assert response.status_code == 200
    assert "A sale needs at least one item" in page(response)

    response = su_client.post(url("sales_sale_add"), sale_add_data([(active, 0)]))
    assert response.status_code == 200
    assert Sale.objects.count() == 0
    assert (stock(active), stock(inactive)) == (10, 10)


def test_sale_with_taken_reference_is_refused(su_client):
    product = make_product(stock=10)
    make_sale(items=[(product, 1)], reference="S-DUP")
    response = su_client.post(
        url("sales_sale_add"), sale_add_data([(product, 2)], reference="S-DUP")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["reference"]
    assert Sale.objects.count() == 1
    assert stock(product) == 9


def test_editing_a_sale_moves_stock_by_the_difference(su_client, superuser):
    cola, bread, milk = make_product(stock=20), make_product(stock=20), make_product(stock=20)
    sale = make_sale(items=[(cola, 5), (bread, 2)], reference="S-EDIT")
    assert (stock(cola), stock(bread)) == (15, 18)

    response = su_client.post(
        url("sales_sale_change", sale.pk), sale_change_data(sale, quantities={cola.pk: 8})
    )
    assert response.status_code == 302, page(response)
    assert (stock(cola), stock(bread)) == (12, 18)
    sale.refresh_from_db()
    assert sale.total == Decimal("100.00")  # (8 + 2) x 10.00
    edit = StockMovement.objects.filter(reference="S-EDIT", reason="sale_edit")
    assert list(edit.values_list("product_id", "delta", "actor_id")) == [
        (cola.pk, -3, superuser.pk)
    ]

    # Lower one line, drop another, add a third.
    response = su_client.post(
        url("sales_sale_change", sale.pk),
        sale_change_data(sale, quantities={cola.pk: 1}, delete=[bread.pk], add=[(milk, 4)]),
    )
    assert response.status_code == 302, page(response)
    assert (stock(cola), stock(bread), stock(milk)) == (19, 20, 16)
    assert sorted(sale.items.values_list("product_id", "quantity")) == [(cola.pk, 1), (milk.pk, 4)]
    sale.refresh_from_db()
    assert sale.total == Decimal("50.00")
    assert_ledger_balanced(cola, bread, milk)
    assert LogEntry.objects.filter(object_id=str(sale.pk)).count() == 2


def test_editing_a_sale_beyond_stock_changes_nothing(su_client):
    cola = make_product(stock=6)
    sale = make_sale(items=[(cola, 5)])
    response = su_client.post(
        url("sales_sale_change", sale.pk), sale_change_data(sale, quantities={cola.pk: 7})
    )
    assert response.status_code == 200
    assert "Not enough stock" in page(response)
    assert stock(cola) == 1
    assert sale.items.get().quantity == 5
    assert_ledger_balanced(cola)


def test_editing_only_the_customer_leaves_stock_alone(su_client):
    cola = make_product(stock=6)
    sale = make_sale(items=[(cola, 5)])
    customer = make_customer()
    movements = StockMovement.objects.count()
    response = su_client.post(
        url("sales_sale_change", sale.pk), sale_change_data(sale, customer=customer)
    )
    assert response.status_code == 302
    sale.refresh_from_db()
    assert sale.customer == customer
    assert StockMovement.objects.count() == movements
    assert stock(cola) == 1


def test_cancelled_sale_is_read_only(su_client):
    cola = make_product(stock=10)
    sale = make_sale(items=[(cola, 4)])
    sale_cancel(sale=sale)
    assert stock(cola) == 10

    response = su_client.get(url("sales_sale_change", sale.pk))
    assert response.status_code == 200
    assert 'name="_save"' not in page(response)
    assert 'name="items-0-quantity"' not in page(response)

    response = su_client.post(
        url("sales_sale_change", sale.pk), sale_change_data(sale, quantities={cola.pk: 9})
    )
    assert response.status_code == 403
    assert sale.items.get().quantity == 4
    assert stock(cola) == 10


def test_cancel_action_restores_stock_once(su_client):
    cola, bread = make_product(stock=10), make_product(stock=10)
    first = make_sale(items=[(cola, 3), (bread, 1)])
    second = make_sale(items=[(cola, 2)])
    untouched = make_sale(items=[(bread, 4)])
    assert (stock(cola), stock(bread)) == (5, 5)

    action = {"action": "cancel_sales", "_selected_action": [first.pk, second.pk]}
    response = su_client.post(url("sales_sale_changelist"), action)
    assert response.status_code == 302
    assert (stock(cola), stock(bread)) == (10, 6)
    assert set(Sale.objects.values_list("reference", "status")) == {
        (first.reference, "cancelled"),
        (second.reference, "cancelled"),
        (untouched.reference, "completed"),
    }
    assert any("Cancelled 2 sale(s)" in m for m in messages_of(response))

    response = su_client.post(
        url("sales_sale_changelist"),
        {"action": "cancel_sales", "_selected_action": [first.pk, untouched.pk]},
    )
    assert (stock(cola), stock(bread)) == (10, 10)  # only `untouched` came back
    texts = messages_of(response)
    assert any("already cancelled" in m and first.reference in m for m in texts)
    assert (
        StockMovement.objects.filter(reference=first.reference, reason="sale_cancel").count() == 2
    )
    assert_ledger_balanced(cola, bread)


def test_deleting_sales_restores_stock(su_client):
    cola = make_product(stock=10)
    one = make_sale(items=[(cola, 3)])
    two = make_sale(items=[(cola, 2)])
    three = make_sale(items=[(cola, 1)])
    sale_cancel(sale=three)  # its stock is already back: deleting it returns nothing
    assert stock(cola) == 5

    response = su_client.post(url("sales_sale_delete", one.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Sale.objects.filter(pk=one.pk).exists()
    assert stock(cola) == 8

    response = su_client.post(
        url("sales_sale_changelist"),
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert Sale.objects.count() == 0
    assert SaleItem.objects.count() == 0
    assert stock(cola) == 10
    assert_ledger_balanced(cola)


# --- API keys --------------------------------------------------------------------------------


def test_api_key_add_shows_the_key_once_and_stores_only_its_hash(su_client, superuser):
    response = su_client.post(url("accounts_apikey_add"), {"name": " Warehouse sync "})
    assert response.status_code == 200  # shown on this page (tests/accounts/test_api_key_admin)
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.created_by, api_key.is_active) == (
        "Warehouse sync",
        superuser,
        True,
    )
    assert "will not be shown again" in page(response)
    assert not list(response.context["messages"])  # not in a message (a cookie)
    text = page(response)
    start = text.index(f'value="{api_key.prefix}.') + len('value="')
    full_key = text[start : text.index('"', start)]
    prefix, secret = full_key.split(".", 1)
    assert prefix == api_key.prefix
    assert api_key.hashed_secret == hash_api_key_secret(secret)
    assert secret not in api_key.hashed_secret
    assert full_key in page(response)

    # Never shown again: not on the next page, not on the key's page.
    assert full_key not in page(su_client.get(url("accounts_apikey_changelist")))
    response = su_client.get(url("accounts_apikey_change", api_key.pk))
    assert secret not in page(response)
    assert api_key.hashed_secret not in page(response)


def test_api_key_can_be_renamed_and_deactivated_only(su_client):
    api_key, _ = api_key_create(name="Sync")
    hashed, prefix = api_key.hashed_secret, api_key.prefix
    response = su_client.post(
        url("accounts_apikey_change", api_key.pk),
        {"name": "Sync v2", "prefix": "hacked", "hashed_secret": "x"},  # is_active unticked
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.is_active, api_key.prefix, api_key.hashed_secret) == (
        "Sync v2",
        False,
        prefix,
        hashed,
    )


def test_api_key_without_a_name_is_refused(su_client):
    response = su_client.post(url("accounts_apikey_add"), {"name": "   "})
    assert response.status_code == 200
    assert ApiKey.objects.count() == 0
