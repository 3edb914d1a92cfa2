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

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

from analytics.models import (
    CustomerLifetime,
    DailyCategorySales,
    DailyCustomerSales,
    DailyProductSales,
    DailySales,
    MonthlyCustomerSales,
    MonthlyProductSales,
    RollupProductCategory,
)
from core.ops import replicas
from customers.models import Customer
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


# --- Running the rollup writes ------------------------------------------------------------

REBUILD_LINES = "analytics_rebuild_lines"


def ids_condition(ids: Sequence[int]) -> tuple[str, list]:
    """``s.id`` in ``ids`` as one parameter: a bigint array on PostgreSQL, a JSON array read
    by ``json_each`` on SQLite (no limit on the number of ids either way)."""
    if is_postgres():
        return "s.id = ANY(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"]
    return "s.id IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


def _add(cursor: Any, condition: str, params: list) -> None:
    """Add the contribution of the lines matching ``condition`` to every rollup table."""
    lines, lines_params = lines_cte(condition, params)
    if is_postgres():
        # One statement: the snapshot of new products' categories and the four upserts.
        parts = [lines, f"snapshot AS ({snapshot_insert_sql()})"]
        parts += [f"r{n} AS ({upsert_sql(rollup)})" for n, rollup in enumerate(ROLLUPS)]
        cursor.execute(f"WITH {', '.join(parts)} SELECT 1", lines_params)
        return
    cursor.execute(f"WITH {lines} {snapshot_insert_sql()}", lines_params)
    for rollup in ROLLUPS:
        cursor.execute(f"WITH {lines} {upsert_sql(rollup)}", lines_params)


def _subtract(cursor: Any, condition: str, params: list) -> int:
    """Take the lines' contribution off; returns how many contributions found no rollup row
    (0 unless the rollups were out of step with the sales)."""
    lines, lines_params = lines_cte(condition, params)
    if is_postgres():
        parts, counts = [lines], []
        for n, rollup in enumerate(ROLLUPS):
            parts += subtract_ctes(rollup, str(n))
            counts.append(f"(SELECT COUNT(*) FROM d_{n}) - (SELECT COUNT(*) FROM u_{n})")
        cursor.execute(f"WITH {', '.join(parts)} SELECT {' + '.join(counts)}", lines_params)
        return int(cursor.fetchone()[0])
    missing = 0
    for rollup in ROLLUPS:
        delta = f"d AS ({rollup.aggregate(1)})"
        cursor.execute(f"WITH {lines}, {delta} SELECT COUNT(*) FROM d", lines_params)
        expected = cursor.fetchone()[0]
        cursor.execute(f"WITH {lines}, {delta} {subtract_update_sql(rollup, 'd')}", lines_params)
        cursor.execute("SELECT changes()")  # rowcount is -1 after a WITH ... UPDATE
        missing += expected - cursor.fetchone()[0]
    return missing


def _delete_zero_rows(cursor: Any) -> None:
    """Delete the rollup rows whose contribution went back to nothing."""
    statements = delete_zero_rows_sql()
    if is_postgres():
        ctes = ", ".join(f"z{n} AS ({sql})" for n, sql in enumerate(statements[:-1]))
        cursor.execute(f"WITH {ctes} {statements[-1]}")
        return
    for sql in statements:
        cursor.execute(sql)


LIFETIME = CustomerLifetime._meta.db_table
LIFETIME_COLUMNS = "customer_id, first_day, last_day, orders, revenue"


# Every table rollups_rebuild writes (migrations build the rollups once all of them exist).
REBUILT_TABLES = (*ROLLUP_TABLES, LIFETIME)


def lifetime_aggregate(where: str = "TRUE") -> str:
    """Each customer's lifetime row, summed from the customer rollup (``d``)."""
    return (
        "SELECT d.customer_id, MIN(d.day) AS first_day, MAX(d.day) AS last_day, "
        f"SUM(d.orders) AS orders, SUM(d.revenue) AS revenue FROM {DAILY_CUSTOMER} d "
        f"WHERE {where} GROUP BY d.customer_id"
    )


