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
