"""Batch jobs: create and enqueue, start, report progress, finish, cancel.

Progress is written to the cache (a job's own work usually runs in one long transaction, whose
writes nobody sees until it ends); the status, counts and errors are written to the job row.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import Q
from django.db.transaction import on_commit
from django.utils import timezone
from kombu.exceptions import KombuError

from core.errors import ApplicationError, ConflictError
from core.jobs.models import FINISHED_STATUSES, BatchJob, BatchJobKind, BatchJobStatus
from core.users import Actor, recorded_user

logger = logging.getLogger(__name__)
PROGRESS_TIMEOUT = 24 * 3600


def _progress_key(job_id: int) -> str:
    return f"jobs:progress:{job_id}"


def batch_job_create(
    *,
    kind: str,
    params: dict[str, Any],
    created_by: Actor = None,
    input_file: File[Any] | None = None,
    input_name: str = "",
) -> BatchJob:
    """Create a queued job and enqueue it once the job row is committed. If the broker cannot
    take it, the job is marked failed and a 503 says so (nothing else was done)."""
    with transaction.atomic():
        job = BatchJob(kind=kind, params=params, created_by=recorded_user(created_by))
        if input_file is not None:
            job.input_file.save(input_name or "upload", input_file, save=False)
        job.save()
    on_commit(lambda: _enqueue(job))  # at once when no transaction is open
    return job


def _enqueue(job: BatchJob) -> None:
    from core.jobs.tasks import run_batch_job_task

    if run_batch_job_task.app.conf.task_always_eager:
        # In process (the embedded default): the job row records how it went, as with a worker.
        run_batch_job_task.apply(args=(job.pk,), throw=False)
        job.refresh_from_db()
        return
    try:
        run_batch_job_task.delay(job.pk)
    except (KombuError, OSError) as error:  # the broker is down or unreachable
        logger.exception("Could not enqueue batch job %s", job.pk)
        _finish(job, BatchJobStatus.FAILED, message=f"Could not be queued: {error}")
        raise ApplicationError(
            "The job queue is unavailable; nothing was started. Try again in a minute.",
            code="queue_unavailable",
            status_code=503,
            retry_after=60,
        ) from error


def batch_job_retry(*, job: BatchJob) -> BatchJob:
    """Run a failed job again (queued anew). Every kind is safe to run again: imports and price
    updates were rolled back with their failure, bulk sales skip the sales already recorded."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().get(pk=job.pk)
        if job.status != BatchJobStatus.FAILED:
            raise ConflictError(
                f"Job {job.pk} is {job.status}; only a failed job can be run again.",
                code="job_not_failed",
            )
        if job.kind == BatchJobKind.IMPORT and not job.input_file:
            raise ConflictError(
                f"Job {job.pk}'s uploaded file was deleted on "
                f"{_purged_on(job)} (files are kept JOB_FILES_RETENTION_DAYS days): upload the "
                "file again to import it.",
                code="job_files_purged",
            )
        job.status, job.finished_at, job.started_at = BatchJobStatus.QUEUED, None, None
        job.cancel_requested, job.message = False, ""
        job.save(
            update_fields=["status", "finished_at", "started_at", "cancel_requested", "message"]
        )
        on_commit(lambda: _enqueue(job))
    return job


# What a job killed midway left behind, by kind.
STALE_OUTCOME = {
    "import": "The import was rolled back: nothing of it was written. ",
    "price_update": "The price update was rolled back: no price changed. ",
    "sales_bulk": "The sales recorded before it stopped are kept (each sale commits on its "
    "own); the others were not recorded. ",
}


def _stale_before() -> datetime:
    return timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT)


def batch_job_start(*, job_id: int) -> BatchJob | None:
    """Queued → running. None when the job must not run (finished, cancelled, or running on a
    live worker): a task delivered twice does the work once. A running job whose heartbeat
    stopped (its worker was killed; its work, done in one transaction, was rolled back) is taken
    over by the task delivered again."""
    with transaction.atomic():
        job = BatchJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            return None
        taking_over = job.status == BatchJobStatus.RUNNING and (
            job.heartbeat_at is None or job.heartbeat_at < _stale_before()
        )
        if job.status != BatchJobStatus.QUEUED and not taking_over:
            return None
        if taking_over:
            logger.warning("Batch job %s: its worker stopped; running it again", job.pk)
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
    error_file: File[Any] | None = None,
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


def batch_jobs_fail_stale() -> int:
    """Running jobs whose worker stopped sending heartbeats for JOB_HEARTBEAT_TIMEOUT are marked
    failed (their work is rolled back with the transaction it ran in). Returns how many."""
    failed = 0
    with transaction.atomic():
        for job in BatchJob.objects.select_for_update(skip_locked=True).filter(
            status=BatchJobStatus.RUNNING, heartbeat_at__lt=_stale_before()
        ):
            heartbeat = job.heartbeat_at
            assert heartbeat is not None  # heartbeat_at__lt: never NULL here
            _finish(
                job,
                BatchJobStatus.FAILED,
                message=f"The worker stopped (no heartbeat since {heartbeat.isoformat()}). "
                + STALE_OUTCOME.get(job.kind, "")
                + "Run it again (POST /api/jobs/{id}/retry/ or the admin): it does only what "
                "is missing.".replace("{id}", str(job.pk)),
            )
            failed += 1
    return failed


