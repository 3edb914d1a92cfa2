"""Recording sales in bulk as a batch job (``POST /api/sales/bulk/`` with many sales)."""

from core.jobs import services as jobs
from core.jobs.models import BatchJob, BatchJobStatus
from sales.bulk import sales_bulk_record

MAX_REPORTED = 1_000


def run_sales_bulk_job(job: BatchJob) -> None:
    planned = job.params["sales"]
    job.progress_unit = "sales"

    def progress(done: int) -> None:
        jobs.batch_job_progress(job=job, done=done, total=len(planned))

    cancelled = False

    def should_stop() -> bool:
        nonlocal cancelled
        cancelled = jobs.batch_job_cancel_requested(job_id=job.pk)
        return cancelled

    result = sales_bulk_record(
        planned=planned, created_by=job.created_by, progress=progress, should_stop=should_stop
    )
    failures = [entry for entry in result.results if entry["status"] == "failed"]
    counts = {
        "sales": len(planned),
        "created": result.created,
        "already_recorded": result.already_recorded,
        "failed": result.failed,
    }
    status = BatchJobStatus.CANCELLED if cancelled else BatchJobStatus.SUCCEEDED
    jobs.batch_job_finish(
        job=job,
        status=status,
        counts=counts,
        error_count=len(failures),
        error_report=[
            {"row": entry["index"], "column": "", "message": entry["error"]["message"]}
            for entry in failures[:MAX_REPORTED]
        ],
        message=(
            f"{result.created} sales recorded, {result.failed} refused"
            + (f", {result.already_recorded} already recorded" if result.already_recorded else "")
            + (" (cancelled: the rest were not recorded)" if cancelled else "")
            + "."
        ),
    )