def refresh_lifetimes(cursor: Any, condition: str, params: Sequence) -> None:
    """Recompute the :class:`CustomerLifetime` rows of the customers of the sales matching
    ``condition`` (on ``s``, any status) from their customer rollup rows: run after those rows
    were written. Two statements, rows in customer order (deterministic row locks)."""
    customers = (
        f"SELECT s.customer_id FROM {SALE} s WHERE s.customer_id IS NOT NULL AND {condition}"
    )
    cursor.execute(
        f"DELETE FROM {LIFETIME} WHERE customer_id IN ({customers}) AND NOT EXISTS "
        f"(SELECT 1 FROM {DAILY_CUSTOMER} d WHERE d.customer_id = {LIFETIME}.customer_id)",
        list(params),
    )
    sets = ", ".join(
        f"{column} = excluded.{column}" for column in ("first_day", "last_day", "orders", "revenue")
    )
    cursor.execute(
        f"INSERT INTO {LIFETIME} ({LIFETIME_COLUMNS}) SELECT * FROM ("
        f"{lifetime_aggregate(f'd.customer_id IN ({customers})')}) a WHERE TRUE "
        f"ORDER BY customer_id ON CONFLICT (customer_id) DO UPDATE SET {sets}",
        list(params),
    )


def rebuild_lifetimes(cursor: Any, stats: Any) -> None:
    """Make :class:`CustomerLifetime` equal to the sums of the customer rollup (after it was
    rebuilt): every customer, whatever the range (a customer's first sale can be anywhere)."""
    new = f"{REBUILD_LINES}_lifetime"
    cursor.execute(f"DROP TABLE IF EXISTS {new}")
    if is_postgres():
        cursor.execute(f"CREATE TEMPORARY TABLE {new} AS {lifetime_aggregate()}")
    else:  # the rollup table's column types, and an index (see rebuild_rollups)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {new} AS SELECT {LIFETIME_COLUMNS} FROM {LIFETIME} WHERE FALSE"
        )
        cursor.execute(f"CREATE UNIQUE INDEX {new}_keys ON {new} (customer_id)")
        cursor.execute(f"INSERT INTO {new} ({LIFETIME_COLUMNS}) {lifetime_aggregate()}")
    cursor.execute(
        f"DELETE FROM {LIFETIME} WHERE NOT EXISTS "
        f"(SELECT 1 FROM {new} n WHERE n.customer_id = {LIFETIME}.customer_id)"
    )
    stats.deleted += max(cursor.rowcount, 0)
    columns = ("first_day", "last_day", "orders", "revenue")
    differs = " OR ".join(f"t.{c} <> n.{c}" for c in columns)
    cursor.execute(
        f"UPDATE {LIFETIME} AS t SET {', '.join(f'{c} = n.{c}' for c in columns)} FROM {new} n "
        f"WHERE n.customer_id = t.customer_id AND ({differs})"
    )
    stats.updated += max(cursor.rowcount, 0)
    cursor.execute(
        f"INSERT INTO {LIFETIME} ({LIFETIME_COLUMNS}) SELECT {LIFETIME_COLUMNS} FROM {new} n "
        f"WHERE NOT EXISTS (SELECT 1 FROM {LIFETIME} t WHERE t.customer_id = n.customer_id) "
        "ORDER BY customer_id"
    )
    stats.inserted += max(cursor.rowcount, 0)
    cursor.execute(f"SELECT COUNT(*) FROM {new}")
    stats.rows[LIFETIME] = cursor.fetchone()[0]
    cursor.execute(f"DROP TABLE {new}")


def apply_contribution(
    batches: Sequence[tuple[str, list]],
    *,
    sign: int,
    extra_days: Sequence,
    locks: tuple[str, list],
) -> int:
    """Add (``sign=+1``) or take off (``sign=-1``) the contribution of the completed sales
    matching each ``(condition, params)`` of ``batches`` (on ``s``) to every rollup table;
    taking off deletes the rows that fall to zero. PostgreSQL first takes the day locks of
    ``locks`` (a condition covering every batch) and ``extra_days`` (see day_locks_sql). Run it
    in the write's transaction. Returns how many contributions found no rollup row to take
    off (0 unless the rollups were out of step with the sales)."""
    missing = 0
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(*day_locks_sql(*locks, extra_days))
        for condition, params in batches:
            if sign > 0:
                _add(cursor, condition, params)
            else:
                missing += _subtract(cursor, condition, params)
        if sign < 0:
            _delete_zero_rows(cursor)
        for condition, params in batches:  # after the customer rollup rows are final
            refresh_lifetimes(cursor, condition, params)
    return missing


