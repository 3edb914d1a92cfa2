"""The SQL behind the rollups (internal to ``analytics.services``): set-based statements that
aggregate sale lines into the rollup tables, for PostgreSQL and SQLite.

Everything starts from one "lines" source: the lines of the completed sales selected by a
condition (sale ids, or a ``sold_at`` range), each with its local day, sale, customer, product,
category key, revenue (line total), cost (unit cost x quantity) and units. Each rollup table is
a GROUP BY of that source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
from products.models import Product
from sales.models import Sale, SaleItem, SaleStatus

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
