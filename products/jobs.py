"""Price updates as batch jobs. The new prices and the job's end are written in one
transaction: a worker killed midway leaves nothing, and the task delivered again does it once."""

from decimal import Decimal

from django.db import transaction

from core.jobs.models import BatchJob, BatchJobStatus
from core.jobs.services import batch_job_cancel_requested, batch_job_finish
from products import selectors, services


def run_price_update_job(job: BatchJob) -> None:
    params = job.params
    selection = dict(params["selection"])
    for name in ("price_min", "price_max"):
        if selection.get(name) is not None:
            selection[name] = Decimal(selection[name])
    if batch_job_cancel_requested(job_id=job.pk):
        batch_job_finish(
            job=job, status=BatchJobStatus.CANCELLED, message="Cancelled: no price changed."
        )
        return
    with transaction.atomic():
        result = services.product_price_update(
            products=selectors.product_price_selection(**selection),
            percent=Decimal(params["percent"]) if params.get("percent") is not None else None,
            amount=Decimal(params["amount"]) if params.get("amount") is not None else None,
        )
        job.progress_done = job.progress_total = result.matched
        batch_job_finish(
            job=job,
            status=BatchJobStatus.SUCCEEDED,
            counts={"matched": result.matched, "changed": result.changed},
            message=f"{result.changed} of {result.matched} prices changed.",
        )
