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

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from analytics import sql as q
from core.ops import replicas

logger = logging.getLogger(__name__)

GENERATION_KEY = "analytics:generation"
# The primary's WAL position at the latest bump (read replicas: core/ops/replicas.py).
COMMIT_POSITION_KEY = "analytics:commit_position"
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
    no reader can cache data from before the write under the new generation."""
    replicas.record_commit_position(COMMIT_POSITION_KEY)  # before the new generation
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
    ``sale_ids`` (their sale and line rows as they are now; completed
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
    batches: list[tuple[str, list[Any]]]
    first: int | str
    if sale_ids_sql is not None:
        batches = [(f"s.id IN ({sale_ids_sql})", [])]
        lock, first = batches[0], "(query)"
    else:
        batches = [
            q.ids_condition(ids[start : start + APPLY_CHUNK])
            for start in range(0, len(ids), APPLY_CHUNK)
        ]
        lock, first = q.ids_condition(ids), ids[0]
    with transaction.atomic(savepoint=False):
        missing = q.apply_contribution(batches, sign=sign, extra_days=extra, locks=lock)
        transaction.on_commit(analytics_cache_bump)
    if missing:
        logger.error(
            "Analytics rollups were out of step with the sales: %d rollup rows missing while "
            "taking off sales (first id %s); run `manage.py rebuild_rollups`.",
            missing,
            first,
        )


# --- Rebuilding ---------------------------------------------------------------------------------


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
    # Not full: both bounds are known now (given, or the first/last sale day).
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValueError(f"date_from {date_from} is after date_to {date_to}")
    if date_from is not None and date_to is not None:
        # Whole months: the monthly rollups cannot be rebuilt for part of a month.
        date_from = date_from.replace(day=1)
        date_to = (date_to.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    stats = RollupRebuildStats(date_from, date_to, full=full)
    with transaction.atomic():
        params: list[Any]
        day_range: list[date]
        if date_from is None or date_to is None:  # full
            condition, params, day_range = "TRUE", [], []
        else:
            condition = "s.sold_at >= %s AND s.sold_at < %s"
            adapt = connection.ops.adapt_datetimefield_value
            params = [
                adapt(local_midnight(date_from)),
                adapt(local_midnight(date_to + timedelta(days=1))),
            ]
            day_range = [date_from, date_to]
        q.rebuild_rollups(condition, params, day_range=day_range, full=full, stats=stats)
        transaction.on_commit(analytics_cache_bump)
    if full:
        history = sales_day_range()
        stats.date_from, stats.date_to = history or (None, None)
    stats.seconds = time.perf_counter() - started
    return stats