class JobHeartbeat:
    """While a job works, often inside one long transaction whose writes nobody sees until it
    ends, a thread with its own database connection records the job's heartbeat and progress
    every ``interval`` seconds. Stale heartbeats tell a dead worker (``batch_jobs_fail_stale``)."""

    def __init__(self, job: BatchJob, interval: float | None = None) -> None:
        self.job = job
        self.interval = interval or settings.JOB_HEARTBEAT_SECONDS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job.pk}-heartbeat")

    def __enter__(self) -> JobHeartbeat:
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        BatchJob.objects.filter(pk=self.job.pk, status=BatchJobStatus.RUNNING).update(
            heartbeat_at=timezone.now(),
            progress_done=self.job.progress_done,
            progress_total=self.job.progress_total,
        )

    def _run(self) -> None:
        from django.db import connection

        try:
            while not self._stop.wait(self.interval):
                try:
                    self._beat()
                except Exception:  # e.g. SQLite locked by the job's own transaction
                    logger.debug("Heartbeat of job %s not written", self.job.pk, exc_info=True)
        finally:
            connection.close()


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


# --- retention of job files ------------------------------------------------------------------

JOB_FILES_ROOT = "jobs"  # where BatchJob.input_file and error_file are stored (upload_to)
_PURGE_BATCH = 500


@dataclass
class JobFilesPurge:
    jobs: int = 0  # jobs whose files were deleted
    files: int = 0
    bytes: int = 0
    orphans: int = 0  # files of no job (its row deleted, or an upload rolled back)


def _purged_on(job: BatchJob) -> str:
    return f"{job.files_purged_at:%Y-%m-%d}" if job.files_purged_at else "an unknown date"


def batch_job_files_purge(*, days: int | None = None, now: datetime | None = None) -> JobFilesPurge:
    """Delete the uploaded file and the error report of every job that finished more than
    ``days`` (JOB_FILES_RETENTION_DAYS) ago; the job row stays, its ``files_purged_at`` set.
    Then delete the job files older than that which no job refers to. Safe to run at any time
    and twice (a beat entry runs it hourly)."""
    days = settings.JOB_FILES_RETENTION_DAYS if days is None else days
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    result = JobFilesPurge()
    expired = BatchJob.objects.filter(
        ~Q(input_file="") | ~Q(error_file=""),
        status__in=FINISHED_STATUSES,
        finished_at__lt=cutoff,
    )
    while True:
        with transaction.atomic():
            jobs = list(expired.select_for_update(skip_locked=True).order_by("pk")[:_PURGE_BATCH])
            names = [field.name for job in jobs for field in (job.input_file, job.error_file)]
            BatchJob.objects.filter(pk__in=[job.pk for job in jobs]).update(
                input_file="", error_file="", files_purged_at=now
            )
        if not jobs:
            break
        # After the commit: a failure here leaves orphans for the next run, never a job row
        # pointing at a deleted file.
        for name in filter(None, names):
            result.files += 1
            result.bytes += _delete_file(name)
        result.jobs += len(jobs)
    result.orphans = _purge_orphans(cutoff)
    if result.jobs or result.orphans:
        logger.info(
            "Purged the files of %s job(s) (%s files, %s bytes) and %s orphaned file(s)",
            result.jobs,
            result.files,
            result.bytes,
            result.orphans,
        )
    return result


def _storage() -> Storage:
    return BatchJob._meta.get_field("input_file").storage


def _delete_file(name: str) -> int:
    storage = _storage()
    try:
        size = storage.size(name)
    except OSError:
        size = 0
    try:
        storage.delete(name)
    except OSError:
        logger.warning("Could not delete the job file %s", name, exc_info=True)
        return 0
    return size


def _purge_orphans(cutoff: datetime) -> int:
    storage = _storage()
    referenced: set[str] = set()
    for names in BatchJob.objects.values_list("input_file", "error_file").iterator(2000):
        referenced.update(filter(None, names))
    deleted = 0
    pending = [JOB_FILES_ROOT]
    while pending:
        directory = pending.pop()
        try:
            directories, files = storage.listdir(directory)
        except (FileNotFoundError, NotImplementedError):
            continue
        pending.extend(f"{directory}/{name}" for name in directories)
        for file_name in files:
            name = f"{directory}/{file_name}"
            if name in referenced:
                continue
            try:
                if storage.get_modified_time(name) >= cutoff:
                    continue
            except (OSError, NotImplementedError):
                continue
            if _delete_file(name) or not storage.exists(name):
                deleted += 1
    return deleted
