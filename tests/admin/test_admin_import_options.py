"""The admin's import page has the command's options (issue 16 item 4): dry run, skip bad rows
and, for sales, apply stock; row errors are listed as text; the export form preselects CSV."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import Product, StockMovement
from sales.models import Sale
from tests.factories import make_category, make_customer, make_product, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

CSV = "0"
PRODUCTS = "/admin/products/product/"
SALES = "/admin/sales/sale/"


@pytest.fixture
def su_client(client):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    return client


def post_import(client, path, data: bytes, **options):
    body = {"import_file": SimpleUploadedFile("data.csv", data), "format": CSV, "resource": "0"}
    body.update(options)
    return client.post(f"{path}import/", body)


def confirm(client, response):
    text = response.content.decode()
    form = re.search(
        r'<form action="([^"]*process_import/)" method="POST">(.*?)</form>', text, re.S
    )
    assert form, "no confirm form"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return client.post(form.group(1), fields, follow=True)


def test_the_import_page_offers_the_commands_options(su_client):
    products = su_client.get(f"{PRODUCTS}import/").content.decode()
    assert 'name="on_error"' in products and 'name="dry_run"' in products
    assert 'name="apply_stock"' not in products
    sales = su_client.get(f"{SALES}import/").content.decode()
    assert 'name="apply_stock"' in sales


def test_skip_bad_rows_lists_the_errors_as_text_and_imports_the_rest(su_client):
    make_category(name="Garden")
    data = b"sku,name,category,price\nOK-1,Good spade,Garden,9.90\nBAD-1,Bad hoe,Garden,-4\n"
    preview = post_import(su_client, PRODUCTS, data, on_error="skip")
    text = preview.content.decode()
    assert "Row 3, column price:" in text  # as text, not only in a hover badge
    assert not Product.objects.filter(sku="OK-1").exists()

    done = confirm(su_client, preview)
    assert done.status_code == 200
    assert Product.objects.filter(sku="OK-1").exists()
    assert not Product.objects.filter(sku="BAD-1").exists()
    assert any("rejected 1" in str(m) for m in get_messages(done.wsgi_request))


def test_abort_is_the_default_and_offers_no_confirmation(su_client):
    data = b"sku,name,category,price\nOK-2,Good spade,,9.90\nBAD-2,Bad hoe,,-4\n"
    text = post_import(su_client, PRODUCTS, data).content.decode()
    assert "Row 3, column price:" in text
    assert "process_import" not in text


def test_a_dry_run_previews_and_offers_no_confirmation(su_client):
    data = b"sku,name,category,price\nDRY-1,Dry spade,,9.90\n"
    text = post_import(su_client, PRODUCTS, data, dry_run="on").content.decode()
    assert "<h2>Preview</h2>" in text
    assert "Dry run: nothing was written" in text
    assert "process_import" not in text
    assert not Product.objects.filter(sku="DRY-1").exists()


def test_apply_stock_takes_the_stock_of_new_sales(su_client):
    product = make_product(sku="STK-1", name="Stock rake", price="10.00", stock=10)
    customer = make_customer(email="stock@example.com")
    data = (
        b"reference,sold_at,customer_email,sku,quantity,unit_price\n"
        b"ADM-1,2026-01-05T10:00:00Z,stock@example.com,STK-1,3,10.00\n"
    )
    preview = post_import(su_client, SALES, data, apply_stock="on")
    confirm(su_client, preview)
    assert Sale.objects.filter(reference="ADM-1", customer=customer).exists()
    product.refresh_from_db()
    assert product.stock_quantity == 7
    assert StockMovement.objects.filter(product=product, delta=-3).exists()


def test_without_apply_stock_a_sales_import_leaves_stock_alone(su_client):
    product = make_product(sku="STK-2", name="Stock hoe", price="10.00", stock=10)
    make_customer(email="stock2@example.com")
    data = (
        b"reference,sold_at,customer_email,sku,quantity,unit_price\n"
        b"ADM-2,2026-01-05T10:00:00Z,stock2@example.com,STK-2,3,10.00\n"
    )
    confirm(su_client, post_import(su_client, SALES, data))
    product.refresh_from_db()
    assert Sale.objects.filter(reference="ADM-2").exists() and product.stock_quantity == 10


def test_the_export_form_preselects_csv(su_client):
    text = su_client.get(f"{PRODUCTS}export/").content.decode()
    assert re.search(r'<option value="0" selected>csv</option>', text), text[:3000]
