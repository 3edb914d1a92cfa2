"""Reads for analytics: the one read path of the API and the dashboard.

Every figure counts the lines of completed sales whose local day (``settings.TIME_ZONE``) is in
the period. Filters: ``product`` and ``category`` select lines (a sale counts as an order of a
product or category when it has a line of it), ``customer``, ``country`` and ``segment`` select
sales (by the customer's current country and segment). Money is ``Decimal`` (2 places).

Where each answer comes from (``source`` in every answer):

=====================  ==========================================  ==========================
question               rollups read                                 sales tables when
=====================  ==========================================  ==========================
totals, time series    DailySales (no filter), DailyCustomerSales   a product/category filter
                       (customer/country/segment), DailyProduct-    together with a customer/
                       Sales (product), DailyCategorySales          country/segment filter
                       (category)
unique customers       DailyCustomerSales (EXISTS per customer)     a product/category filter
top products           DailyProductSales                            customer/country/segment
top customers          DailyCustomerSales                           product/category filter
breakdown category     DailyCategorySales / DailyProductSales       customer/country/segment
breakdown country,     DailyCustomerSales (+ DailySales for sales   product/category filter
segment                without customer)
=====================  ==========================================  ==========================

Category figures also come from the sales tables while a product's category has changed since
its sales were counted (until ``rebuild_rollups``): orders per category cannot be moved
between categories. Pass ``source="sales"`` to any selector to force the sales tables (the
benchmark's baseline).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from analytics import rollup_sql as q
from analytics.cache import cached
from analytics.services import local_midnight
from customers.models import Customer, CustomerSegment
from products.models import Category, Product

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
INTERVALS = ("day", "week", "month")
TOP_PRODUCTS_BY = ("revenue", "units", "margin")
TOP_CUSTOMERS_BY = ("revenue", "orders")
DIMENSIONS = ("category", "country", "segment")
SOURCES = ("auto", "sales")
BREAKDOWN_FIGURES = ("revenue", "cost", "margin", "orders", "units")
DEFAULT_DAYS = 30
CUSTOMER = Customer._meta.db_table
CATEGORY = Category._meta.db_table
DAILY, DAILY_PRODUCT, DAILY_CUSTOMER, DAILY_CATEGORY, MONTHLY_PRODUCT, MONTHLY_CUSTOMER = (
    q.ROLLUP_TABLES
)


@dataclass(frozen=True)
class AnalyticsFilters:
    """The period (local days, inclusive) and the filters of an analytics question."""

    date_from: date
    date_to: date
    category: int | None = None
    product: int | None = None
    customer: int | None = None
    country: str | None = None
    segment: str | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def by_line(self) -> bool:
        return self.product is not None or self.category is not None

    @property
    def by_sale(self) -> bool:
        return self.customer is not None or bool(self.country) or bool(self.segment)

    def previous(self) -> AnalyticsFilters:
        """The period of the same length just before."""
        return replace(
            self,
            date_from=self.date_from - timedelta(days=self.days),
            date_to=self.date_from - timedelta(days=1),
        )

    def period(self) -> dict[str, Any]:
        return {"date_from": self.date_from, "date_to": self.date_to, "days": self.days}

    def filter_values(self) -> dict[str, Any]:
        values = asdict(self)
        del values["date_from"], values["date_to"]
        return values


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last 30 days, today (local) included."""
    today = today or timezone.localdate()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


# --- Numbers ------------------------------------------------------------------------------------


def money(value: Any) -> Decimal:
    """A sum from the database as Decimal with 2 places (SQLite hands back floats)."""
    if value is None:
        return ZERO
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal | int, denominator: Decimal | int, scale: int = 1) -> Decimal | None:
    if not denominator:
        return None
    value = Decimal(numerator) * scale / Decimal(denominator)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Totals:
    revenue: Decimal = ZERO
    cost: Decimal = ZERO
    units: int = 0
    orders: int = 0

    def add(self, other: Totals) -> None:
        self.revenue += other.revenue
        self.cost += other.cost
        self.units += other.units
        self.orders += other.orders

    @classmethod
    def from_row(cls, revenue, cost, units, orders) -> Totals:
        return cls(money(revenue), money(cost), int(units or 0), int(orders or 0))

    def figures(self) -> dict[str, Any]:
        margin = self.revenue - self.cost
        return {
            "revenue": self.revenue,
            "cost": self.cost,
            "margin": margin,
            "margin_pct": ratio(margin, self.revenue, 100),
            "orders": self.orders,
            "units": self.units,
            "average_order_value": ratio(self.revenue, self.orders),
        }


