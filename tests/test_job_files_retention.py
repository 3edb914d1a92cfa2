"""Issue 13 item 9: uploaded job files and error reports are kept JOB_FILES_RETENTION_DAYS after
the job finished, then purged (beat entry purge-job-files, command purge_job_files); the job row
notes it, and the API and admin answer clearly about a purged or missing file."""

from __future__ import annotations

import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from core.jobs.models import BatchJob
from core.jobs.services import batch_job_files_purge
from tests.api import assert_error

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.embedded,
    pytest.mark.usefixtures("fast_password_hasher"),
]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.JOB_FILES_RETENTION_DAYS = 7


def job_with_files(user=None, *, days_ago: float, status: str = "failed") -> BatchJob:
    finished = status in ("succeeded", "failed", "cancelled")
    job = BatchJob.objects.create(
        kind="import",
        params={"table": "categories", "format": "csv", "file_name": "c.csv"},
        status=status,
        created_by=user,
        finished_at=timezone.now() - timedelta(days=days_ago) if finished else None,
    )
    job.input_file.save("c.csv", ContentFile(b"name\nGarden\n"), save=False)
    job.error_file.save("errors.csv", ContentFile(b"name,error\n,required\n"), save=False)
    job.save()
    return job


def path_of(field) -> Path:
    return Path(field.path)


def test_old_finished_jobs_lose_their_files_and_keep_a_note(settings):
    old = job_with_files(days_ago=8)
    recent = job_with_files(days_ago=6, status="succeeded")
    running = job_with_files(days_ago=0, status="running")
    running.started_at = timezone.now() - timedelta(days=30)
    running.save()
    old_paths = [path_of(old.input_file), path_of(old.error_file)]
    assert all(path.exists() for path in old_paths)

    out = io.StringIO()
    call_command("purge_job_files", stdout=out)

    assert all(not path.exists() for path in old_paths)
    old.refresh_from_db()
    assert not old.input_file and not old.error_file
    assert old.files_purged_at is not None
    assert "Purged the files of 1 job(s)" in out.getvalue()
    for kept in (recent, running):  # within the retention, or not finished
        kept.refresh_from_db()
        assert kept.files_purged_at is None
        assert path_of(kept.input_file).exists() and path_of(kept.error_file).exists()


def test_purge_is_idempotent_and_takes_the_days_from_the_setting(settings):
    job = job_with_files(days_ago=3)
    assert batch_job_files_purge().jobs == 0
    settings.JOB_FILES_RETENTION_DAYS = 2
    first = batch_job_files_purge()
    assert (first.jobs, first.files) == (1, 2) and first.bytes > 0
    again = batch_job_files_purge()
    assert (again.jobs, again.files) == (0, 0)
    job.refresh_from_db()
    assert job.files_purged_at is not None


def test_orphan_files_past_the_retention_are_deleted(settings):
    """Files of job rows that no longer exist (deleted, or a rolled-back upload)."""
    media = Path(settings.MEDIA_ROOT)
    orphan = media / "jobs" / "2020" / "01" / "01" / "lost.csv"
    fresh = media / "jobs" / "errors" / "2020" / "01" / "01" / "fresh.csv"
    for path in (orphan, fresh):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"x")
    stale = time.time() - 8 * 86400
    os.utime(orphan, (stale, stale))
    kept = job_with_files(days_ago=1)
    os.utime(kept.input_file.path, (stale, stale))  # old mtime, but its job is recent

    stats = batch_job_files_purge()

    assert stats.orphans == 1
    assert not orphan.exists() and fresh.exists() and path_of(kept.input_file).exists()


def test_the_api_says_the_files_were_purged(client_for):
    client = client_for("analyst")
    job = job_with_files(client.user, days_ago=10)
    batch_job_files_purge()

    body = client.get(f"/api/jobs/{job.pk}/").json()
    assert body["files_purged_at"] is not None
    assert body["errors_url"] is None
    error = assert_error(client.get(f"/api/jobs/{job.pk}/errors/"), 410, "job_files_purged")
    assert "JOB_FILES_RETENTION_DAYS" in error["message"]


def test_an_error_file_missing_from_the_disk_is_a_clear_410_not_a_500(client_for):
    client = client_for("analyst")
    job = job_with_files(client.user, days_ago=0)
    path_of(job.error_file).unlink()  # removed by hand, or on a volume the web cannot see

    error = assert_error(client.get(f"/api/jobs/{job.pk}/errors/"), 410, "job_file_missing")
    assert f"job {job.pk}" in error["message"].lower()


def test_a_purged_import_cannot_be_run_again(client_for):
    client = client_for("manager")
    job = job_with_files(client.user, days_ago=10, status="failed")
    batch_job_files_purge()

    error = assert_error(client.post(f"/api/jobs/{job.pk}/retry/"), 409, "job_files_purged")
    assert "upload the file again" in error["message"]
    job.refresh_from_db()
    assert job.status == "failed"


def test_the_admin_shows_a_purged_job(admin_client):
    job = job_with_files(days_ago=10)
    batch_job_files_purge()
    response = admin_client.get(f"/admin/jobs/batchjob/{job.pk}/change/")
    assert response.status_code == 200
    assert "Files purged at" in response.content.decode()


def test_the_purge_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["purge-job-files"]
    assert entry["task"] == "jobs.purge_job_files"
    from core.jobs.tasks import purge_job_files_task

    job = job_with_files(days_ago=30)
    assert purge_job_files_task() == 1
    job.refresh_from_db()
    assert job.files_purged_at is not None
