"""Every figure of every analytics endpoint equals the same figure computed from the sales
tables by plain SQL (``conftest.lines``), for every filter and parameter, on a history built
with multi-line sales, cancellations, edits, deletes and a bulk "import"."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from tests.analytics.conftest import figures, group, lines, q2, select

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

WIDE_PERIOD = (date(2025, 2, 20), date(2025, 5, 3))  # March and April whole: monthly rollups
FILTER_SETS = [
    {},
    {"category": "cat0"},
    {"category": "cat2"},
    {"product": "p0"},
    {"product": "p5"},  # no category
    {"customer": "c1"},
    {"country": "FR"},
    {"segment": "consumer"},
    {"category": "cat0", "country": "FR"},
    {"product": "p2", "segment": "consumer"},
    {"category": "cat1", "product": "p1"},
    {"customer": "c3", "category": "cat0"},
]


def resolve(filters: dict, dataset) -> dict:
    """Placeholders (cat0, p0, c1) to the dataset's ids."""
    resolved = {}
    for name, value in filters.items():
        if name == "category":
            value = dataset.categories[int(value[3:])].pk
        elif name == "product":
            value = dataset.products[int(value[1:])].pk
        elif name == "customer":
            value = dataset.customers[int(value[1:])].pk
        resolved[name] = value
    return resolved


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


@pytest.fixture
def period(dataset):
    # A period that cuts the history, so the previous period has data too.
    return dataset.first_day + timedelta(days=12), dataset.last_day + timedelta(days=2)


