"""The analytics app's hand-written SQL (issue 15: raw SQL where it pays, in one module).

First the SQL behind the rollups (``analytics.services``): set-based statements that
aggregate sale lines into the rollup tables, for PostgreSQL and SQLite.

Everything starts from one "lines" source: the lines of the completed sales selected by a
condition (sale ids, or a ``sold_at`` range), each with its local day, sale, customer, product,
category key, revenue (line total), cost (unit cost x quantity) and units. Each rollup table is
a GROUP BY of that source.

Then the building blocks of the analytics reads (``analytics.selectors``): a SELECT over the
sales or the rollup tables, assembled from fixed parts, with every value a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

from analytics.models import (
    DailyCategorySales,
    DailyCustomerSales,
    DailyProductSales,
    DailySales,
    MonthlyCustomerSales,
    MonthlyProductSales,
    RollupProductCategory,
)
from customers.models import Customer
from core.ops import replicas
from products.models import Product
from sales.models import Sale, SaleItem, SaleStatus

if TYPE_CHECKING:
    from analytics.selectors import AnalyticsFilters

SALE = Sale._meta.db_table
ITEM = SaleItem._meta.db_table
PRODUCT = Product._meta.db_table
SNAPSHOT = RollupProductCategory._meta.db_table
MEASURES = ("revenue", "cost", "units", "orders")

# pg_advisory_xact_lock(ADVISORY_CLASS, n): n = 0 is the "all rollups" lock (shared by every
# writer, exclusive for a rebuild), n > 0 the lock of one month (year * 12 + month).
ADVISORY_CLASS = 0x616E  # "an"alytics


@dataclass(frozen=True)
class Rollup:
    table: str
    keys: tuple[str, ...]
    orders: str  # how a group counts its orders
    where: str = ""
    period: str = "day"  # the key column holding the day or the month (its first day)

    def aggregate(self, sign: int) -> str:
        keys = ", ".join(self.keys)
        return (
            f"SELECT {keys}, {sign} * ROUND(SUM(revenue), 2) AS revenue, "
            f"{sign} * ROUND(SUM(cost), 2) AS cost, "
            f"{sign} * SUM(units) AS units, {sign} * {self.orders} AS orders "
            f"FROM lines WHERE TRUE {self.where} GROUP BY {keys}"
        )


ROLLUPS = (
    Rollup(DailySales._meta.db_table, ("day",), "COUNT(DISTINCT sale_id)"),
    Rollup(DailyProductSales._meta.db_table, ("day", "product_id"), "COUNT(*)"),
    Rollup(
        DailyCustomerSales._meta.db_table,
        ("day", "customer_id"),
        "COUNT(DISTINCT sale_id)",
        "AND customer_id IS NOT NULL",
    ),
    Rollup(DailyCategorySales._meta.db_table, ("day", "category_key"), "COUNT(DISTINCT sale_id)"),
    Rollup(MonthlyProductSales._meta.db_table, ("month", "product_id"), "COUNT(*)", "", "month"),
    Rollup(
        MonthlyCustomerSales._meta.db_table,
        ("month", "customer_id"),
        "COUNT(DISTINCT sale_id)",
        "AND customer_id IS NOT NULL",
        "month",
    ),
)
ROLLUP_TABLES = tuple(rollup.table for rollup in ROLLUPS)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def local_day_sql(column: str) -> tuple[str, list]:
    """SQL for the local date (``settings.TIME_ZONE``) of a timestamp column."""
    sql, params = connection.ops.datetime_cast_date_sql(column, (), settings.TIME_ZONE)
    return sql, list(params)


def lines_cte(condition: str, params: Sequence, *, materialized: bool = True) -> tuple[str, list]:
    """``lines AS (...)``: the lines of the completed sales matching ``condition`` (on ``s``,
    the sale). The category is the product's rollup category (RollupProductCategory), or its
    current one for a product not in the rollups yet (0 = no category)."""
    day, day_params = local_day_sql("s.sold_at")
    month, month_params = month_sql(day), day_params
    hint = ("MATERIALIZED " if materialized else "NOT MATERIALIZED ") if is_postgres() else ""
    sql = (
        f"lines AS {hint}("
        f"SELECT {day} AS day, {month} AS month, s.id AS sale_id, s.customer_id AS customer_id, "
        "i.product_id AS product_id, "
        "COALESCE(r.category_key, p.category_id, 0) AS category_key, "
        "i.line_total AS revenue, i.unit_cost * i.quantity AS cost, i.quantity AS units "
        f"FROM {SALE} s JOIN {ITEM} i ON i.sale_id = s.id "
        f"JOIN {PRODUCT} p ON p.id = i.product_id "
        f"LEFT JOIN {SNAPSHOT} r ON r.product_id = i.product_id "
        f"WHERE s.status = %s AND {condition})"
    )
    return sql, [*day_params, *month_params, SaleStatus.COMPLETED.value, *params]


def month_sql(day: str) -> str:
    """The first day of the month of a date expression."""
    if is_postgres():
        return f"CAST(DATE_TRUNC('month', {day}) AS date)"
    return f"date({day}, 'start of month')"


def _combine(left: str, operator: str, right: str, measure: str) -> str:
    """``left <op> right``, money rounded to cents (SQLite adds money as floating point)."""
    if measure in ("revenue", "cost"):
        return f"ROUND({left} {operator} {right}, 2)"
    return f"{left} {operator} {right}"


def _set_clause(table: str, operator: str) -> str:
    return ", ".join(
        f"{m} = {_combine(f'{table}.{m}', operator, f'excluded.{m}', m)}" for m in MEASURES
    )


def upsert_sql(rollup: Rollup) -> str:
    """Add the lines' contribution: INSERT ... ON CONFLICT DO UPDATE, rows in key order (so
    that the row locks are taken in a deterministic order)."""
    keys = ", ".join(rollup.keys)
    return (
        f"INSERT INTO {rollup.table} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT * FROM ({rollup.aggregate(1)}) a WHERE TRUE ORDER BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {_set_clause(rollup.table, '+')}"
    )


def snapshot_insert_sql() -> str:
    """Record the category of products reaching the rollups for the first time."""
    return (
        f"INSERT INTO {SNAPSHOT} (product_id, category_key) "
        "SELECT DISTINCT product_id, category_key FROM lines WHERE TRUE ORDER BY product_id "
        "ON CONFLICT (product_id) DO NOTHING"
    )


def subtract_update_sql(rollup: Rollup, delta: str) -> str:
    """UPDATE taking the contribution in the relation ``delta`` off the rollup rows."""
    match = " AND ".join(f"t.{key} = {delta}.{key}" for key in rollup.keys)
    sets = ", ".join(f"{m} = {_combine(f't.{m}', '-', f'{delta}.{m}', m)}" for m in MEASURES)
    return f"UPDATE {rollup.table} AS t SET {sets} FROM {delta} WHERE {match}"


def subtract_ctes(rollup: Rollup, name: str) -> list[str]:
    """PostgreSQL: two CTEs, ``d_<name>`` (the contribution) and ``u_<name>`` (the UPDATE that
    takes it off, one row per updated rollup row)."""
    return [
        f"d_{name} AS ({rollup.aggregate(1)})",
        f"u_{name} AS ({subtract_update_sql(rollup, f'd_{name}')} RETURNING 1)",
    ]


def delete_zero_rows_sql() -> list[str]:
    """Rows whose contribution went back to nothing (a partial index finds them)."""
    return [f"DELETE FROM {table} WHERE orders = 0" for table in ROLLUP_TABLES]


def day_locks_sql(condition: str, params: Sequence, extra_days: Sequence) -> tuple[str, list]:
    """PostgreSQL: the "all rollups" lock (shared; a rebuild takes it exclusively), then the lock
    of the month of every local day of the completed sales matching ``condition`` (on ``s``)
    and of ``extra_days``, in order. Whoever writes rollup rows of a day (or of its month)
    holds that month's lock, so the row locks of the rollup tables are never taken in
    conflicting orders (no deadlock). Live sales are all on today anyway: they would queue on
    the same lock at day granularity too."""
    day, day_params = local_day_sql("s.sold_at")
    extra = " UNION SELECT %s::date" * len(extra_days)
    number = "(EXTRACT(YEAR FROM day) * 12 + EXTRACT(MONTH FROM day))::int"
    sql = (
        "SELECT COUNT(CASE WHEN n = 0 "
        f"THEN pg_advisory_xact_lock_shared({ADVISORY_CLASS}, 0)::text "
        f"ELSE pg_advisory_xact_lock({ADVISORY_CLASS}, n)::text END) FROM ("
        "SELECT n FROM (SELECT 0 AS n UNION "
        f"SELECT {number} FROM ("
        f"SELECT {day} AS day FROM {SALE} s WHERE s.status = %s AND {condition}{extra}"
        ") days) x ORDER BY n) y"
    )
    return sql, [*day_params, SaleStatus.COMPLETED.value, *params, *extra_days]


def exclusive_lock_sql() -> str:
    """PostgreSQL: what a rebuild takes: no rollup writer runs until it commits."""
    return f"SELECT pg_advisory_xact_lock({ADVISORY_CLASS}, 0)"


CUSTOMER = Customer._meta.db_table
DAILY, DAILY_PRODUCT, DAILY_CUSTOMER, DAILY_CATEGORY, MONTHLY_PRODUCT, MONTHLY_CUSTOMER = (
    ROLLUP_TABLES
)


# --- The analytics selectors' SQL building blocks -----------------------------------------


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
    if filters.customer is not None:
        query.filter("s.customer_id = %s", filters.customer)
    customer_filters(query, filters, "s.customer_id")
    return query


def join_customer(query: Query, column: str) -> Query:
    """``c``: the customer (LEFT JOIN: a country/segment condition makes it an inner join)."""
    return query.join(f"LEFT JOIN {CUSTOMER} c ON c.id = {column}")


def customer_filters(query: Query, filters: AnalyticsFilters, column: str) -> None:
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


def category_rollup_in_step() -> bool:
    """Whether every product is still in the category its sales were counted under."""
    with replicas.read_connection().cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {SNAPSHOT} r JOIN {PRODUCT} p ON p.id = r.product_id "
            "WHERE COALESCE(p.category_id, 0) <> r.category_key LIMIT 1"
        )
        return cursor.fetchone() is None


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
