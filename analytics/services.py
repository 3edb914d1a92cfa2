"""Writes for analytics: the daily rollups and the analytics cache generation.

- :func:`rollups_apply_sales` adds (``sign=+1``) or takes off (``sign=-1``) the current
  contribution of some sales to the rollups, in SQL, inside the caller's transaction. The sale
  services call it in every sale write (-1 before a change, +1 after); bulk writers (the sales
  import) call it with their whole id lists.
- :func:`rollups_rebuild` recomputes a date range (or everything) from the sales tables.
- :func:`analytics_cache_bump` moves the analytics cache to a new generation: every cached
  answer is then ignored (and ages out). :func:`rollups_apply_sales` schedules it after commit by
  itself; other writers that change what analytics show call it after their commit too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from core.ops import replicas
from analytics import sql as q

logger = logging.getLogger(__name__)

# The primary's WAL position at the latest bump (read replicas: core/ops/replicas.py).
COMMIT_POSITION_KEY = "analytics:commit_position"
GENERATION_KEY = "analytics:generation"
APPLY_CHUNK = 50_000  # sale ids per statement


# --- Cache generation ---------------------------------------------------------------------------


def fresh_generation() -> int:
    """A generation number for a missing counter: the time in microseconds, larger than any
    number the lost counter can have reached (unless it was bumped a million times a second),
    so answers cached under older generations are never served again."""
    return time.time_ns() // 1000


def analytics_cache_bump() -> int | None:
    """Start a new analytics cache generation; returns it, or ``None`` when the cache is
    unreachable (then cached answers can lag until they expire: ``ANALYTICS_CACHE_SECONDS``).

    Call it AFTER the write commits (``transaction.on_commit(analytics_cache_bump)``), so that
    replicas.record_commit_position(COMMIT_POSITION_KEY)  # before the new generation
    no reader can cache data from before the write under the new generation."""
    try:
        try:
            generation = cache.incr(GENERATION_KEY)
        except ValueError:  # no counter yet (or evicted): start a fresh one
            fresh = fresh_generation()
            if cache.add(GENERATION_KEY, fresh, timeout=None):
                return fresh
            generation = cache.incr(GENERATION_KEY)
    except Exception:  # a cache without IGNORE_EXCEPTIONS: analytics must not break writes
        logger.warning("Analytics cache generation not bumped (cache unavailable)", exc_info=True)
        return None
    if generation is None:  # django-redis with IGNORE_EXCEPTIONS: Redis did not answer
        logger.warning("Analytics cache generation not bumped (cache unavailable)")
    return generation


# --- Applying sales to the rollups -------------------------------------------------------------


def _ids_condition(ids: Sequence[int]) -> tuple[str, list]:
    """``s.id`` in ``ids`` as one parameter: a bigint array on PostgreSQL, a JSON array read
    by ``json_each`` on SQLite (no limit on the number of ids either way)."""
    if q.is_postgres():
        return "s.id = ANY(%s::bigint[])", ["{" + ",".join(map(str, ids)) + "}"]
    return "s.id IN (SELECT value FROM json_each(%s))", [json.dumps(list(ids))]


def _add(cursor, condition: str, params: list) -> None:
    lines, lines_params = q.lines_cte(condition, params)
    if q.is_postgres():
        # One statement: the snapshot of new products' categories and the four upserts.
        parts = [lines, f"snapshot AS ({q.snapshot_insert_sql()})"]
        parts += [f"r{n} AS ({q.upsert_sql(rollup)})" for n, rollup in enumerate(q.ROLLUPS)]
        cursor.execute(f"WITH {', '.join(parts)} SELECT 1", lines_params)
        return
    cursor.execute(f"WITH {lines} {q.snapshot_insert_sql()}", lines_params)
    for rollup in q.ROLLUPS:
        cursor.execute(f"WITH {lines} {q.upsert_sql(rollup)}", lines_params)


def _subtract(cursor, condition: str, params: list) -> int:
    """Take the lines' contribution off; returns how many contributions found no rollup row
    (0 unless the rollups were out of step with the sales)."""
    lines, lines_params = q.lines_cte(condition, params)
    if q.is_postgres():
        parts, counts = [lines], []
        for n, rollup in enumerate(q.ROLLUPS):
            parts += q.subtract_ctes(rollup, str(n))
            counts.append(f"(SELECT COUNT(*) FROM d_{n}) - (SELECT COUNT(*) FROM u_{n})")
        cursor.execute(f"WITH {', '.join(parts)} SELECT {' + '.join(counts)}", lines_params)
        return int(cursor.fetchone()[0])
    missing = 0
    for rollup in q.ROLLUPS:
        delta = f"d AS ({rollup.aggregate(1)})"
        cursor.execute(f"WITH {lines}, {delta} SELECT COUNT(*) FROM d", lines_params)
        expected = cursor.fetchone()[0]
        cursor.execute(f"WITH {lines}, {delta} {q.subtract_update_sql(rollup, 'd')}", lines_params)
        cursor.execute("SELECT changes()")  # rowcount is -1 after a WITH ... UPDATE
        missing += expected - cursor.fetchone()[0]
    return missing


def _delete_zero_rows(cursor) -> None:
    statements = q.delete_zero_rows_sql()
    if q.is_postgres():
        ctes = ", ".join(f"z{n} AS ({sql})" for n, sql in enumerate(statements[:-1]))
        cursor.execute(f"WITH {ctes} {statements[-1]}")
        return
    for sql in statements:
        cursor.execute(sql)


def _local_day(value: date | datetime) -> date:
    if not isinstance(value, datetime):
        return value
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return timezone.localdate(value)


def rollups_apply_sales(
    *,
    sale_ids: Sequence[int] = (),
    sign: int,
    extra_days: Iterable[date | datetime] = (),
    sale_ids_sql: str | None = None,
) -> None:
    """Add (``sign=+1``) or take off (``sign=-1``) the current contribution of the sales
    ``sale_ids`` (their rows in ``sales_sale``/``sales_saleitem`` as they are now; completed
    sales only, others contribute nothing) to the daily rollups.

    Call it inside the transaction of the write: ``-1`` before changing or deleting sales
    (while their old rows exist, after locking them), ``+1`` after creating or changing them.
    Set-based SQL whatever the number of ids (one array parameter, statements of
    ``APPLY_CHUNK`` ids). On PostgreSQL it first takes a transaction-scoped advisory lock per
    local day touched, in day order, so concurrent writers never deadlock on rollup rows; a
    writer that will move sales to other days in the same transaction (an edit of ``sold_at``)
    passes those days (or the new ``sold_at`` datetimes) as ``extra_days`` to its first call.
    Rows that fall to zero are deleted.
    Bulk writers (imports) may give ``sale_ids_sql`` instead: a parameterless SQL query giving
    the sale ids (e.g. from their staging table), applied in one pass whatever their number.
    Schedules :func:`analytics_cache_bump` for after the commit.
    """
    if sign not in (1, -1):
        raise ValueError("sign must be +1 or -1")
    ids = sorted({int(sale_id) for sale_id in sale_ids})
    extra = sorted({_local_day(day) for day in extra_days})
    if not ids and sale_ids_sql is None:
        return
    if sale_ids_sql is not None:
        batches = [(f"s.id IN ({sale_ids_sql})", [])]
        first = "(query)"
    else:
        batches = [
            _ids_condition(ids[start : start + APPLY_CHUNK])
            for start in range(0, len(ids), APPLY_CHUNK)
        ]
        first = ids[0]
    missing = 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        if q.is_postgres():
            condition, params = batches[0] if sale_ids_sql is not None else _ids_condition(ids)
            cursor.execute(*q.day_locks_sql(condition, params, extra))
        for condition, params in batches:
            if sign > 0:
                _add(cursor, condition, params)
            else:
                missing += _subtract(cursor, condition, params)
        if sign < 0:
            _delete_zero_rows(cursor)
        transaction.on_commit(analytics_cache_bump)
    if missing:
        logger.error(
            "Analytics rollups were out of step with the sales: %d rollup rows missing while "
            "taking off sales (first id %s); run `manage.py rebuild_rollups`.",
            missing,
            first,
        )


# --- Rebuilding ---------------------------------------------------------------------------------

REBUILD_LINES = "analytics_rebuild_lines"


@dataclass
class RollupRebuildStats:
    date_from: date | None
    date_to: date | None
    full: bool
    rows: dict[str, int] = field(default_factory=dict)  # rows of the range, per table
    deleted: int = 0  # rows that should not have been there
    updated: int = 0  # rows whose figures were wrong
    inserted: int = 0  # rows that were missing
    seconds: float = 0.0

    @property
    def fixed(self) -> int:
        return self.deleted + self.updated + self.inserted

    @property
    def days(self) -> int:
        if self.date_from is None or self.date_to is None:
            return 0
        return (self.date_to - self.date_from).days + 1


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, dt_time.min), timezone.get_default_timezone())


def sales_day_range() -> tuple[date, date] | None:
    """The first and last local day with a sale (any status), or ``None`` without sales."""
    from sales.models import Sale

    bounds = Sale.objects.order_by("sold_at").values_list("sold_at", flat=True)
    first, last = bounds.first(), bounds.reverse().first()
    if first is None or last is None:
        return None
    return timezone.localdate(first), timezone.localdate(last)


def _sync_table(cursor, rollup: q.Rollup, new: str, day_range: list, stats) -> None:
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
    differs = " OR ".join(f"t.{m} <> n.{m}" for m in q.MEASURES)
    sets = ", ".join(f"{m} = n.{m}" for m in q.MEASURES)
    cursor.execute(
        f"UPDATE {rollup.table} AS t SET {sets} FROM {new} n WHERE {match} AND ({differs})"
    )
    stats.updated += max(cursor.rowcount, 0)
    keys = ", ".join(rollup.keys)
    cursor.execute(
        f"INSERT INTO {rollup.table} ({keys}, {', '.join(q.MEASURES)}) "
        f"SELECT * FROM {new} n WHERE NOT EXISTS "
        f"(SELECT 1 FROM {rollup.table} t WHERE {match}) ORDER BY {keys}"
    )
    stats.inserted += max(cursor.rowcount, 0)
    cursor.execute(f"SELECT COUNT(*) FROM {new}")
    stats.rows[rollup.table] = cursor.fetchone()[0]


def rollups_rebuild(
    *, date_from: date | None = None, date_to: date | None = None
) -> RollupRebuildStats:
    """Recompute the rollup rows of ``date_from``..``date_to`` (local days, inclusive;
    widened to whole months) from the sales tables and correct the tables where they differ
    (rows deleted, updated, inserted: ``stats.fixed``), in one transaction, with set-based
    SQL. Without both dates: everything (every day, and each product counted under its
    current category again). One bound missing: the first or last sale day. Rollup writers
    (sales) wait while it runs (PostgreSQL advisory lock); readers are not blocked."""
    started = time.perf_counter()
    full = date_from is None and date_to is None
    if not full and (date_from is None or date_to is None):
        history = sales_day_range()
        if history is None:
            return RollupRebuildStats(date_from, date_to, full=False)
        date_from = date_from or history[0]
        date_to = date_to or history[1]
    if not full and date_from > date_to:
        raise ValueError(f"date_from {date_from} is after date_to {date_to}")
    if not full:  # whole months: the monthly rollups cannot be rebuilt for part of a month
        date_from = date_from.replace(day=1)
        date_to = (date_to.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    stats = RollupRebuildStats(date_from, date_to, full=full)
    postgres = q.is_postgres()
    with transaction.atomic(), connection.cursor() as cursor:
        if postgres:
            cursor.execute(q.exclusive_lock_sql())
            cursor.execute("SET LOCAL work_mem = '256MB'")  # hash aggregates stay in memory
        if full:
            condition, params, day_range = "TRUE", [], []
            # Every product under its current category from now on.
            cursor.execute(f"DELETE FROM {q.SNAPSHOT}")
            cursor.execute(
                f"INSERT INTO {q.SNAPSHOT} (product_id, category_key) "
                f"SELECT id, COALESCE(category_id, 0) FROM {q.PRODUCT}"
            )
        else:
            condition = "s.sold_at >= %s AND s.sold_at < %s"
            adapt = connection.ops.adapt_datetimefield_value
            params = [
                adapt(local_midnight(date_from)),
                adapt(local_midnight(date_to + timedelta(days=1))),
            ]
            day_range = [date_from, date_to]
        # The lines of the range once into a temporary table (one join, no WAL), then one
        # GROUP BY per rollup table over it, compared with what the table holds.
        lines, lines_params = q.lines_cte(condition, params, materialized=False)
        temporary = [REBUILD_LINES, *(f"{REBUILD_LINES}_{n}" for n in range(len(q.ROLLUPS)))]
        for table in temporary:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {REBUILD_LINES} AS WITH {lines} SELECT * FROM lines",
            lines_params,
        )
        lines = f"lines AS (SELECT * FROM {REBUILD_LINES})"
        if not full:
            cursor.execute(f"WITH {lines} {q.snapshot_insert_sql()}")
        for n, rollup in enumerate(q.ROLLUPS):
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
                columns = ", ".join((*rollup.keys, *q.MEASURES))
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
        if postgres and stats.fixed:
            # Fresh statistics, or the planner misjudges the new rows.
            cursor.execute(f"ANALYZE {', '.join((*q.ROLLUP_TABLES, q.SNAPSHOT))}")
        transaction.on_commit(analytics_cache_bump)
    if full:
        history = sales_day_range()
        stats.date_from, stats.date_to = history or (None, None)
    stats.seconds = time.perf_counter() - started
    return stats
