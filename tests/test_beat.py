"""The beat schedule (CELERY_BEAT_SCHEDULE): every entry names a registered task, parses, is
commented; the daily rollup refresh rebuilds yesterday (local day)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import crontab, schedule
from django.conf import settings
from django.core.management import CommandError, call_command

import analytics.tasks
from analytics.management.commands import rebuild_rollups as rebuild_command
from analytics.services import RollupRebuildStats
from analytics.tasks import recent_days, refresh_recent_rollups_task
from salesproject.celery import app

pytestmark = pytest.mark.embedded


def test_every_entry_names_a_registered_task():
    app.loader.import_default_modules()  # what a worker does: autodiscover the tasks modules
    assert app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, f"beat entry {name!r}: no task {entry['task']!r}"


def test_every_schedule_parses_and_comes_due():
    now = datetime.now(UTC)
    for name, conf in settings.CELERY_BEAT_SCHEDULE.items():
        entry = ScheduleEntry(name=name, app=app, last_run_at=now, **conf)
        assert isinstance(entry.schedule, schedule | crontab)
        due, next_in = entry.is_due()
        assert not due, name  # it just ran
        assert 0 < next_in <= 24 * 3600, name
        # Signature-compatible: the task accepts the entry's arguments.
        task = app.tasks[conf["task"]]
        task.s(*conf.get("args", ()), **conf.get("kwargs", {}))  # raises TypeError if not


def test_cache_purge_and_rollup_refresh_are_scheduled():
    beat = settings.CELERY_BEAT_SCHEDULE
    purge = beat["purge-stale-cache"]
    assert purge["task"] == "analytics.purge_stale_cache"
    assert purge["schedule"] == 600.0
    refresh = beat["refresh-yesterdays-rollups"]
    assert refresh["task"] == "analytics.refresh_recent_rollups"
    cron = refresh["schedule"]
    assert (cron.hour, cron.minute) == ({2}, {30})
    assert cron.day_of_week == set(range(7)) and cron.day_of_month == set(range(1, 32))
    assert refresh["kwargs"] == {"days": 1}


def test_every_entry_is_commented():
    """DESIGN/issue: each beat entry says its purpose in a comment just above it."""
    package = Path(settings.BASE_DIR) / "salesproject" / "settings"
    source = "\n".join(path.read_text() for path in sorted(package.glob("*.py")))
    block = re.search(r"^CELERY_BEAT_SCHEDULE = \{\n(.*?)^\}", source, re.S | re.M)
    assert block
    lines = block.group(1).splitlines()
    for name in settings.CELERY_BEAT_SCHEDULE:
        index = next(i for i, line in enumerate(lines) if line.strip().startswith(f'"{name}"'))
        assert index > 0 and lines[index - 1].strip().startswith("#"), name


# --- Refresh of the recent rollups ----------------------------------------------------------------


def test_recent_days_are_whole_local_days_before_today(settings, monkeypatch):
    monkeypatch.setattr(analytics.tasks.timezone, "localdate", lambda: date(2025, 3, 1))
    assert recent_days() == (date(2025, 2, 28), date(2025, 2, 28))
    assert recent_days(3) == (date(2025, 2, 26), date(2025, 2, 28))
    with pytest.raises(ValueError):
        recent_days(0)


def test_recent_days_follow_time_zone(settings):
    # 23:30 UTC on 1 March is already 2 March in Tokyo: yesterday there is 1 March.
    settings.TIME_ZONE = "Asia/Tokyo"
    from django.utils import timezone

    real_now = timezone.now
    try:
        timezone.now = lambda: datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
        assert recent_days() == (date(2025, 3, 1), date(2025, 3, 1))
        settings.TIME_ZONE = "UTC"
        assert recent_days() == (date(2025, 2, 28), date(2025, 2, 28))
    finally:
        timezone.now = real_now


@pytest.fixture
def rebuild_calls(monkeypatch):
    calls = []

    def fake_rebuild(*, date_from=None, date_to=None):
        calls.append((date_from, date_to))
        return RollupRebuildStats(date_from, date_to, full=False)

    monkeypatch.setattr(analytics.tasks, "rollups_rebuild", fake_rebuild)
    monkeypatch.setattr(rebuild_command, "rollups_rebuild", fake_rebuild)
    monkeypatch.setattr(analytics.tasks.timezone, "localdate", lambda: date(2025, 3, 1))
    return calls


def test_refresh_task_rebuilds_yesterday(rebuild_calls):
    result = refresh_recent_rollups_task.apply(kwargs={"days": 1}).get()
    assert rebuild_calls == [(date(2025, 2, 28), date(2025, 2, 28))]
    assert result["date_from"] == "2025-02-28"


def test_rebuild_command_days_back(rebuild_calls):
    call_command("rebuild_rollups", "--days-back", "2", stdout=StringIO())
    assert rebuild_calls == [(date(2025, 2, 27), date(2025, 2, 28))]
    with pytest.raises(CommandError, match="cannot be combined"):
        call_command("rebuild_rollups", "--days-back", "1", "--from", "2025-01-01")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rebuild_rollups", "--days-back", "0")


@pytest.mark.django_db
def test_refresh_task_runs_for_real_on_no_sales():
    from django.utils import timezone

    result = refresh_recent_rollups_task.apply().get()
    yesterday = timezone.localdate() - timedelta(days=1)
    # The rebuild widens the range to whole months.
    assert result["date_from"] <= yesterday.isoformat() <= result["date_to"]