# --- SQL building blocks ------------------------------------------------------------------------


class Query:
    """A SELECT assembled from parts, with its parameters in order."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.joins: list[str] = []
        self.where: list[str] = []
        self.params: list[Any] = []

    def join(self, sql: str) -> Query:
        if sql not in self.joins:
            self.joins.append(sql)
        return self

    def filter(self, sql: str, *params: Any) -> Query:
        self.where.append(sql)
        self.params.extend(params)
        return self

    def sql(self, select: str, tail: str = "") -> str:
        where = " AND ".join(self.where) or "TRUE"
        return f"SELECT {select} FROM {self.source} {' '.join(self.joins)} WHERE {where} {tail}"

    def fetch(self, select: str, tail: str = "", tail_params: Iterable[Any] = ()) -> list[tuple]:
        select_sql, select_params = select if isinstance(select, tuple) else (select, [])
        with connection.cursor() as cursor:
            cursor.execute(self.sql(select_sql, tail), [*select_params, *self.params, *tail_params])
            return cursor.fetchall()


def _sales_query(filters: AnalyticsFilters) -> Query:
    """The lines of completed sales of the period, filtered: ``s`` sale, ``i`` line, ``p``
    product and ``c`` customer (joined when a filter or a grouping needs them)."""
    query = Query(f"{q.SALE} s JOIN {q.ITEM} i ON i.sale_id = s.id")
    query.filter("s.status = %s", "completed")
    adapt = connection.ops.adapt_datetimefield_value
    query.filter("s.sold_at >= %s", adapt(local_midnight(filters.date_from)))
    query.filter("s.sold_at < %s", adapt(local_midnight(filters.date_to + timedelta(days=1))))
    if filters.product is not None:
        query.filter("i.product_id = %s", filters.product)
    if filters.category is not None:
        query.join(f"JOIN {q.PRODUCT} p ON p.id = i.product_id")
        query.filter("p.category_id = %s", filters.category)
    if filters.customer is not None:
        query.filter("s.customer_id = %s", filters.customer)
    _customer_filters(query, filters, "s.customer_id")
    return query


def _join_customer(query: Query, column: str) -> Query:
    """``c``: the customer (LEFT JOIN: a country/segment condition makes it an inner join)."""
    return query.join(f"LEFT JOIN {CUSTOMER} c ON c.id = {column}")


def _customer_filters(query: Query, filters: AnalyticsFilters, column: str) -> None:
    if filters.country or filters.segment:
        _join_customer(query, column)
    if filters.country:
        query.filter("c.country = %s", filters.country)
    if filters.segment:
        query.filter("c.segment = %s", filters.segment)


def _rollup_query(table: str, filters: AnalyticsFilters) -> Query:
    query = Query(f"{table} d")
    query.filter("d.day >= %s", connection.ops.adapt_datefield_value(filters.date_from))
    query.filter("d.day <= %s", connection.ops.adapt_datefield_value(filters.date_to))
    return query


def _long_rollup_query(kind: str, filters: AnalyticsFilters) -> Query:
    """Product or customer rows of the period as ``d`` (key, revenue, cost, units, orders):
    the monthly rollup for the whole months inside the period, the daily rollup for the days
    before and after them (a year reads ~12 rows per product or customer, not ~365)."""
    daily, monthly = (
        (DAILY_PRODUCT, MONTHLY_PRODUCT)
        if kind == "product"
        else (DAILY_CUSTOMER, MONTHLY_CUSTOMER)
    )
    key = f"{kind}_id"
    first_full = filters.date_from.replace(day=1)
    if first_full < filters.date_from:
        first_full = (first_full + timedelta(days=32)).replace(day=1)
    end = (filters.date_to + timedelta(days=1)).replace(day=1)  # after the last whole month
    if first_full >= end:  # no whole month: the daily rows
        return _rollup_query(daily, filters)
    adapt = connection.ops.adapt_datefield_value
    columns = f"{key}, revenue, cost, units, orders"
    query = Query(
        f"(SELECT {columns} FROM {monthly} WHERE month >= %s AND month < %s UNION ALL "
        f"SELECT {columns} FROM {daily} WHERE (day >= %s AND day < %s) OR "
        "(day >= %s AND day <= %s)) d"
    )
    query.params.extend(
        adapt(day) for day in (first_full, end, filters.date_from, first_full, end, filters.date_to)
    )
    return query


SUMS = "SUM(d.revenue), SUM(d.cost), SUM(d.units), SUM(d.orders)"
LINE_SUMS = "SUM(i.line_total), SUM(i.unit_cost * i.quantity), SUM(i.quantity)"


def category_rollup_in_step() -> bool:
    """Whether every product is still in the category its sales were counted under."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {q.SNAPSHOT} r JOIN {q.PRODUCT} p ON p.id = r.product_id "
            "WHERE COALESCE(p.category_id, 0) <> r.category_key LIMIT 1"
        )
        return cursor.fetchone() is None


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# --- Per-day totals, unique customers -----------------------------------------------------------


