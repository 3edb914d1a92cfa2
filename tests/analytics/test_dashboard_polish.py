"""Dashboard polish (issue 16 items 5 and 6): partial buckets marked and said so, counts with
thousands separators, the currency on money figures, the margin-% change in percentage points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import make_customer, make_product, make_sale, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


def analyst():
    client = Client()
    client.force_login(make_user(role="analyst", is_staff=True))
    return client


def test_todays_partial_day_is_marked_and_said_in_the_caption():
    product = make_product(price="10.00", cost="4.00", stock=100)
    make_sale(items=[(product, 2)])
    html = analyst().get("/dashboard/").content.decode()
    assert html.count('class="partial"') == 1  # today's point, hollow
    assert "today is not over" in html


def test_a_first_week_cut_by_the_period_is_marked_too():
    today = timezone.localdate()
    # 90 days: weekly buckets; the first starts on a Monday before date_from unless it is one
    date_from = today - timedelta(days=89)
    html = analyst().get("/dashboard/", {"preset": "90"}).content.decode()
    expected = 1 + (date_from.weekday() != 0)
    assert html.count('class="partial"') == expected
    if expected == 2:
        assert "the first week starts before the period" in html


def test_counts_have_thousands_separators_and_money_its_currency(settings):
    settings.CURRENCY = "EUR"
    product = make_product(name="Bulk nail", price="0.10", cost="0.05", stock=5000)
    make_sale(items=[(product, 1500)], customer=make_customer())
    html = analyst().get("/dashboard/").content.decode()
    assert ">1,500<" in html  # units of the top product
    assert "EUR" in html
    assert html.count('class="currency"') >= 4  # revenue, AOV, margin KPIs and their tables


def test_the_margin_pct_change_is_in_percentage_points():
    product = make_product(price="10.00", cost="5.00", stock=100)  # margin 50 %
    make_sale(items=[(product, 1)], sold_at=timezone.now() - timedelta(days=40))
    product_b = make_product(price="10.00", cost="4.00", stock=100)  # margin 60 %
    make_sale(items=[(product_b, 1)])
    html = analyst().get("/dashboard/").content.decode()
    assert "▲ 10.0 pp" in html  # not "▲ 20.0 %", the relative change of a percentage
