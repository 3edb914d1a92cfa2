"""Big imports as batch jobs: the API stores the upload and a worker imports it."""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.core.files import File

from core.dataio.formats import TableFileError
from core.dataio.importer import ImportCancelled, ImportOptions
from core.dataio.services import data_import
from core.errors import ApplicationError
from core.jobs import services as jobs
from core.jobs.models import BatchJob, BatchJobStatus


def run_import_job(job: BatchJob) -> None:
    params = job.params
    total = job.input_file.size

    def progress(rows: int, bytes_read: int) -> None:
        # One unit for every format: bytes of the file read (XLSX: how far into the zip the
        # worksheet has been read), never more than the file's size.
        jobs.batch_job_progress(job=job, done=min(bytes_read, total), total=total)

    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as errors_out:
        options = ImportOptions(
            dry_run=params.get("dry_run", False),
            on_error=params.get("on_error", "abort"),
            apply_stock=params.get("apply_stock", False),
            actor=job.created_by,
            source_name=params.get("file_name", ""),
            errors_out=errors_out,
            progress=progress,
            should_cancel=lambda: jobs.batch_job_cancel_requested(job_id=job.pk),
            time_limit=settings.IMPORT_JOB_TIME_LIMIT,
        )
        job.progress_unit = "bytes"
        try:
            with job.input_file.open("rb") as source:
                report = data_import(
                    table=params["table"], source=source, fmt=params["format"], options=options
                )
        except ImportCancelled:
            jobs.batch_job_finish(
                job=job, status=BatchJobStatus.CANCELLED, message="Cancelled: nothing written."
            )
            return
        except (TableFileError, ApplicationError) as error:
            jobs.batch_job_finish(job=job, status=BatchJobStatus.FAILED, message=error.message)
            return
        jobs.batch_job_progress(job=job, done=total, total=total)  # the whole file was read
        errors_out.seek(0)
        jobs.batch_job_finish(
            job=job,
            status=BatchJobStatus.FAILED if report.aborted else BatchJobStatus.SUCCEEDED,
            counts={
                key: value
                for key, value in report.as_dict().items()
                if key not in ("errors", "message")
            },
            error_count=report.error_count,
            error_report=[error.as_dict() for error in report.errors],
            error_file=File(errors_out) if report.error_count else None,
            message=report.summary(),
        )
