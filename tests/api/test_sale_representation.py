"""The sales list and detail answer SaleOutputSerializer's JSON built by hand from plain rows
(sales/serializers.py: sale_representations): it must be the same JSON, byte for byte."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from sales import selectors
from sales.serializers import SaleOutputSerializer, sale_representations
from sales.services import sale_cancel
from tests.factories import make_customer, make_product, make_sale, make_user

pytestmark = pytest.mark.django_db


def _render(data) -> bytes:
    return JSONRenderer().render(data)


@pytest.fixture
def varied_sales():
    """Sales with and without a customer, cancelled, one to four lines, prices of every shape
    (whole, one decimal, cents, big), sold at microsecond and whole-second times."""
    customer = make_customer(name="Zoë Ünïcode-O'Brien")
    prices = ["0.10", "1.00", "12.30", "999999.99", "4.05", "70.00"]
    products = [
        make_product(price=price, cost="0.05", stock=1000, name=f"Product «{n}»")
        for n, price in enumerate(prices)
    ]
    start = datetime(2025, 3, 30, 0, 59, 59, 123456, tzinfo=UTC)  # around a DST change
    sales = []
    for n in range(12):
        lines = [(products[(n + k) % len(products)], (n % 3) + 1 + k) for k in range(n % 4 + 1)]
        sold_at = start + timedelta(hours=n * 7, microseconds=0 if n % 2 else n)
        sales.append(make_sale(items=lines, customer=customer if n % 3 else None, sold_at=sold_at))
    sale_cancel(sale=sales[4])
    sale_cancel(sale=sales[7])
    return sales


def _both(queryset):
    ordered = queryset.order_by("-sold_at", "-id")
    by_serializer = SaleOutputSerializer(list(ordered), many=True).data
    rows = list(selectors.sale_values(ordered))
    by_hand = sale_representations(
        rows, selectors.sale_item_values(sale_ids=[r["id"] for r in rows])
    )
    return by_serializer, by_hand


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/St_Johns", "Asia/Kolkata"])
def test_the_rows_render_exactly_as_the_serializer(varied_sales, zone):
    with timezone.override(zone):
        by_serializer, by_hand = _both(selectors.sale_list())
    assert len(by_hand) == len(varied_sales)
    assert _render(by_hand) == _render(by_serializer)
    assert any(sale["cancelled_at"] for sale in by_hand)
    assert any(sale["customer"] is None and sale["customer_name"] is None for sale in by_hand)


def test_a_sale_without_lines_renders_an_empty_list(varied_sales):
    sale = varied_sales[0]
    sale.items.all().delete()
    by_serializer, by_hand = _both(selectors.sale_list().filter(pk=sale.pk))
    assert by_hand[0]["items"] == [] and _render(by_hand) == _render(by_serializer)


def test_the_api_list_and_detail_answer_the_serializers_json(varied_sales):
    client = APIClient()
    client.force_authenticate(make_user(role="analyst"))
    listed = client.get("/api/sales/?page_size=5")
    assert listed.status_code == 200
    expected = SaleOutputSerializer(
        list(selectors.sale_list().order_by("-sold_at", "-id")[:5]), many=True
    ).data
    assert json.loads(listed.content)["results"] == json.loads(_render(expected))
    # Every page of the cursor walk: the same sales, each once, in order.
    seen, url = [], "/api/sales/?page_size=5"
    while url:
        body = client.get(url).json()
        seen += [sale["id"] for sale in body["results"]]
        url = body["next"]
    assert seen == [s.pk for s in selectors.sale_list().order_by("-sold_at", "-id")]

    sale = varied_sales[5]
    detail = client.get(f"/api/sales/{sale.pk}/")
    assert detail.status_code == 200
    assert detail.content == _render(SaleOutputSerializer(selectors.sale_get(sale_id=sale.pk)).data)


def test_the_list_reads_sales_and_lines_in_two_queries_whatever_the_page_size(varied_sales):
    client = APIClient()
    client.force_authenticate(make_user(role="analyst"))
    client.get("/api/sales/")  # the user's permissions are cached from here on
    for size in (2, 12):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/sales/?page_size={size}").status_code == 200
        sql = [q["sql"] for q in queries.captured_queries]
        lines = [q for q in sql if "sales_saleitem" in q]
        assert len(sql) == 2 and len(lines) == 1, sql


def test_filters_and_ordering_still_apply(varied_sales):
    client = APIClient()
    client.force_authenticate(make_user(role="analyst"))
    body = client.get("/api/sales/?status=cancelled&ordering=total").json()
    expected = sorted(
        (s for s in varied_sales if s.pk in (varied_sales[4].pk, varied_sales[7].pk)),
        key=lambda s: (s.total, s.pk),
    )
    assert [sale["id"] for sale in body["results"]] == [s.pk for s in expected]
    assert all(
        Decimal(sale["total"]) == s.total for sale, s in zip(body["results"], expected, strict=True)
    )


def test_a_detail_that_is_missing_or_not_a_number_is_404():
    client = APIClient()
    client.force_authenticate(make_user(role="analyst"))
    assert client.get("/api/sales/999999/").status_code == 404
    assert client.get("/api/sales/abc/").status_code == 404


def test_the_browsable_detail_still_prefills_its_form(varied_sales):
    client = APIClient()
    client.force_authenticate(make_user(role="manager"))
    page = client.get(f"/api/sales/{varied_sales[1].pk}/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and varied_sales[1].reference in page.content.decode()
