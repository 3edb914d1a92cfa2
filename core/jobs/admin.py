"""Batch jobs in the admin: read-only, with their progress, counts and errors, and a cancel
action (through the jobs service, like the API)."""

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin_search import BoundedChangeListMixin, BoundedSearchAdminMixin
from core.errors import ApplicationError
from core.jobs import services
from core.jobs.deadletter import failed_task_resend
from core.jobs.models import BatchJob, FailedTask

if TYPE_CHECKING:
    _BatchJobAdmin = admin.ModelAdmin[BatchJob]
    _FailedTaskAdmin = admin.ModelAdmin[FailedTask]
else:
    _BatchJobAdmin = _FailedTaskAdmin = admin.ModelAdmin  # not generic at run time


@admin.register(BatchJob)
class BatchJobAdmin(BoundedChangeListMixin, _BatchJobAdmin):
    list_display = ("id", "kind", "status", "progress", "error_count", "created_by", "created_at")
    list_filter = ("status", "kind")
    date_hierarchy = "created_at"
    actions = ["cancel_jobs", "retry_jobs"]
    readonly_fields = [field.name for field in BatchJob._meta.fields] + ["progress", "errors"]
    exclude = ("error_report",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BatchJob | None = None) -> bool:
        return False

    @admin.display(description="Progress")
    def progress(self, job: BatchJob) -> str:
        done, total = services.batch_job_live_progress(job)
        if not total:
            return f"{done:,} {job.progress_unit}"
        return f"{100 * done / total:.0f}% ({done:,} of {total:,} {job.progress_unit})"

    @admin.display(description="First errors")
    def errors(self, job: BatchJob) -> SafeString | str:
        lines = [
            f"row {error['row']}, {error['column'] or '-'}: {error['message']}"
            for error in job.error_report[:50]
        ]
        return format_html("<pre>{}</pre>", "\n".join(lines)) if lines else "-"

    @admin.action(description="Cancel the selected jobs", permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[BatchJob]) -> None:
        for job in queryset:
            try:
                services.batch_job_cancel(job=job)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, f"Job {job.pk}: cancellation requested.")

    @admin.action(description="Run the selected failed jobs again", permissions=["change"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[BatchJob]) -> None:
        for job in queryset:
            try:
                services.batch_job_retry(job=job)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, f"Job {job.pk}: queued again.")


@admin.register(FailedTask)
class FailedTaskAdmin(BoundedSearchAdminMixin, _FailedTaskAdmin):
    """The dead-letter log of Celery tasks; "Send again" re-sends with the same arguments (every
    task is idempotent)."""

    list_display = ("failed_at", "task_name", "exception_summary", "hostname", "resent_at")
    list_filter = ("task_name",)
    search_fields = ("task_name", "task_id", "exception")
    date_hierarchy = "failed_at"
    readonly_fields = [field.name for field in FailedTask._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Exception")
    def exception_summary(self, failed: FailedTask) -> str:
        return failed.exception[:120]

    @admin.action(description="Send the selected tasks again", permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[FailedTask]) -> None:
        for failed in queryset:
            try:
                task_id = failed_task_resend(failed_task=failed)
            except Exception as error:  # an unknown task name, the broker down, …
                self.message_user(
                    request, f"{failed.task_name}: not sent ({error}).", messages.ERROR
                )
            else:
                self.message_user(request, f"{failed.task_name}: sent again as {task_id}.")
