"""Celery tasks of the analytics app: thin, safe to run twice."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from analytics.services import rollups_rebuild


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
