"""Admin polish (issue 16 items 2 and 3): a sale's lines read by SKU and name, not by database
id; the big changelists do not count every row and have a date hierarchy."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from core.jobs.models import BatchJob
from customers.models import Customer
from products.models import Product, StockMovement
from sales.models import Sale
from tests.factories import make_customer, make_product, make_sale, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


def test_sale_lines_read_with_sku_and_name(client):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    product = make_product(sku="RAKE-7", name="Garden rake", price="41.99", stock=10)
    sale = make_sale(items=[(product, 2)], customer=make_customer())
    html = client.get(reverse("admin:sales_sale_change", args=[sale.pk])).content.decode()
    assert "2 x RAKE-7 Garden rake @ 41.99" in html
    assert f"2 x {product.pk} @" not in html
    assert str(sale.items.get()) == "2 x RAKE-7 Garden rake @ 41.99"


@pytest.mark.parametrize("model", [Sale, Customer, StockMovement, BatchJob, Product])
def test_big_changelists_skip_the_full_count(model):
    assert admin.site._registry[model].show_full_result_count is False


@pytest.mark.parametrize("model", [Sale, Customer, StockMovement, BatchJob])
def test_changelists_with_a_date_have_a_date_hierarchy(model):
    assert admin.site._registry[model].date_hierarchy


def test_the_sales_list_is_narrow_enough_for_a_laptop():
    # reference, date, customer, status, total, items: six short columns
    assert len(admin.site._registry[Sale].list_display) <= 6
    assert len(admin.site._registry[Product].list_display) <= 7


# --- Counts stopped at ADMIN_COUNT_LIMIT; no date hierarchy with a search ----------------------


@pytest.fixture
def many_customers(settings):
    settings.ADMIN_COUNT_LIMIT = 100
    Customer.objects.bulk_create(
        Customer(name=f"Customer {n}", email=f"many{n}@example.com") for n in range(130)
    )


def test_a_list_counts_up_to_the_limit_and_says_more_than(client, many_customers):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(make_user(is_superuser=True, is_staff=True))
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "more than 100 customers" in html
    counts = [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(*)")]
    assert counts and all("LIMIT 101" in sql for sql in counts)
    searched = client.get(reverse("admin:customers_customer_changelist"), {"q": "many"})
    assert "more than 100 results" in searched.content.decode()
    # Still paged, and the pages end at the limit (+ 1): the page after them is a bad page
    # though rows 102-130 exist.
    per_page = admin.site._registry[Customer].list_per_page
    assert html.count('class="action-select"') == min(per_page, 101)
    after = -(-101 // per_page) + 1
    past = client.get(reverse("admin:customers_customer_changelist"), {"p": str(after)})
    assert past.status_code == 302 and "e=1" in past["Location"]


def test_a_count_under_the_limit_is_exact(client, many_customers):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    html = client.get(
        reverse("admin:customers_customer_changelist"), {"q": "many12"}
    ).content.decode()
    assert "11 results" in html  # many12, many120 ... many129
    assert "more than" not in html


def test_a_search_draws_no_date_hierarchy(client):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    product = make_product(stock=10)
    make_sale(items=[(product, 1)], customer=make_customer(name="Ann Searchable"))
    url = reverse("admin:sales_sale_changelist")
    assert 'class="toplinks"' in client.get(url).content.decode()
    searched = client.get(url, {"q": "Searchable"}).content.decode()
    assert 'class="toplinks"' not in searched
    assert "1 result" in searched