def _sync_table(cursor: Any, rollup: Rollup, new: str, day_range: list, stats: Any) -> None:
    """Make the rollup rows of the range equal to ``new`` (the recomputed rows): delete the
    rows that should not be there, correct the wrong ones, insert the missing ones. When the
    rollups were right (the usual case) nothing is written: fast, and readers never see a
    half-built table."""
    match = " AND ".join(f"n.{key} = t.{key}" for key in rollup.keys)
    in_range = f"t.{rollup.period} >= %s AND t.{rollup.period} <= %s AND " if day_range else ""
    if day_range and rollup.period == "month":
        day_range = [day_range[0].replace(day=1), day_range[1].replace(day=1)]
    day_range = [connection.ops.adapt_datefield_value(day) for day in day_range]
    cursor.execute(
        f"DELETE FROM {rollup.table} AS t WHERE {in_range}"
        f"NOT EXISTS (SELECT 1 FROM {new} n WHERE {match})",
        day_range,
    )
    stats.deleted += max(cursor.rowcount, 0)
    differs = " OR ".join(f"t.{m} <> n.{m}" for m in MEASURES)
    sets = ", ".join(f"{m} = n.{m}" for m in MEASURES)
    cursor.execute(
        f"UPDATE {rollup.table} AS t SET {sets} FROM {new} n WHERE {match} AND ({differs})"
    )
    stats.updated += max(cursor.rowcount, 0)
    keys = ", ".join(rollup.keys)
    cursor.execute(
        f"INSERT INTO {rollup.table} ({keys}, {', '.join(MEASURES)}) "
        f"SELECT * FROM {new} n WHERE NOT EXISTS "
        f"(SELECT 1 FROM {rollup.table} t WHERE {match}) ORDER BY {keys}"
    )
    stats.inserted += max(cursor.rowcount, 0)
    cursor.execute(f"SELECT COUNT(*) FROM {new}")
    stats.rows[rollup.table] = cursor.fetchone()[0]


def rebuild_rollups(
    condition: str, params: Sequence, *, day_range: list, full: bool, stats: Any
) -> None:
    """Recompute the rollup rows of the sales matching ``condition`` (on ``s``) and correct
    the tables where they differ (``stats`` counts the rows deleted, updated, inserted; see
    ``analytics.services.rollups_rebuild``). ``full``: every product counted under its current
    category again. Run it in a transaction. PostgreSQL: takes the exclusive rollups lock."""
    postgres = is_postgres()
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(exclusive_lock_sql())
            cursor.execute("SET LOCAL work_mem = '256MB'")  # hash aggregates stay in memory
        if full:
            # Every product under its current category from now on.
            cursor.execute(f"DELETE FROM {SNAPSHOT}")
            cursor.execute(
                f"INSERT INTO {SNAPSHOT} (product_id, category_key) "
                f"SELECT id, COALESCE(category_id, 0) FROM {PRODUCT}"
            )
        # The lines of the range once into a temporary table (one join, no WAL), then one
        # GROUP BY per rollup table over it, compared with what the table holds.
        lines, lines_params = lines_cte(condition, params, materialized=False)
        temporary = [REBUILD_LINES, *(f"{REBUILD_LINES}_{n}" for n in range(len(ROLLUPS)))]
        for table in temporary:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {REBUILD_LINES} AS WITH {lines} SELECT * FROM lines",
            lines_params,
        )
        lines = f"lines AS (SELECT * FROM {REBUILD_LINES})"
        if not full:
            cursor.execute(f"WITH {lines} {snapshot_insert_sql()}")
        for n, rollup in enumerate(ROLLUPS):
            new = f"{REBUILD_LINES}_{n}"
            if postgres:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {new} AS WITH {lines} {rollup.aggregate(1)}"
                )
            else:
                # SQLite looks each rollup row up in the recomputed rows (NOT EXISTS, UPDATE
                # ... FROM): without an index on them, a scan of them per row (minutes for the
                # demo data, growing with the square of the range). The index only serves
                # when the columns have the rollup table's types (affinities), so the table
                # is made from the rollup table's columns, then filled. PostgreSQL hashes the
                # rows (anti-join): no index needed.
                columns = ", ".join((*rollup.keys, *MEASURES))
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {new} AS SELECT {columns} FROM {rollup.table} "
                    "WHERE FALSE"
                )
                cursor.execute(
                    f"CREATE UNIQUE INDEX {new}_keys ON {new} ({', '.join(rollup.keys)})"
                )
                cursor.execute(f"WITH {lines} INSERT INTO {new} ({columns}) {rollup.aggregate(1)}")
            _sync_table(cursor, rollup, new, day_range, stats)
        for table in temporary:
            cursor.execute(f"DROP TABLE {table}")
        rebuild_lifetimes(cursor, stats)
        if postgres and stats.fixed:
            # Fresh statistics, or the planner misjudges the new rows.
            cursor.execute(f"ANALYZE {', '.join((*ROLLUP_TABLES, SNAPSHOT, LIFETIME))}")


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
    if filters.customer is not None:
        query.filter("l.customer_id = %s", filters.customer)
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


