"""The building blocks of the analytics reads (``analytics.selectors``): a SELECT over the
sales or the rollup tables, assembled from fixed parts, with every value a parameter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from analytics.sql.rollups import (
    CUSTOMER,
    DAILY_CUSTOMER,
    DAILY_PRODUCT,
    ITEM,
    LIFETIME,
    MONTHLY_CUSTOMER,
    MONTHLY_PRODUCT,
    PRODUCT,
    SALE,
    is_postgres,
)
from core.ops import replicas
from sales.models import SaleStatus

if TYPE_CHECKING:
    from analytics.selectors import AnalyticsFilters


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

    def fetch(
        self,
        select: str | tuple[str, Sequence[Any]],
        tail: str = "",
        tail_params: Iterable[Any] = (),
    ) -> list[tuple[Any, ...]]:
        """The rows of ``SELECT select ...``; ``select`` may carry its parameters, ``(sql,
        params)``."""
        select_sql, select_params = select if isinstance(select, tuple) else (select, ())
        with replicas.read_connection().cursor() as cursor:  # a replica's, when allowed
            cursor.execute(self.sql(select_sql, tail), [*select_params, *self.params, *tail_params])
            return cursor.fetchall()


def sales_query(filters: AnalyticsFilters) -> Query:
    """The lines of completed sales of the period, filtered: ``s`` sale, ``i`` line, ``p``
    product and ``c`` customer (joined when a filter or a grouping needs them)."""
    from analytics.services import local_midnight  # services imports this module

    query = Query(f"{SALE} s JOIN {ITEM} i ON i.sale_id = s.id")
    query.filter("s.status = %s", "completed")
    adapt = connection.ops.adapt_datetimefield_value
    query.filter("s.sold_at >= %s", adapt(local_midnight(filters.date_from)))
    query.filter("s.sold_at < %s", adapt(local_midnight(filters.date_to + timedelta(days=1))))
    if filters.product is not None:
        query.filter("i.product_id = %s", filters.product)
    if filters.category is not None:
        query.join(f"JOIN {PRODUCT} p ON p.id = i.product_id")
        query.filter("p.category_id = %s", filters.category)
    customer_filters(query, filters, "s.customer_id")
    return query


def join_customer(query: Query, column: str) -> Query:
    """``c``: the customer (LEFT JOIN: a country/segment condition makes it an inner join)."""
    return query.join(f"LEFT JOIN {CUSTOMER} c ON c.id = {column}")


def customer_filters(query: Query, filters: AnalyticsFilters, column: str) -> None:
    """The filters on the customer (``customer``, ``country``, ``segment``) of ``column`` (a
    customer id column of the query), joining ``c`` when a customer field is needed."""
    if filters.customer is not None:
        query.filter(f"{column} = %s", filters.customer)
    if filters.country or filters.segment:
        join_customer(query, column)
    if filters.country:
        query.filter("c.country = %s", filters.country)
    if filters.segment:
        query.filter("c.segment = %s", filters.segment)


def rollup_query(table: str, filters: AnalyticsFilters) -> Query:
    query = Query(f"{table} d")
    query.filter("d.day >= %s", connection.ops.adapt_datefield_value(filters.date_from))
    query.filter("d.day <= %s", connection.ops.adapt_datefield_value(filters.date_to))
    return query


def long_rollup_query(kind: str, filters: AnalyticsFilters) -> Query:
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
        return rollup_query(daily, filters)
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


def customers_with_rollup_rows(filters: AnalyticsFilters) -> int:
    """How many customers (in the filters' scope) have a customer rollup row in the period:
    one index probe per customer (index customer, day of the customer rollup)."""
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


def order_by(metric: str, key: str, *, revenue: str = "", cost: str = "") -> str:
    """``ORDER BY`` a ranking's metric (by its column position in the SELECT, margin by the
    ``revenue`` and ``cost`` sum expressions), ties by ``key``."""
    expressions = {
        "revenue": "2 DESC",
        "margin": f"({revenue} - {cost}) DESC",
        "units": "4 DESC",
        "orders": "5 DESC",
    }
    return f"ORDER BY {expressions[metric]}, {key}"


# Lifetime figures bound a customer's figures in any period (line totals and sales are never
# negative, and margin is at most revenue): the column of CustomerLifetime for each ranking.
LIFETIME_BOUND = {"revenue": "revenue", "margin": "revenue", "orders": "orders"}
TOP_CUSTOMERS_PROBE = 100  # customers with the highest lifetime figure ranked first
TOP_CUSTOMERS_MAX_CANDIDATES = 5000  # more than this: ranking every customer is as cheap


def _top_customers_among(
    filters: AnalyticsFilters, by: str, limit: int, customers: Sequence[int]
) -> list[tuple]:
    """``(customer, revenue, cost, units, orders)`` of the period for ``customers``, ranked,
    the first ``limit`` (their daily rows by the index customer, day: a few rows each; the ids
    are listed so that the planner sees how few they are)."""
    if not customers:
        return []
    query = rollup_query(DAILY_CUSTOMER, filters)
    query.filter(f"d.customer_id IN ({', '.join(['%s'] * len(customers))})", *customers)
    key = "d.customer_id"
    return query.fetch(
        f"{key}, {SUMS}",
        f"GROUP BY {key} {order_by(by, key, revenue='SUM(d.revenue)', cost='SUM(d.cost)')} "
        "LIMIT %s",
        [limit],
    )


def _metric(row: tuple, by: str) -> Any:
    _, revenue, cost, _, orders = row
    return {"revenue": revenue, "margin": revenue - cost, "orders": orders}[by]


def top_customers_bounded(filters: AnalyticsFilters, by: str, limit: int) -> list[tuple] | None:
    """The ``limit`` best customers of the period (rows as ``_top_customers_among``) reading
    only those who can be among them, not every customer of the period.

    A customer's revenue (orders) in a period is at most their lifetime revenue (orders), and
    their margin at most their revenue. First the ``TOP_CUSTOMERS_PROBE`` customers with the
    highest lifetime figure are ranked on the period: the ``limit``-th of them, T, is a floor for
    the answer. Then every customer whose lifetime figure is at least T is ranked: anyone left
    out has a period figure below T, so once the ``limit``-th ranked is at least T the answer is
    exact, ties (lower id first) included. ``None`` when that proof does not hold (fewer than
    ``limit`` customers, T not positive, a change committed between the statements) or when
    more than ``TOP_CUSTOMERS_MAX_CANDIDATES`` would be ranked: rank them all instead."""
    column = LIFETIME_BOUND[by]
    scope = Query(f"{LIFETIME} l")
    customer_filters(scope, filters, "l.customer_id")
    probe = scope.fetch(
        "l.customer_id",
        f"ORDER BY l.{column} DESC, l.customer_id LIMIT %s",
        [max(TOP_CUSTOMERS_PROBE, limit)],
    )
    rows = _top_customers_among(filters, by, limit, [customer for (customer,) in probe])
    if len(rows) < limit or _metric(rows[-1], by) <= 0:
        return None
    floor = _metric(rows[-1], by)
    scope.filter(f"l.{column} >= %s", floor)
    candidates = scope.fetch("l.customer_id", "LIMIT %s", [TOP_CUSTOMERS_MAX_CANDIDATES + 1])
    if len(candidates) > TOP_CUSTOMERS_MAX_CANDIDATES:
        return None
    rows = _top_customers_among(filters, by, limit, [customer for (customer,) in candidates])
    if len(rows) < limit or _metric(rows[-1], by) < floor:
        return None
    return rows


# --- Issue 17: cohorts, basket affinity, RFM, repeat customers ---------------------------


def bucket_sql(day: str, interval: str) -> str:
    """The first day of the ISO week (Monday) or calendar month of a date expression."""
    if is_postgres():
        return f"CAST(DATE_TRUNC('{'week' if interval == 'week' else 'month'}', {day}) AS date)"
    if interval == "week":  # strftime %w: 0 = Sunday ('%%': the statements take parameters)
        return (
            f"date({day}, '-' || ((CAST(strftime('%%w', {day}) AS integer) + 6) %% 7) || ' days')"
        )
    return f"date({day}, 'start of month')"


def cohort_rows(filters: AnalyticsFilters, interval: str) -> list[tuple]:
    """``(cohort start, period start, active customers, revenue)`` of the customers whose first
    completed sale ever (CustomerLifetime) is in the period, per period up to ``date_to``."""
    adapt = connection.ops.adapt_datefield_value
    query = Query(f"{LIFETIME} l JOIN {DAILY_CUSTOMER} d ON d.customer_id = l.customer_id")
    query.filter("l.first_day >= %s", adapt(filters.date_from))
    query.filter("l.first_day <= %s", adapt(filters.date_to))
    query.filter("d.day <= %s", adapt(filters.date_to))
    customer_filters(query, filters, "l.customer_id")
    first, period = bucket_sql("l.first_day", interval), bucket_sql("d.day", interval)
    return query.fetch(
        f"{first}, {period}, COUNT(DISTINCT d.customer_id), SUM(d.revenue)", "GROUP BY 1, 2"
    )


def basket_pairs(filters: AnalyticsFilters, product: int, limit: int) -> list[tuple]:
    """``(other product, sales containing both)`` for the completed sales of the period (and
    sale filters) with a line of ``product``: most such sales first, then product id."""
    query = sales_query(replace_product(filters, None))
    query.filter("i.product_id = %s", product)
    query.join(f"JOIN {ITEM} o ON o.sale_id = s.id AND o.product_id <> i.product_id")
    return query.fetch(
        "o.product_id, COUNT(*)", "GROUP BY o.product_id ORDER BY 2 DESC, 1 LIMIT %s", [limit]
    )


def product_orders(filters: AnalyticsFilters, products: Sequence[int]) -> dict[int, int]:
    """Completed sales of the period (and sale filters) with a line of each product."""
    if not products:
        return {}
    if filters.by_sale:
        query = sales_query(replace_product(filters, None))
        key = "i.product_id"
    else:
        query = long_rollup_query("product", replace_product(filters, None))
        key = "d.product_id"
    marks = ", ".join(["%s"] * len(products))
    query.filter(f"{key} IN ({marks})", *products)
    count = "COUNT(*)" if filters.by_sale else "SUM(d.orders)"
    return {int(k): int(v) for k, v in query.fetch(f"{key}, {count}", f"GROUP BY {key}")}


def replace_product(filters: AnalyticsFilters, product: int | None) -> AnalyticsFilters:
    from dataclasses import replace

    return replace(filters, product=product)


def per_customer_query(filters: AnalyticsFilters) -> Query:
    """The customer rollup's rows of the period in the filters' scope, as ``d``: grouped by
    ``d.customer_id`` on PostgreSQL from the covering index (customer, day) INCLUDE (orders,
    revenue) in customer order (see PER_CUSTOMER_SETTINGS)."""
    query = rollup_query(DAILY_CUSTOMER, filters)
    customer_filters(query, filters, "d.customer_id")
    return query


def rfm_cte(filters: AnalyticsFilters, segments: str, *, monetary: bool = True) -> tuple[str, list]:
    """``scored``: per customer with a completed sale in the period, the last sale's local day,
    sales, revenue, the scores ``r``, ``f``, ``m`` (NTILE(5) over the value then the customer
    id, ascending: 5 = the most recent / most frequent / highest) and ``segment`` (the SQL
    ``segments``: a CASE over ``r * 10 + f``)."""
    query = per_customer_query(filters)
    per_customer = query.sql(
        "d.customer_id AS customer_id, MAX(d.day) AS last_day, SUM(d.orders) AS orders, "
        "SUM(d.revenue) AS revenue",
        "GROUP BY d.customer_id",
    )
    scores = (
        "SELECT customer_id, last_day, orders, revenue, "
        "NTILE(5) OVER (ORDER BY last_day, customer_id) AS r, "
        "NTILE(5) OVER (ORDER BY orders, customer_id) AS f"
        + (", NTILE(5) OVER (ORDER BY revenue, customer_id) AS m" if monetary else "")
        + " FROM per_customer"
    )
    sql = (
        f"per_customer AS ({per_customer}), scores AS ({scores}), "
        f"scored AS (SELECT scores.*, {segments} AS segment FROM scores)"
    )
    return sql, list(query.params)


# For the statements that group the period's customer rollup rows by customer (per_customer_
# query; ~470k rows into ~84k customers for a year of the reference data, 1M sales): hashing
# them (numeric sums) takes 210-400 ms, reading them in customer order from the covering index
# and summing as they come 70-120 ms, but the planner prices the hash lower; in parallel it
# sorts partial groups and spills them at the default work_mem. The RFM statement then sorts
# the customers three times (in memory at 32MB).
PER_CUSTOMER_SETTINGS = {
    "enable_hashagg": "off",
    "max_parallel_workers_per_gather": "0",
    "work_mem": "32MB",
}


def _fetch(sql: str, params: Sequence, *, per_customer: bool = False) -> list[tuple]:
    """The rows of ``sql``; ``per_customer``: with PER_CUSTOMER_SETTINGS for this statement
    alone (PostgreSQL: ``set_config(..., true)`` in a transaction of its own)."""
    connection = replicas.read_connection()
    if not (per_customer and connection.vendor == "postgresql"):
        with connection.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for name, value in PER_CUSTOMER_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def rfm_segments(filters: AnalyticsFilters, segments: str) -> list[tuple]:
    """``(segment, customers, revenue)`` per segment (M is not needed: one sort less)."""
    cte, params = rfm_cte(filters, segments, monetary=False)
    return _fetch(
        f"WITH {cte} SELECT segment, COUNT(*), SUM(revenue) FROM scored GROUP BY segment",
        params,
        per_customer=True,
    )


def rfm_customers(
    filters: AnalyticsFilters, segments: str, segment: str, limit: int | None, offset: int
) -> list[tuple]:
    """The customers of a segment: ``(id, name, email, last day, orders, revenue, r, f, m,
    how many in all)``, highest revenue first, then customer id."""
    cte, params = rfm_cte(filters, segments)
    page = " LIMIT %s OFFSET %s" if limit is not None else ""
    return _fetch(
        f"WITH {cte} SELECT g.customer_id, c.name, c.email, g.last_day, g.orders, g.revenue, "
        f"g.r, g.f, g.m, COUNT(*) OVER () FROM scored g JOIN {CUSTOMER} c ON c.id = g.customer_id "
        f"WHERE g.segment = %s ORDER BY g.revenue DESC, g.customer_id{page}",
        [*params, segment, *([limit, offset] if limit is not None else [])],
        per_customer=True,
    )


def customer_counts(filters: AnalyticsFilters, *, rollups: bool) -> tuple[int, int, int]:
    """``(customers, with two or more sales, new)`` of the period in the filters' scope: the
    customers with a completed sale (in scope) in it, those with at least two, and those whose
    first completed sale ever is in it. ``rollups``: CustomerLifetime and the customer rollup;
    otherwise the sales tables alone."""
    adapt = connection.ops.adapt_datefield_value
    if rollups:
        # One pass over CustomerLifetime: new customers (first sale ever in the period), and,
        # when no customer in scope bought after the period (a period ending today), the
        # others too: a customer bought in the period when their last sale is in it, twice or
        # more when their second-latest sale is.
        start, end = adapt(filters.date_from), adapt(filters.date_to)
        lifetimes = Query(f"{LIFETIME} l")
        customer_filters(lifetimes, filters, "l.customer_id")
        later, customers, repeat, new_count = lifetimes.fetch(
            (
                "SUM(CASE WHEN l.last_day > %s THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN l.last_day >= %s THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN l.second_day >= %s THEN 1 ELSE 0 END), "
                "SUM(CASE WHEN l.first_day >= %s AND l.first_day <= %s THEN 1 ELSE 0 END)",
                [end, start, start, start, end],
            )
        )[0]
        if not later:
            return int(customers or 0), int(repeat or 0), int(new_count or 0)
        # Some bought after the period: their sales in it, from the rollup rows.
        query = per_customer_query(filters)
        inner = query.sql("d.customer_id AS customer_id, SUM(d.orders) AS orders", "GROUP BY 1")
        sql = f"SELECT COUNT(*), SUM(CASE WHEN x.orders >= 2 THEN 1 ELSE 0 END) FROM ({inner}) x"
        customers, repeat = _fetch(sql, query.params, per_customer=True)[0]
        return int(customers or 0), int(repeat or 0), int(new_count or 0)
    from analytics.services import local_midnight

    query = sales_query(filters)
    query.filter("s.customer_id IS NOT NULL")
    inner = query.sql("s.customer_id AS customer_id, COUNT(DISTINCT s.id) AS orders", "GROUP BY 1")
    new = (
        f"NOT EXISTS (SELECT 1 FROM {SALE} e WHERE e.customer_id = x.customer_id "
        "AND e.status = %s AND e.sold_at < %s)"
    )
    sql = (
        f"SELECT COUNT(*), SUM(CASE WHEN x.orders >= 2 THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {new} THEN 1 ELSE 0 END) FROM ({inner}) x"
    )
    start = connection.ops.adapt_datetimefield_value(local_midnight(filters.date_from))
    params = [SaleStatus.COMPLETED.value, start, *query.params]
    customers, repeat, new_count = _fetch(sql, params)[0]
    return int(customers or 0), int(repeat or 0), int(new_count or 0)


def customer_lifetime(customer: int) -> tuple | None:
    rows = _fetch(
        f"SELECT first_day, last_day, orders, revenue FROM {LIFETIME} WHERE customer_id = %s",
        [customer],
    )
    return rows[0] if rows else None