def _daily_source(filters: AnalyticsFilters, source: str) -> str:
    """Which table answers per-day totals for these filters."""
    if source == "sales" or (filters.by_line and filters.by_sale):
        return "sales"
    if filters.by_sale:
        return DAILY_CUSTOMER
    if filters.product is not None:
        return DAILY_PRODUCT
    if filters.category is not None:
        return DAILY_CATEGORY if category_rollup_in_step() else "sales"
    return DAILY


def daily_totals(filters: AnalyticsFilters, source: str = "auto") -> tuple[dict[date, Totals], str]:
    """``({day: Totals}, source)`` for the days of the period that have sales."""
    table = _daily_source(filters, source)
    if table == "sales":
        query = _sales_query(filters)
        day_sql, day_params = q.local_day_sql("s.sold_at")
        rows = query.fetch(
            (f"{day_sql}, {LINE_SUMS}, COUNT(DISTINCT s.id)", day_params), "GROUP BY 1"
        )
    else:
        query = _rollup_query(table, filters)
        if table == DAILY_CUSTOMER:
            if filters.customer is not None:
                query.filter("d.customer_id = %s", filters.customer)
            _customer_filters(query, filters, "d.customer_id")
        elif table == DAILY_PRODUCT:
            query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
                query.filter("p.category_id = %s", filters.category)
        elif table == DAILY_CATEGORY:
            query.filter("d.category_key = %s", filters.category)
        rows = query.fetch(f"d.day, {SUMS}", "GROUP BY d.day")
    totals = {_day(day): Totals.from_row(*measures) for day, *measures in rows}
    return totals, "sales" if table == "sales" else "rollups"


def unique_customers(filters: AnalyticsFilters, source: str = "auto") -> int:
    """Distinct customers with a sale (in scope) in the period."""
    if source == "sales" or filters.by_line:
        query = _sales_query(filters)
        return int(query.fetch("COUNT(DISTINCT s.customer_id)")[0][0] or 0)
    # One index probe per customer in scope (index customer, day of the customer rollup).
    query = Query(f"{CUSTOMER} c")
    query.filter(
        f"EXISTS (SELECT 1 FROM {DAILY_CUSTOMER} d WHERE d.customer_id = c.id "
        "AND d.day >= %s AND d.day <= %s)",
        connection.ops.adapt_datefield_value(filters.date_from),
        connection.ops.adapt_datefield_value(filters.date_to),
    )
    if filters.customer is not None:
        query.filter("c.id = %s", filters.customer)
    if filters.country:
        query.filter("c.country = %s", filters.country)
    if filters.segment:
        query.filter("c.segment = %s", filters.segment)
    return int(query.fetch("COUNT(*)")[0][0])


# --- Answers ------------------------------------------------------------------------------------


def _period_figures(filters: AnalyticsFilters, source: str) -> tuple[dict[str, Any], str]:
    per_day, used = daily_totals(filters, source)
    total = Totals()
    for day_totals in per_day.values():
        total.add(day_totals)
    figures = total.figures()
    figures["unique_customers"] = unique_customers(filters, source)
    return figures, used