def rfm_cte(filters: AnalyticsFilters, segments: str, *, monetary: bool = True) -> tuple[str, list]:
    """``scored``: per customer with a completed sale in the period, the last sale's local day,
    sales, revenue, the scores ``r``, ``f``, ``m`` (NTILE(5) over the value then the customer
    id, ascending: 5 = the most recent / most frequent / highest) and ``segment`` (the SQL
    ``segments``: a CASE over ``r * 10 + f``)."""
    # Sales and revenue from the monthly rows of the whole months (+ daily rows at the edges);
    # the last sale day from CustomerLifetime when it is inside the period (always when the
    # period ends today), else from the customer's daily rows (index customer, day).
    adapt = connection.ops.adapt_datefield_value
    query = long_rollup_query("customer", filters)
    if filters.customer is not None:
        query.filter("d.customer_id = %s", filters.customer)
    customer_filters(query, filters, "d.customer_id")
    sums = query.sql(
        "d.customer_id AS customer_id, SUM(d.orders) AS orders, SUM(d.revenue) AS revenue",
        "GROUP BY d.customer_id",
    )
    per_customer = (
        "SELECT x.customer_id, CASE WHEN l.last_day <= %s THEN l.last_day ELSE ("
        f"SELECT MAX(e.day) FROM {DAILY_CUSTOMER} e WHERE e.customer_id = x.customer_id "
        "AND e.day >= %s AND e.day <= %s) END AS last_day, x.orders, x.revenue "
        f"FROM ({sums}) x JOIN {LIFETIME} l ON l.customer_id = x.customer_id"
    )
    params = [adapt(filters.date_to), adapt(filters.date_from), adapt(filters.date_to)]
    params += query.params
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
    return sql, params


def _fetch(sql: str, params: Sequence) -> list[tuple]:
    with replicas.read_connection().cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def rfm_segments(filters: AnalyticsFilters, segments: str) -> list[tuple]:
    """``(segment, customers, revenue)`` per segment (M is not needed: one sort less)."""
    cte, params = rfm_cte(filters, segments, monetary=False)
    return _fetch(
        f"WITH {cte} SELECT segment, COUNT(*), SUM(revenue) FROM scored GROUP BY segment", params
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
    )


def customer_counts(filters: AnalyticsFilters, *, rollups: bool) -> tuple[int, int, int]:
    """``(customers, with two or more sales, new)`` of the period in the filters' scope: the
    customers with a completed sale (in scope) in it, those with at least two, and those whose
    first completed sale ever is in it. ``rollups``: the customer rollup and CustomerLifetime;
    otherwise the sales tables alone."""
    adapt = connection.ops.adapt_datefield_value
    if rollups:
        query = long_rollup_query("customer", filters)
        if filters.customer is not None:
            query.filter("d.customer_id = %s", filters.customer)
        customer_filters(query, filters, "d.customer_id")
        inner = query.sql("d.customer_id AS customer_id, SUM(d.orders) AS orders", "GROUP BY 1")
        sql = f"SELECT COUNT(*), SUM(CASE WHEN x.orders >= 2 THEN 1 ELSE 0 END) FROM ({inner}) x"
        customers, repeat = _fetch(sql, query.params)[0]
        # New customers: first sale ever in the period (so they bought in it), by the index on
        # CustomerLifetime.first_day, not a join per customer.
        firsts = Query(f"{LIFETIME} l")
        firsts.filter("l.first_day >= %s", adapt(filters.date_from))
        firsts.filter("l.first_day <= %s", adapt(filters.date_to))
        if filters.customer is not None:
            firsts.filter("l.customer_id = %s", filters.customer)
        customer_filters(firsts, filters, "l.customer_id")
        new_count = firsts.fetch("COUNT(*)")[0][0]
        return int(customers or 0), int(repeat or 0), int(new_count or 0)
    else:
        from analytics.services import local_midnight

        query = sales_query(filters)
        query.filter("s.customer_id IS NOT NULL")
        inner = query.sql(
            "s.customer_id AS customer_id, COUNT(DISTINCT s.id) AS orders", "GROUP BY 1"
        )
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
