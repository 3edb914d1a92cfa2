from django.conf import settings
from django.db import models


class BatchJobKind(models.TextChoices):
    IMPORT = "import", "Import a file"
    PRICE_UPDATE = "price_update", "Update prices"
    SALES_BULK = "sales_bulk", "Record sales in bulk"


class BatchJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (BatchJobStatus.SUCCEEDED, BatchJobStatus.FAILED, BatchJobStatus.CANCELLED)


class BatchJob(models.Model):
    """A long piece of work run by a Celery worker: what it is, who started it, where it is,
    what it did and what went wrong."""

    Kind = BatchJobKind
    Status = BatchJobStatus

    kind = models.CharField(max_length=30, choices=BatchJobKind.choices)
    status = models.CharField(
        max_length=10, choices=BatchJobStatus.choices, default=BatchJobStatus.QUEUED
    )
    params = models.JSONField(default=dict, blank=True, help_text="What the job was asked.")
    input_file = models.FileField(upload_to="jobs/%Y/%m/%d/", blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_unit = models.CharField(max_length=10, default="rows")
    counts = models.JSONField(default=dict, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    error_report = models.JSONField(
        default=list, blank=True, help_text="The first errors: row, column, message."
    )
    error_file = models.FileField(
        upload_to="jobs/errors/%Y/%m/%d/", blank=True, help_text="Every rejected row, as CSV."
    )
    files_purged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the uploaded file and the error report were deleted "
        "(JOB_FILES_RETENTION_DAYS after the job finished).",
    )
    message = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=BatchJobStatus.values), name="batchjob_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=BatchJobKind.values), name="batchjob_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=FINISHED_STATUSES, finished_at__isnull=False)
                | (models.Q(finished_at__isnull=True) & ~models.Q(status__in=FINISHED_STATUSES)),
                name="batchjob_finished_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["created_by", "-created_at"], name="batchjob_creator_idx"),
            models.Index(fields=["status", "-created_at"], name="batchjob_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class FailedTask(models.Model):
    """The dead-letter log: every Celery task that ended in an exception, with what it was
    asked, so an operator can see it (admin) and send it again."""

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, blank=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    exception = models.TextField()
    traceback = models.TextField(blank=True)
    hostname = models.CharField(max_length=200, blank=True)
    failed_at = models.DateTimeField(auto_now_add=True)
    resent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-failed_at", "-id")
        indexes = [models.Index(fields=["task_name", "-failed_at"], name="failedtask_name_idx")]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id} ({self.failed_at:%Y-%m-%d %H:%M})"
