"""Imports as batch jobs, without the API: created by the service, run by the task."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from core.errors import ConflictError
from core.jobs.models import BatchJob, BatchJobStatus
from core.jobs.services import batch_job_cancel, batch_job_create
from core.jobs.tasks import run_batch_job_task
from customers.models import Customer
from tests.dataio import csv_bytes, database_state
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

MIXED = csv_bytes([["email", "name"], ["j1@example.com", "J1"], ["bad", "X"]])


@pytest.fixture(autouse=True)
def _jobs_in_process(jobs_in_process):
    """Batch jobs run in process (see tests/conftest.py)."""


def params(**extra) -> dict:
    return {"table": "customers", "format": "csv", "file_name": "c.csv", **extra}


def queued_job(data: bytes, **extra) -> BatchJob:
    """A queued job that nobody has run yet."""
    job = BatchJob(kind="import", params=params(**extra))
    job.input_file.save("c.csv", ContentFile(data), save=False)
    job.save()
    return job


def test_a_job_imports_and_reports(small):
    user = make_user()
    job = batch_job_create(
        kind="import",
        params=params(on_error="skip"),
        created_by=user,
        input_file=ContentFile(MIXED),
        input_name="c.csv",
    )
    job.refresh_from_db()
    assert job.status == BatchJobStatus.SUCCEEDED and job.finished_at is not None
    assert job.created_by == user
    assert job.counts["created"] == 1 and job.counts["rejected"] == 1
    assert job.counts["rows"] == 2 and job.counts["aborted"] is False
    assert job.error_count == 1
    assert job.error_report == [
        {"row": 3, "column": "email", "message": "email 'bad' is not a valid email address."}
    ]
    with job.error_file.open("rb") as errors:
        content = errors.read().decode()
    assert "bad,X,3,email,email 'bad' is not a valid email address." in content
    assert job.progress_unit == "bytes" and job.progress_done == job.progress_total == len(MIXED)
    assert "rows created 1" in job.message
    assert Customer.objects.filter(email="j1@example.com").exists()


def test_an_aborted_job_fails_and_writes_nothing(small):
    before = database_state()
    job = batch_job_create(kind="import", params=params(), input_file=ContentFile(MIXED))
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert job.counts["aborted"] is True and job.error_count == 1
    assert "Nothing was written" in job.message
    assert database_state() == before


def test_a_bad_file_fails_the_job_with_the_message(small):
    job = batch_job_create(kind="import", params=params(), input_file=ContentFile(b""))
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert job.message.startswith("The file is empty")
    job = batch_job_create(
        kind="import", params=params(table="nope"), input_file=ContentFile(b"x\n")
    )
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED and "Unknown table 'nope'" in job.message


def test_cancelling_a_queued_job(small):
    job = queued_job(MIXED, on_error="skip")
    cancelled = batch_job_cancel(job=job)
    assert cancelled.status == BatchJobStatus.CANCELLED and cancelled.finished_at is not None
    before = database_state()
    run_batch_job_task(job.pk)  # delivered after the cancel: does nothing
    job.refresh_from_db()
    assert job.status == BatchJobStatus.CANCELLED and job.counts == {}
    assert database_state() == before


def test_a_finished_job_cannot_be_cancelled(small):
    job = queued_job(MIXED, on_error="skip")
    run_batch_job_task(job.pk)
    job.refresh_from_db()
    assert job.status == BatchJobStatus.SUCCEEDED
    with pytest.raises(ConflictError, match=rf"Job {job.pk} has already finished") as caught:
        batch_job_cancel(job=job)
    assert caught.value.status_code == 409
    job.refresh_from_db()
    assert job.status == BatchJobStatus.SUCCEEDED and not job.cancel_requested


def test_running_the_task_twice_does_the_work_once(small):
    job = queued_job(csv_bytes([["email", "name"], ["k1@example.com", "K1"]]))
    run_batch_job_task(job.pk)
    job.refresh_from_db()
    finished_at, counts = job.finished_at, job.counts
    assert job.status == BatchJobStatus.SUCCEEDED and counts["created"] == 1
    before = database_state()
    run_batch_job_task(job.pk)
    job.refresh_from_db()
    assert job.finished_at == finished_at and job.counts == counts
    assert database_state() == before
    assert Customer.objects.filter(email="k1@example.com").count() == 1


def test_a_job_cancelled_while_running_rolls_back(small):
    job = queued_job(csv_bytes([["email", "name"], ["r1@example.com", "R1"]]))
    BatchJob.objects.filter(pk=job.pk).update(cancel_requested=True, status="running")
    from core.dataio.jobs import run_import_job

    before = database_state()
    run_import_job(BatchJob.objects.get(pk=job.pk))
    job.refresh_from_db()
    assert job.status == BatchJobStatus.CANCELLED and "nothing written" in job.message
    assert database_state() == before
