from typing import Any

from django.core.management.base import BaseCommand

from core.jobs.services import batch_jobs_fail_stale


class Command(BaseCommand):
    help = (
        "Mark failed the running batch jobs whose worker stopped sending heartbeats for "
        "JOB_HEARTBEAT_TIMEOUT seconds (what the beat entry fail-stale-jobs does every minute). "
        "Their message says what the job left behind; POST /api/jobs/{id}/retry/ runs one again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        failed = batch_jobs_fail_stale()
        self.stdout.write(self.style.SUCCESS(f"{failed} stale job(s) marked failed."))