def bucket_start(day, interval):
    """Independent of the code under test: Monday of the ISO week, 1st of the month."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def get(client, path, **params):
    response = client.get(f"/api/analytics/{path}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def echo(filters):
    return {
        "category": None,
        "product": None,
        "customer": None,
        "country": None,
        "segment": None,
        **filters,
    }


def test_summary(analyst, dataset, period):
    for raw_filters in FILTER_SETS:
        check_summary(analyst, dataset, period, raw_filters)


def check_summary(analyst, dataset, period, raw_filters):
    filters = resolve(raw_filters, dataset)
    date_from, date_to = period
    body = get(analyst, "summary", date_from=date_from, date_to=date_to, **filters)

    every = lines()
    first_ever = {}  # each customer's first completed sale ever, whatever the filters
    for x in sorted(every, key=lambda x: x.day, reverse=True):
        first_ever[x.customer_id] = x.day
    days = (date_to - date_from).days + 1
    prev_from, prev_to = date_from - timedelta(days=days), date_from - timedelta(days=1)
    for key, (start, end) in (("current", period), ("previous", (prev_from, prev_to))):
        chosen = select(every, start, end, **filters)
        expected = figures(chosen)
        expected["unique_customers"] = len({x.customer_id for x in chosen if x.customer_id})
        sales_of = group([x for x in chosen if x.customer_id], lambda x: x.customer_id)
        repeat = sum(1 for ls in sales_of.values() if len({x.sale_id for x in ls}) >= 2)
        new = sum(1 for cid in sales_of if first_ever[cid] >= start)
        expected["repeat_customer_rate"] = (
            str(q2(Decimal(repeat) * 100 / len(sales_of))) if sales_of else None
        )
        expected["new_customers"] = new
        expected["returning_customers"] = len(sales_of) - new
        assert body[key] == expected, (raw_filters, key)
    assert body["period"] == {"date_from": str(date_from), "date_to": str(date_to), "days": days}
    assert body["previous_period"]["date_to"] == str(prev_to)
    assert body["filters"] == echo(filters)
    for name, change in body["change_pct"].items():
        current, previous = body["current"][name], body["previous"][name]
        if previous in (None, 0, "0.00") or current is None:
            assert change is None
        else:
            assert Decimal(change) == q2(
                (Decimal(str(current)) - Decimal(str(previous))) * 100 / Decimal(str(previous))
            )


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_revenue_series(analyst, dataset, interval):
    for raw_filters in FILTER_SETS:
        check_revenue_series(analyst, dataset, raw_filters, interval)


def check_revenue_series(analyst, dataset, raw_filters, interval):
    filters = resolve(raw_filters, dataset)
    date_from, date_to = dataset.first_day + timedelta(days=3), dataset.last_day
    body = get(
        analyst, "revenue", date_from=date_from, date_to=date_to, interval=interval, **filters
    )

    chosen = select(lines(), date_from, date_to, **filters)
    by_bucket = group(chosen, lambda x: bucket_start(x.day, interval))
    expected_starts = sorted(
        {
            bucket_start(date_from + timedelta(days=n), interval)
            for n in range((date_to - date_from).days + 1)
        }
    )
    assert [p["date"] for p in body["points"]] == [str(d) for d in expected_starts]
    for point in body["points"]:
        expected = figures(by_bucket.get(bucket_start(_d(point["date"]), interval), []))
        for key in ("revenue", "cost", "margin", "orders", "units"):
            assert point[key] == expected[key], (raw_filters, point["date"], key)
        assert _d(point["start"]) >= date_from and _d(point["end"]) <= date_to
    assert body["totals"] == figures(chosen)
    assert body["interval"] == interval


def _d(text):
    from datetime import date

    return date.fromisoformat(text)


@pytest.mark.parametrize("by", ["revenue", "units", "margin"])
def test_top_products(analyst, dataset, period, by):
    for raw_filters in FILTER_SETS:
        for chosen_period in (period, WIDE_PERIOD):  # partial months; whole months
            check_top_products(analyst, dataset, chosen_period, raw_filters, by)


def check_top_products(analyst, dataset, period, raw_filters, by):
    filters = resolve(raw_filters, dataset)
    date_from, date_to = period
    body = get(
        analyst, "top-products", date_from=date_from, date_to=date_to, by=by, limit=4, **filters
    )

    per_product = group(select(lines(), date_from, date_to, **filters), lambda x: x.product_id)
    ranked = sorted(
        per_product.items(),
        key=lambda item: (-_metric(figures(item[1]), by), item[0]),
    )[:4]
    assert [row["product_id"] for row in body["results"]] == [pid for pid, _ in ranked]
    for row, (product_id, chosen) in zip(body["results"], ranked, strict=True):
        expected = figures(chosen)
        assert row["orders"] == len(chosen)  # one line per product and sale
        for key in ("revenue", "cost", "margin", "margin_pct", "units", "orders"):
            assert row[key] == expected[key], (raw_filters, product_id, key)
    assert [row["rank"] for row in body["results"]] == list(range(1, len(ranked) + 1))


@pytest.mark.parametrize("by", ["revenue", "orders"])
def test_top_customers(analyst, dataset, period, by):
    for raw_filters in FILTER_SETS:
        for chosen_period in (period, WIDE_PERIOD):  # partial months; whole months
            check_top_customers(analyst, dataset, chosen_period, raw_filters, by)


def check_top_customers(analyst, dataset, period, raw_filters, by):
    filters = resolve(raw_filters, dataset)
    date_from, date_to = period
    body = get(
        analyst, "top-customers", date_from=date_from, date_to=date_to, by=by, limit=3, **filters
    )

    chosen = [x for x in select(lines(), date_from, date_to, **filters) if x.customer_id]
    ranked = sorted(
        group(chosen, lambda x: x.customer_id).items(),
        key=lambda item: (-_metric(figures(item[1]), by), item[0]),
    )[:3]
    assert [row["customer_id"] for row in body["results"]] == [cid for cid, _ in ranked]
    for row, (customer_id, rows) in zip(body["results"], ranked, strict=True):
        expected = figures(rows)
        for key in ("revenue", "cost", "margin", "orders", "units", "average_order_value"):
            assert row[key] == expected[key], (raw_filters, customer_id, key)


def _metric(values: dict, by: str):
    value = values[by]
    return Decimal(value) if isinstance(value, str) else value


@pytest.mark.parametrize("dimension", ["category", "country", "segment"])
def test_breakdown(analyst, dataset, period, dimension):
    for raw_filters in FILTER_SETS:
        for chosen_period in (period, WIDE_PERIOD):  # partial months; whole months
            check_breakdown(analyst, dataset, chosen_period, raw_filters, dimension)


def check_breakdown(analyst, dataset, period, raw_filters, dimension):
    filters = resolve(raw_filters, dataset)
    date_from, date_to = period
    body = get(
        analyst, "breakdown", date_from=date_from, date_to=date_to, dimension=dimension, **filters
    )

    chosen = select(lines(), date_from, date_to, **filters)

    def key(line):
        if dimension == "category":
            return line.category_id
        if line.customer_id is None:
            return None
        return line.country if dimension == "country" else line.segment

    groups = group(chosen, key)
    total = figures(chosen)
    assert body["total"] == {k: total[k] for k in ("revenue", "cost", "margin", "orders", "units")}
    assert {row["key"] for row in body["results"]} == set(groups)
    for row in body["results"]:
        expected = figures(groups[row["key"]])
        for name in ("revenue", "cost", "margin", "orders", "units"):
            assert row[name] == expected[name], (raw_filters, row["key"], name)
        revenue = Decimal(expected["revenue"])
        assert row["share_pct"] == str(q2(revenue * 100 / Decimal(total["revenue"])))
    revenues = [Decimal(row["revenue"]) for row in body["results"]]
    assert revenues == sorted(revenues, reverse=True)


@pytest.mark.embedded
def test_embedded_default_gives_the_same_figures(analyst, dataset, period):
    """A cross-section (runs on SQLite in the embedded smoke run)."""
    date_from, date_to = period
    chosen = select(lines(), date_from, date_to)
    body = get(analyst, "summary", date_from=date_from, date_to=date_to)
    assert {k: body["current"][k] for k in figures(chosen)} == figures(chosen)
    country = get(analyst, "breakdown", date_from=date_from, date_to=date_to, dimension="country")
    assert {row["key"]: row["revenue"] for row in country["results"]} == {
        key: figures(rows)["revenue"]
        for key, rows in group(chosen, lambda x: x.country if x.customer_id else None).items()
    }
    top = get(analyst, "top-products", date_from=date_from, date_to=date_to, by="units", limit=2)
    best = sorted(
        group(chosen, lambda x: x.product_id).items(),
        key=lambda item: (-figures(item[1])["units"], item[0]),
    )[:2]
    assert [row["product_id"] for row in top["results"]] == [pid for pid, _ in best]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL SQL")
def test_daily_figures_equal_a_plain_group_by(analyst, dataset, local_time_zone):
    """The per-day series against one plain SQL GROUP BY written for this test."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (s.sold_at AT TIME ZONE %s)::date AS day, SUM(i.line_total), "
            "SUM(i.unit_cost * i.quantity), SUM(i.quantity), COUNT(DISTINCT s.id) "
            "FROM sales_sale s JOIN sales_saleitem i ON i.sale_id = s.id "
            "WHERE s.status = 'completed' GROUP BY 1 ORDER BY 1",
            [local_time_zone],
        )
        expected = {day: row for day, *row in cursor.fetchall()}
    body = get(analyst, "revenue", date_from=dataset.first_day, date_to=dataset.last_day)
    got = {
        _d(p["date"]): [Decimal(p["revenue"]), Decimal(p["cost"]), p["units"], p["orders"]]
        for p in body["points"]
        if p["orders"]
    }
    assert got == {day: [row[0], row[1], row[2], row[3]] for day, row in expected.items()}
