from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.jobs.services import batch_job_files_purge


class Command(BaseCommand):
    help = (
        "Delete the uploaded files and error reports of the batch jobs that finished more than "
        "JOB_FILES_RETENTION_DAYS days ago (what the beat entry purge-job-files does every "
        "hour), and job files no job refers to. The job rows stay; files_purged_at says when."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            metavar="N",
            help="Keep the files of the last N days (default: JOB_FILES_RETENTION_DAYS, "
            f"{settings.JOB_FILES_RETENTION_DAYS}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError(f"--days must be at least 1, not {days}.")
        result = batch_job_files_purge(days=days)
        self.stdout.write(
            self.style.SUCCESS(
                f"Purged the files of {result.jobs} job(s): {result.files} file(s), "
                f"{result.bytes:,} bytes; {result.orphans} orphaned file(s) deleted."
            )
        )
