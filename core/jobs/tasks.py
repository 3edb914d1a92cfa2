"""The one task that runs batch jobs: thin, takes the job id, safe to deliver twice."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import ApplicationError
from core.jobs import services
from core.jobs.models import BatchJobStatus

logger = logging.getLogger(__name__)

# kind → the function that does the work: handler(job) -> None (it finishes the job itself)
HANDLERS = {
    "import": "core.dataio.jobs.run_import_job",
    "price_update": "products.jobs.run_price_update_job",
    "sales_bulk": "sales.jobs.run_sales_bulk_job",
}


@shared_task(name="jobs.run_batch_job")
def run_batch_job_task(job_id: int) -> None:
    job = services.batch_job_start(job_id=job_id)
    if job is None:
        return
    try:
        with services.JobHeartbeat(job):
            import_string(HANDLERS[job.kind])(job)
    except SoftTimeLimitExceeded:  # the worker's limit for any task: a clear failure, no retry
        logger.warning("Batch job %s (%s) ran over the task time limit", job.pk, job.kind)
        services.batch_job_finish(
            job=job,
            status=BatchJobStatus.FAILED,
            message=f"The job ran over the worker's time limit of "
            f"{settings.CELERY_TASK_SOFT_TIME_LIMIT} s (CELERY_TASK_TIME_LIMIT) and was stopped. "
            + services.STALE_OUTCOME.get(job.kind, ""),
        )
    except ApplicationError as error:  # the data did not allow it: the job says why
        logger.warning("Batch job %s (%s) failed: %s", job.pk, job.kind, error.message)
        services.batch_job_finish(job=job, status=BatchJobStatus.FAILED, message=error.message)
    except Exception as error:
        logger.exception("Batch job %s (%s) failed", job.pk, job.kind)
        services.batch_job_finish(
            job=job, status=BatchJobStatus.FAILED, message=f"{type(error).__name__}: {error}"
        )
        raise  # the dead-letter log records it


@shared_task(name="jobs.fail_stale_jobs")
def fail_stale_jobs_task() -> int:
    return services.batch_jobs_fail_stale()


@shared_task(name="jobs.purge_job_files")
def purge_job_files_task() -> int:
    """Delete the files of jobs finished over JOB_FILES_RETENTION_DAYS ago; how many jobs."""
    return services.batch_job_files_purge().jobs
