"""Celery tasks of the analytics app: thin, safe to run twice."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

from analytics.services import rollups_rebuild
from core.ops.caching import purge_stale_cache_generations


def _day(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


@shared_task(name="analytics.rebuild_rollups")
def rebuild_rollups_task(
    date_from: str | date | None = None, date_to: str | date | None = None
) -> dict:
    """Rebuild the rollups of ``date_from``..``date_to`` (ISO dates; both omitted: all).
    Idempotent: a rebuild replaces the rows of its range."""
    stats = rollups_rebuild(date_from=_day(date_from), date_to=_day(date_to))
    return {
        "date_from": stats.date_from.isoformat() if stats.date_from else None,
        "date_to": stats.date_to.isoformat() if stats.date_to else None,
        "rows": stats.rows,
        "seconds": round(stats.seconds, 3),
    }


def recent_days(days: int = 1) -> tuple[date, date]:
    """The ``days`` whole local days (TIME_ZONE) before today: ``(first, yesterday)``."""
    if days < 1:
        raise ValueError("days must be at least 1")
    yesterday = timezone.localdate() - timedelta(days=1)
    return yesterday - timedelta(days=days - 1), yesterday


@shared_task(name="analytics.refresh_recent_rollups")
def refresh_recent_rollups_task(days: int = 1) -> dict:
    """Beat, daily: rebuild the rollups of the last ``days`` whole local days (yesterday by
    default; widened to whole months by the rebuild), a safety net for sales written behind
    the services' back. Idempotent, like every rebuild."""
    date_from, date_to = recent_days(days)
    return rebuild_rollups_task(date_from.isoformat(), date_to.isoformat())


# The cache purge lives here because analytics is today's only generation namespace and this
# module is found by autodiscovery (salesproject itself is not an installed app).
@shared_task(name="analytics.purge_stale_cache")
def purge_stale_cache_task(batch: int = 500, pause: float = 0.0) -> dict:
    """Beat, every 10 minutes: delete the cache keys of old generations (SCAN + UNLINK, see
    core/ops/caching.py). Safe to run twice; returns quietly when Redis is down."""
    return purge_stale_cache_generations(batch=batch, pause=pause).as_dict()