def _change(current: Any, previous: Any) -> Decimal | None:
    if current is None or previous is None or not previous:
        return None
    return ratio(Decimal(current) - Decimal(previous), previous, 100)


def _cache_params(filters: AnalyticsFilters, **extra: Any) -> dict[str, Any]:
    return {**filters.period(), **filters.filter_values(), **extra}


def analytics_summary(*, filters: AnalyticsFilters, source: str = "auto") -> dict[str, Any]:
    """Revenue, cost, margin, margin %, orders, units, average order value and unique
    customers of the period and of the previous period of the same length, with the change
    in % (``None`` when the previous figure is 0)."""

    def compute() -> dict[str, Any]:
        previous_filters = filters.previous()
        current, used = _period_figures(filters, source)
        previous, _ = _period_figures(previous_filters, source)
        return {
            "period": filters.period(),
            "previous_period": previous_filters.period(),
            "filters": filters.filter_values(),
            "source": used,
            "current": current,
            "previous": previous,
            "change_pct": {key: _change(current[key], previous[key]) for key in current},
        }

    return cached("summary", _cache_params(filters, source=source), compute)


def bucket_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks, from Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_bucket(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)


def analytics_revenue(
    *, filters: AnalyticsFilters, interval: str = "day", source: str = "auto"
) -> dict[str, Any]:
    """The period's time series by day, ISO week (from Monday) or calendar month, every bucket
    present (zero when empty). ``date`` is the bucket's calendar start; ``start`` and ``end``
    are its days inside the period (the first and last buckets can be partial)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")

    def compute() -> dict[str, Any]:
        per_day, used = daily_totals(filters, source)
        buckets: dict[date, Totals] = {}
        start = bucket_start(filters.date_from, interval)
        while start <= filters.date_to:
            buckets[start] = Totals()
            start = _next_bucket(start, interval)
        total = Totals()
        for day, day_totals in per_day.items():
            buckets[bucket_start(day, interval)].add(day_totals)
            total.add(day_totals)
        points = []
        for start, bucket in buckets.items():
            end = _next_bucket(start, interval) - timedelta(days=1)
            figures = bucket.figures()
            points.append(
                {
                    "date": start,
                    "start": max(start, filters.date_from),
                    "end": min(end, filters.date_to),
                    **{k: figures[k] for k in ("revenue", "cost", "margin", "orders", "units")},
                }
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "interval": interval,
            "source": used,
            "totals": total.figures(),
            "points": points,
        }

    return cached("revenue", _cache_params(filters, interval=interval, source=source), compute)


def _order_by(metric: str, key: str) -> str:
    expressions = {
        "revenue": "2 DESC",
        "margin": "(SUM_REVENUE - SUM_COST) DESC",
        "units": "4 DESC",
        "orders": "5 DESC",
    }
    return f"ORDER BY {expressions[metric]}, {key}"


def _ranked(rows: list[tuple]) -> list[tuple[Any, Totals]]:
    return [(key, Totals.from_row(*measures)) for key, *measures in rows]


def analytics_top_products(
    *, filters: AnalyticsFilters, by: str = "revenue", limit: int = 10, source: str = "auto"
) -> dict[str, Any]:
    """The ``limit`` best products of the period by revenue, units or margin (ties: lower
    product id first). ``orders`` = sales with a line of the product."""
    if by not in TOP_PRODUCTS_BY:
        raise ValueError(f"by must be one of {TOP_PRODUCTS_BY}")

    def compute() -> dict[str, Any]:
        if source == "sales" or filters.by_sale:
            used, query = "sales", _sales_query(filters)
            select, key = f"i.product_id, {LINE_SUMS}, COUNT(*)", "i.product_id"
            revenue, cost = "SUM(i.line_total)", "SUM(i.unit_cost * i.quantity)"
        else:
            used, query = "rollups", _long_rollup_query("product", filters)
            if filters.product is not None:
                query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
                query.filter("p.category_id = %s", filters.category)
            select, key = f"d.product_id, {SUMS}", "d.product_id"
            revenue, cost = "SUM(d.revenue)", "SUM(d.cost)"
        order = _order_by(by, key).replace("SUM_REVENUE", revenue).replace("SUM_COST", cost)
        rows = _ranked(query.fetch(select, f"GROUP BY {key} {order} LIMIT %s", [limit]))
        products = {
            row["id"]: row
            for row in Product.objects.filter(pk__in=[key for key, _ in rows]).values(
                "id", "sku", "name", "category_id", "category__name"
            )
        }
        results = []
        for rank, (product_id, totals) in enumerate(rows, start=1):
            product = products.get(product_id, {})
            figures = totals.figures()
            results.append(
                {
                    "rank": rank,
                    "product_id": product_id,
                    "sku": product.get("sku"),
                    "name": product.get("name"),
                    "category_id": product.get("category_id"),
                    "category_name": product.get("category__name"),
                    **{
                        k: figures[k]
                        for k in ("revenue", "cost", "margin", "margin_pct", "units", "orders")
                    },
                }
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "by": by,
            "limit": limit,
            "source": used,
            "results": results,
        }

    params = _cache_params(filters, by=by, limit=limit, source=source)
    return cached("top-products", params, compute)


def analytics_top_customers(
    *, filters: AnalyticsFilters, by: str = "revenue", limit: int = 10, source: str = "auto"
) -> dict[str, Any]:
    """The ``limit`` best customers of the period by revenue or orders (ties: lower customer
    id first). Sales without customer are not ranked."""
    if by not in TOP_CUSTOMERS_BY:
        raise ValueError(f"by must be one of {TOP_CUSTOMERS_BY}")

    def compute() -> dict[str, Any]:
        if source == "sales" or filters.by_line:
            used, query = "sales", _sales_query(filters)
            query.filter("s.customer_id IS NOT NULL")
            select, key = f"s.customer_id, {LINE_SUMS}, COUNT(DISTINCT s.id)", "s.customer_id"
        else:
            used, query = "rollups", _long_rollup_query("customer", filters)
            if filters.customer is not None:
                query.filter("d.customer_id = %s", filters.customer)
            _customer_filters(query, filters, "d.customer_id")
            select, key = f"d.customer_id, {SUMS}", "d.customer_id"
        tail = f"GROUP BY {key} {_order_by(by, key)} LIMIT %s"
        rows = _ranked(query.fetch(select, tail, [limit]))
        customers = {
            row["id"]: row
            for row in Customer.objects.filter(pk__in=[key for key, _ in rows]).values(
                "id", "name", "email", "country", "segment"
            )
        }
        results = []
        for rank, (customer_id, totals) in enumerate(rows, start=1):
            customer = customers.get(customer_id, {})
            figures = totals.figures()
            results.append(
                {
                    "rank": rank,
                    "customer_id": customer_id,
                    "name": customer.get("name"),
                    "email": customer.get("email"),
                    "country": str(customer.get("country") or ""),
                    "segment": customer.get("segment"),
                    **{
                        k: figures[k]
                        for k in (
                            "revenue",
                            "cost",
                            "margin",
                            "orders",
                            "units",
                            "average_order_value",
                        )
                    },
                }
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "by": by,
            "limit": limit,
            "source": used,
            "results": results,
        }

    return cached(
        "top-customers", _cache_params(filters, by=by, limit=limit, source=source), compute
    )


def _breakdown_rows(
    filters: AnalyticsFilters, dimension: str, source: str
) -> tuple[dict[Any, Totals], str]:
    """``({key: Totals}, source)``; key: category id (``None`` = no category), country code
    (``""`` = none recorded) or segment, ``None`` for sales without customer."""
    rollups = source != "sales"
    if dimension == "category":
        if rollups and not filters.by_sale and filters.product is None:
            if category_rollup_in_step():
                query = _rollup_query(DAILY_CATEGORY, filters)
                if filters.category is not None:
                    query.filter("d.category_key = %s", filters.category)
                rows = query.fetch(f"d.category_key, {SUMS}", "GROUP BY d.category_key")
                return {key or None: Totals.from_row(*m) for key, *m in rows}, "rollups"
        elif rollups and not filters.by_sale:  # one product: its lines are its orders
            query = _rollup_query(DAILY_PRODUCT, filters)
            query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
            query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.filter("p.category_id = %s", filters.category)
            rows = query.fetch(f"p.category_id, {SUMS}", "GROUP BY p.category_id")
            return {key: Totals.from_row(*m) for key, *m in rows}, "rollups"
        query = _sales_query(filters)
        query.join(f"JOIN {q.PRODUCT} p ON p.id = i.product_id")
        rows = query.fetch(f"p.category_id, {LINE_SUMS}, COUNT(DISTINCT s.id)", "GROUP BY 1")
        return {key: Totals.from_row(*m) for key, *m in rows}, "sales"

    column = "c.country" if dimension == "country" else "c.segment"
    if rollups and not filters.by_line:
        query = _long_rollup_query("customer", filters)
        _join_customer(query, "d.customer_id")
        if filters.customer is not None:
            query.filter("d.customer_id = %s", filters.customer)
        _customer_filters(query, filters, "d.customer_id")
        rows = query.fetch(f"{column}, {SUMS}", f"GROUP BY {column}")
        result = {key: Totals.from_row(*m) for key, *m in rows}
        if not filters.by_sale:  # sales without customer: all sales minus the customers'
            per_day, _ = daily_totals(filters)
            rest = Totals()
            for day_totals in per_day.values():
                rest.add(day_totals)
            for totals in result.values():
                rest.revenue -= totals.revenue
                rest.cost -= totals.cost
                rest.units -= totals.units
                rest.orders -= totals.orders
            if rest.orders:
                result[None] = rest
        return result, "rollups"
    query = _sales_query(filters)
    _join_customer(query, "s.customer_id")
    rows = query.fetch(
        f"CASE WHEN s.customer_id IS NULL THEN NULL ELSE {column} END, {LINE_SUMS}, "
        "COUNT(DISTINCT s.id)",
        "GROUP BY 1",
    )
    return {key: Totals.from_row(*m) for key, *m in rows}, "sales"


def _labels(dimension: str, keys: Iterable[Any]) -> dict[Any, str]:
    if dimension == "category":
        ids = [key for key in keys if key]
        names = dict(Category.objects.filter(pk__in=ids).values_list("id", "name"))
        return {key: names.get(key, f"Category {key}") if key else "No category" for key in keys}
    if dimension == "segment":
        labels = dict(CustomerSegment.choices)
        return {key: labels.get(key, key) if key else "No customer" for key in keys}
    from django_countries import countries

    labels = {}
    for key in keys:
        if key is None:
            labels[key] = "No customer"
        else:
            labels[key] = (countries.name(key) or key) if key else "Unknown"
    return labels


def analytics_breakdown(
    *, filters: AnalyticsFilters, dimension: str = "category", source: str = "auto"
) -> dict[str, Any]:
    """Revenue, cost, margin, orders and units per category, customer country or customer
    segment, with each one's share of the revenue in %. A sale with lines in two categories
    is an order of both (category orders can add up to more than the total)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {DIMENSIONS}")

    def compute() -> dict[str, Any]:
        rows, used = _breakdown_rows(filters, dimension, source)
        per_day, _ = daily_totals(filters, "sales" if used == "sales" else source)
        total = Totals()
        for day_totals in per_day.values():
            total.add(day_totals)
        labels = _labels(dimension, rows)
        results = []
        for key, totals in rows.items():
            figures = totals.figures()
            results.append(
                {
                    "key": key,
                    "label": labels[key],
                    **{k: figures[k] for k in BREAKDOWN_FIGURES},
                    "share_pct": ratio(totals.revenue, total.revenue, 100),
                }
            )
        results.sort(key=lambda row: (-row["revenue"], row["key"] is None, str(row["key"])))
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "dimension": dimension,
            "source": used,
            "total": {k: v for k, v in total.figures().items() if k in BREAKDOWN_FIGURES},
            "results": results,
        }

    return cached("breakdown", _cache_params(filters, dimension=dimension, source=source), compute)


def analytics_choices() -> dict[str, list[tuple[Any, str]]]:
    """What the dashboard's filters offer: categories, countries of customers, segments."""
    from django_countries import countries

    codes = sorted({str(c) for c in Customer.objects.values_list("country", flat=True) if c})
    return {
        "categories": list(Category.objects.order_by("name").values_list("id", "name")),
        "countries": [(code, countries.name(code) or code) for code in codes],
        "segments": list(CustomerSegment.choices),
    }
