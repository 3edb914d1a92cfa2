"""Top customers from the rollups rank only the customers whose lifetime figure can reach the
answer (``analytics.sql.top_customers_bounded``): the answer stays the one computed from the
sales tables, ties and cancellations included, and the ranking falls back to every customer when
the bound proves nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test.utils import override_settings

from analytics import selectors
from analytics import sql as q
from analytics.selectors.filters import AnalyticsFilters
from customers.models import CustomerSegment
from sales.services import sale_cancel
from tests.analytics.conftest import at
from tests.factories import make_customer, make_product, make_sale

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fast_password_hasher", "local_time_zone"),
]

PERIOD = (date(2025, 6, 1), date(2025, 6, 30))
BEFORE = date(2025, 3, 10)  # outside the period: lifetime only
CORPORATE, CONSUMER = CustomerSegment.CORPORATE, CustomerSegment.CONSUMER


@pytest.fixture
def history():
    """Eight customers. c0 has the biggest lifetime revenue but bought only before the period
    (the first customers probed rank nothing); c1 and c2 tie in the period (lower id first),
    c1's lifetime is exactly its period revenue, c2's is higher (bought before too); c3 bought a
    lot in the period but that sale was cancelled; c7 buys nothing."""
    unit = make_product(price="10.00", cost="4.00", stock=100_000)
    big = make_product(price="500.00", cost="100.00", stock=100_000)
    customers = [make_customer(segment=CORPORATE if n in (1, 4) else CONSUMER) for n in range(8)]
    day = PERIOD[0] + timedelta(days=3)

    def sell(customer, product, quantity, when=day):
        return make_sale(items=[(product, quantity)], customer=customer, sold_at=at(when, 11))

    sell(customers[0], big, 20, BEFORE)  # 10,000 lifetime, 0 in the period
    sell(customers[1], unit, 30)  # 300
    sell(customers[2], unit, 10)
    sell(customers[2], unit, 20, day + timedelta(days=5))  # 300, two orders
    sell(customers[2], big, 1, BEFORE)  # lifetime 800
    sale_cancel(sale=sell(customers[3], big, 10))  # 5,000 cancelled: 0
    sell(customers[3], unit, 1)  # 10
    sell(customers[4], unit, 25)  # 250
    sell(customers[4], big, 4, BEFORE)  # lifetime 2,250
    sell(customers[5], unit, 5)  # 50
    sell(customers[6], unit, 2)  # 20
    sell(customers[6], unit, 2, day + timedelta(days=1))
    sell(customers[6], unit, 2, day + timedelta(days=2))  # 60, three orders
    return customers


def ranking(filters: AnalyticsFilters, by: str, limit: int, source: str) -> list[tuple]:
    with override_settings(ANALYTICS_CACHE_ENABLED=False):
        body = selectors.analytics_top_customers(filters=filters, by=by, limit=limit, source=source)
    assert body["source"] == source
    return [(row["customer"], row["revenue"], row["orders"]) for row in body["results"]]


@pytest.mark.parametrize("by", ["revenue", "orders"])
@pytest.mark.parametrize("limit", [1, 2, 3, 5])
@pytest.mark.parametrize("probe", [1, 2, 3, 100])
def test_the_bounded_ranking_equals_the_sales_tables(history, monkeypatch, by, limit, probe):
    # limit 1, probe 3 (c0, c4, c2): the floor is 300, c1's lifetime exactly, and c1 wins the
    # tie with c2; limit 2, probe 3: the probe alone would answer c1, c4 instead of c1, c2.
    monkeypatch.setattr("analytics.sql.reports.TOP_CUSTOMERS_PROBE", probe)
    filters = AnalyticsFilters(date_from=PERIOD[0], date_to=PERIOD[1])
    expected = ranking(filters, by, limit, "sales")
    assert ranking(filters, by, limit, "rollups") == expected
    assert len(expected) == limit


def test_ties_go_to_the_lower_customer_id_and_cancelled_sales_do_not_count(history, monkeypatch):
    # Probed: c0, c4, c1, c2 (the highest lifetimes); c0 ranks nothing in the period.
    monkeypatch.setattr("analytics.sql.reports.TOP_CUSTOMERS_PROBE", 4)
    filters = AnalyticsFilters(date_from=PERIOD[0], date_to=PERIOD[1])
    rows = q.top_customers_bounded(filters, "revenue", 3)
    assert rows is not None  # the bound held: the answer came from the candidates alone
    c = [customer.pk for customer in history]
    assert [(row[0], row[1]) for row in rows] == [(c[1], 300), (c[2], 300), (c[4], 250)]


def test_only_the_customers_the_bound_admits_are_ranked(history, monkeypatch):
    """With the floor at 250 (the third best), c3, c5 and c6 (lifetime 10, 50 and 60: the
    cancelled sale counts for nothing) cannot reach it: the second ranking reads c0, c1, c2
    and c4 only."""
    seen: list[list[int]] = []
    among = q.reports._top_customers_among

    def spy(filters, by, limit, customers):
        seen.append(sorted(customers))
        return among(filters, by, limit, customers)

    monkeypatch.setattr("analytics.sql.reports._top_customers_among", spy)
    monkeypatch.setattr("analytics.sql.reports.TOP_CUSTOMERS_PROBE", 4)
    filters = AnalyticsFilters(date_from=PERIOD[0], date_to=PERIOD[1])
    assert q.top_customers_bounded(filters, "revenue", 3) is not None
    c = [customer.pk for customer in history]
    assert seen[-1] == sorted([c[0], c[1], c[2], c[4]])


def test_fewer_customers_than_the_limit_fall_back_to_ranking_them_all(history):
    filters = AnalyticsFilters(date_from=PERIOD[0], date_to=PERIOD[1])
    assert q.top_customers_bounded(filters, "revenue", 7) is None  # six bought in the period
    assert ranking(filters, "revenue", 7, "rollups") == ranking(filters, "revenue", 7, "sales")


def test_too_many_candidates_fall_back(history, monkeypatch):
    monkeypatch.setattr("analytics.sql.reports.TOP_CUSTOMERS_MAX_CANDIDATES", 2)
    filters = AnalyticsFilters(date_from=PERIOD[0], date_to=PERIOD[1])
    assert q.top_customers_bounded(filters, "revenue", 3) is None
    assert ranking(filters, "revenue", 3, "rollups") == ranking(filters, "revenue", 3, "sales")


def test_customer_filters_bound_the_candidates_too(history):
    filters = AnalyticsFilters(date_from=PERIOD[0], date_to=PERIOD[1], segment=CORPORATE)
    expected = ranking(filters, "revenue", 2, "sales")
    assert [row[0] for row in expected] == [history[1].pk, history[4].pk]
    assert q.top_customers_bounded(filters, "revenue", 2) is not None
    assert ranking(filters, "revenue", 2, "rollups") == expected
