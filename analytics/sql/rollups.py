"""The SQL behind the rollups (``analytics.services``): set-based statements that
aggregate sale lines into the rollup tables, for PostgreSQL and SQLite.

Everything starts from one "lines" source: the lines of the completed sales selected by a
condition (sale ids, or a ``sold_at`` range), each with its local day, sale, customer, product,
category key, revenue (line total), cost (unit cost x quantity) and units. Each rollup table is
a GROUP BY of that source."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
from customers.models import Customer
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
    # The local day and month once per sale, not once per line (PostgreSQL would pull the
    # subquery up and compute them per joined line: OFFSET 0 keeps it a subquery).
    fence = " OFFSET 0" if is_postgres() else ""
    sql = (
        f"lines AS {hint}("
        "SELECT s.day, s.month, s.id AS sale_id, s.customer_id AS customer_id, "
        "i.product_id AS product_id, "
        "COALESCE(r.category_key, p.category_id, 0) AS category_key, "
        "i.line_total AS revenue, i.unit_cost * i.quantity AS cost, i.quantity AS units "
        f"FROM (SELECT s.id, s.customer_id, {day} AS day, {month} AS month FROM {SALE} s "
        f"WHERE s.status = %s AND {condition}{fence}) s "
        f"JOIN {ITEM} i ON i.sale_id = s.id "
        f"JOIN {PRODUCT} p ON p.id = i.product_id "
        f"LEFT JOIN {SNAPSHOT} r ON r.product_id = i.product_id)"
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


SPAN = (
    "span AS (SELECT MIN(day) AS day_from, MAX(day) AS day_to, "
    "MIN(month) AS month_from, MAX(month) AS month_to FROM lines)"
)


def add_ctes(rollup: Rollup, name: str, aggregate: str | None = None) -> list[str]:
    """PostgreSQL: CTEs adding the contribution ``d_<name>`` to the rollup table (they need
    ``lines`` and ``SPAN``). When the table holds no row in the contribution's range of days
    (or months) — an import of new days, a first load — a plain ``INSERT`` (``i_<name>``);
    otherwise ``INSERT … ON CONFLICT DO UPDATE`` (``r_<name>``). The choice is one test
    (``h_<name>``) over the primary key; the branch not taken reads nothing.

    The plain INSERT is safe because every rollup writer holds the month locks of the days it
    writes (``day_locks_sql``; a rebuild the exclusive lock): no other transaction can add a
    row of these months before the commit; and if one did, the primary key would refuse the
    row and the whole write would fail, never count twice. Measured on the 400,000 sales of
    the reference import (the six tables and the snapshot in one statement, server CPU):
    into empty rollups 7.0-7.2 s with ON CONFLICT everywhere, 6.35 s so (no speculative
    insertion, no conflict check per row); into rollups holding those days 9.8-10.0 s
    before, 9.5 s so.

    ``aggregate``: the contribution's SQL when not ``rollup.aggregate(1)`` over ``lines``
    (see ``monthly_from_daily``)."""
    keys = ", ".join(rollup.keys)
    columns = f"{keys}, {', '.join(MEASURES)}"
    period = rollup.period
    held = (
        f"SELECT EXISTS (SELECT 1 FROM {rollup.table} t, span WHERE t.{period} "
        f"BETWEEN span.{period}_from AND span.{period}_to) AS held"
    )
    return [
        f"d_{name} AS ({aggregate or rollup.aggregate(1)})",
        f"h_{name} AS ({held})",
        f"i_{name} AS (INSERT INTO {rollup.table} ({columns}) SELECT {columns} FROM d_{name} "
        f"WHERE NOT (SELECT held FROM h_{name}) ORDER BY {keys})",
        f"r_{name} AS (INSERT INTO {rollup.table} ({columns}) SELECT {columns} FROM d_{name} "
        f"WHERE (SELECT held FROM h_{name}) ORDER BY {keys} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {_set_clause(rollup.table, '+')})",
    ]


def monthly_from_daily(rollup: Rollup, daily: str) -> str:
    """PostgreSQL: a monthly rollup's contribution summed from its daily one (the relation
    ``daily``, keys ``day`` then the monthly rollup's other keys) instead of grouping the
    lines again. Exact: a sale lies on one local day, so its lines fall in one month and a
    month's orders (lines, or distinct sales) are the sum of its days'; money is numeric
    with two decimals, summed exactly (each day's ROUND changed nothing). Over the reference
    import's 1M lines: two GROUP BYs of ~270,000 daily rows instead of a hash and a sort
    of the million lines (~1 s of the add statement's server CPU)."""
    others = ", ".join(rollup.keys[1:])
    sums = ", ".join(f"SUM({m}) AS {m}" for m in MEASURES)
    return (
        f"SELECT {month_sql('day')} AS {rollup.keys[0]}, {others}, {sums} "
        f"FROM {daily} GROUP BY 1, {others}"
    )


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
    the same lock at day granularity too. (The month of each distinct day, not of each sale:
    for the 400,000 sales of an import 0.78 -> 0.62 s.)"""
    day, day_params = local_day_sql("s.sold_at")
    extra = " UNION SELECT %s::date" * len(extra_days)
    number = "(EXTRACT(YEAR FROM day) * 12 + EXTRACT(MONTH FROM day))::int"
    sql = (
        "SELECT COUNT(CASE WHEN n = 0 "
        f"THEN pg_advisory_xact_lock_shared({ADVISORY_CLASS}, 0)::text "
        f"ELSE pg_advisory_xact_lock({ADVISORY_CLASS}, n)::text END) FROM ("
        "SELECT n FROM (SELECT 0 AS n UNION "
        f"SELECT {number} FROM ("
        f"SELECT DISTINCT {day} AS day FROM {SALE} s WHERE s.status = %s AND {condition}"
        f"{extra}) days) x ORDER BY n) y"
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
        # One statement: the snapshot of new products' categories and, per rollup table,
        # the update of the rows that exist and the insert of the new ones.
        parts = [lines, SPAN, f"snapshot AS ({snapshot_insert_sql()})"]
        daily: dict[tuple[tuple[str, ...], str], str] = {
            (rollup.keys[1:], rollup.where): f"d_{n}"
            for n, rollup in enumerate(ROLLUPS)
            if rollup.period == "day" and len(rollup.keys) == 2
        }
        for n, rollup in enumerate(ROLLUPS):
            source = daily.get((rollup.keys[1:], rollup.where))
            if rollup.period == "month" and source is not None:
                parts += add_ctes(rollup, str(n), monthly_from_daily(rollup, source))
            else:
                parts += add_ctes(rollup, str(n))
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
LIFETIME_COLUMNS = "customer_id, first_day, last_day, orders, revenue, second_day"
LIFETIME_MEASURES = ("first_day", "last_day", "orders", "revenue", "second_day")


# Every table rollups_rebuild writes (migrations build the rollups once all of them exist).
REBUILT_TABLES = (*ROLLUP_TABLES, LIFETIME)


def lifetime_schema_ready(connection: Any) -> bool:
    """Whether every table rollups_rebuild writes exists with the lifetime columns this code
    writes: a migration that builds the rollups runs only then (an earlier one, replayed on a
    new database, leaves it to the migration that completes the schema)."""
    introspection = connection.introspection
    with connection.cursor() as cursor:
        if not set(REBUILT_TABLES) <= set(introspection.table_names(cursor)):
            return False
        columns = {c.name for c in introspection.get_table_description(cursor, LIFETIME)}
    return set(LIFETIME_COLUMNS.split(", ")) <= columns


def lifetime_aggregate(customers: str | None = None) -> str:
    """Each customer's lifetime row (of the ``customers`` subquery, else all) from the
    customer rollup ``d``: first and last day, sales, revenue, and ``second_day``, the day of
    the second-latest sale: the latest day with two sales or more, or before the last day
    (``t.top``), whichever is later; none with a single sale."""
    where = f"customer_id IN ({customers})" if customers else "TRUE"
    return (
        "SELECT d.customer_id, MIN(d.day) AS first_day, MAX(d.day) AS last_day, "
        "SUM(d.orders) AS orders, SUM(d.revenue) AS revenue, "
        "CASE WHEN SUM(d.orders) < 2 THEN NULL "
        "ELSE MAX(CASE WHEN d.orders >= 2 OR d.day < t.top THEN d.day END) END AS second_day "
        f"FROM {DAILY_CUSTOMER} d JOIN (SELECT customer_id, MAX(day) AS top "
        f"FROM {DAILY_CUSTOMER} WHERE {where} GROUP BY customer_id) t "
        "ON t.customer_id = d.customer_id GROUP BY d.customer_id"
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
    sets = ", ".join(f"{column} = excluded.{column}" for column in LIFETIME_MEASURES)
    cursor.execute(
        f"INSERT INTO {LIFETIME} ({LIFETIME_COLUMNS}) SELECT * FROM ("
        f"{lifetime_aggregate(customers)}) a WHERE TRUE "
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
        differs = " OR ".join(f"t.{c} IS DISTINCT FROM n.{c}" for c in LIFETIME_MEASURES)
    else:  # the rollup table's column types, and an index (see rebuild_rollups)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {new} AS SELECT {LIFETIME_COLUMNS} FROM {LIFETIME} WHERE FALSE"
        )
        cursor.execute(f"CREATE UNIQUE INDEX {new}_keys ON {new} (customer_id)")
        cursor.execute(f"INSERT INTO {new} ({LIFETIME_COLUMNS}) {lifetime_aggregate()}")
        differs = " OR ".join(f"t.{c} IS NOT n.{c}" for c in LIFETIME_MEASURES)
    cursor.execute(
        f"DELETE FROM {LIFETIME} WHERE NOT EXISTS "
        f"(SELECT 1 FROM {new} n WHERE n.customer_id = {LIFETIME}.customer_id)"
    )
    stats.deleted += max(cursor.rowcount, 0)
    cursor.execute(
        f"UPDATE {LIFETIME} AS t SET {', '.join(f'{c} = n.{c}' for c in LIFETIME_MEASURES)} "
        f"FROM {new} n WHERE n.customer_id = t.customer_id AND ({differs})"
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
