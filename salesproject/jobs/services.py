"""Batch jobs: create and enqueue, start, report progress, finish, cancel.

Progress is written to the cache (a job's own work usually runs in one long transaction, whose
writes nobody sees until it ends); the status, counts and errors are written to the job row.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from salesproject.errors import ApplicationError, ConflictError
from salesproject.jobs.models import BatchJob, BatchJobStatus

logger = logging.getLogger(__name__)
PROGRESS_TIMEOUT = 24 * 3600


def _progress_key(job_id: int) -> str:
    return f"jobs:progress:{job_id}"


def batch_job_create(
    *,
    kind: str,
    params: dict[str, Any],
    created_by: AbstractBaseUser | None = None,
    input_file: File | None = None,
    input_name: str = "",
) -> BatchJob:
    """Create a queued job and enqueue it once the job row is committed. If the broker cannot
    take it, the job is marked failed and a 503 says so (nothing else was done)."""
    actor = created_by if created_by is not None and created_by.is_authenticated else None
    with transaction.atomic():
        job = BatchJob(kind=kind, params=params, created_by=actor)
        if input_file is not None:
            job.input_file.save(input_name or "upload", input_file, save=False)
        job.save()
    from salesproject.jobs.tasks import run_batch_job_task

    try:
        run_batch_job_task.delay(job.pk)
    except Exception as error:  # kombu's OperationalError and friends: the broker is down
        logger.exception("Could not enqueue batch job %s", job.pk)
        _finish(job, BatchJobStatus.FAILED, message=f"Could not be queued: {error}")
        raise ApplicationError(
            "The job queue is unavailable; nothing was started. Try again in a minute.",
            code="queue_unavailable",
            status_code=503,
            headers={"Retry-After": "60"},
        ) from error
    return job


def batch_job_start(*, job_id: int) -> BatchJob | None:
    """Queued → running. None when the job must not run (finished, cancelled, or running
    elsewhere): a task delivered twice does the work once."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != BatchJobStatus.QUEUED:
            return None
        if job.cancel_requested:
            _finish(job, BatchJobStatus.CANCELLED, message="Cancelled before it started.")
            return None
        now = timezone.now()
        job.status, job.started_at, job.heartbeat_at = BatchJobStatus.RUNNING, now, now
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
    return job


def batch_job_progress(*, job: BatchJob, done: int, total: int | None = None) -> None:
    job.progress_done = done
    if total is not None:
        job.progress_total = total
    try:
        cache.set(
            _progress_key(job.pk),
            {"done": done, "total": job.progress_total, "at": timezone.now().isoformat()},
            PROGRESS_TIMEOUT,
        )
    except Exception:  # progress is best effort: never fail the work for it
        logger.warning("Could not record the progress of job %s", job.pk, exc_info=True)


def batch_job_live_progress(job: BatchJob) -> tuple[int, int | None]:
    """(done, total): the cache's live figures while running, the row's otherwise."""
    if job.status == BatchJobStatus.RUNNING:
        try:
            live = cache.get(_progress_key(job.pk))
        except Exception:
            live = None
        if live:
            return live["done"], live["total"]
    return job.progress_done, job.progress_total


def batch_job_cancel_requested(*, job_id: int) -> bool:
    return BatchJob.objects.filter(pk=job_id, cancel_requested=True).exists()


def _finish(job: BatchJob, status: str, **fields: Any) -> BatchJob:
    job.status = status
    job.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(job, name, value)
    job.save()
    with contextlib.suppress(Exception):
        cache.delete(_progress_key(job.pk))
    return job


def batch_job_finish(
    *,
    job: BatchJob,
    status: str,
    counts: dict[str, Any] | None = None,
    error_count: int = 0,
    error_report: list[dict[str, Any]] | None = None,
    error_file: File | None = None,
    message: str = "",
) -> BatchJob:
    if error_file is not None:
        job.error_file.save(f"job-{job.pk}-errors.csv", error_file, save=False)
    return _finish(
        job,
        status,
        counts=counts or {},
        error_count=error_count,
        error_report=error_report or [],
        message=message,
        progress_done=job.progress_done,
        progress_total=job.progress_total,
    )


def batch_job_cancel(*, job: BatchJob) -> BatchJob:
    """A queued job is cancelled at once; a running one stops at its next check (its work is
    rolled back); a finished one cannot be cancelled (409)."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            raise ConflictError(
                f"Job {job.pk} has already finished ({job.status}).", code="job_finished"
            )
        job.cancel_requested = True
        if job.status == BatchJobStatus.QUEUED:
            return _finish(job, BatchJobStatus.CANCELLED, message="Cancelled before it started.")
        job.save(update_fields=["cancel_requested"])
    return job
