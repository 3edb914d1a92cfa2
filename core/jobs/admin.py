"""Batch jobs in the admin: read-only, with their progress, counts and errors, and a cancel
action (through the jobs service, like the API)."""

import json
from pathlib import PurePath
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
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


def _table(rows: list[tuple[str, object]]) -> SafeString | str:
    """A two-column table of names and values (numbers with thousands separators)."""
    if not rows:
        return "-"
    cells = format_html_join(
        "", "<tr><th>{}</th><td>{}</td></tr>", ((name, _cell(value)) for name, value in rows)
    )
    return format_html('<table class="job-table">{}</table>', cells)


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 300 else f"{text[:300]}… ({len(value):,} items)"
    return str(value)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


@admin.register(BatchJob)
class BatchJobAdmin(BoundedChangeListMixin, _BatchJobAdmin):
    """Read-only pages (a job is changed by its worker and by the cancel and retry actions
    only); the files are downloaded through :meth:`file_view`, which checks the view
    permission, never from MEDIA_URL."""

    list_display = (
        "id",
        "kind",
        "status",
        "file_name",
        "created_by",
        "created_at",
        "duration",
        "error_count",
        "message_summary",
    )
    list_display_links = ("id", "kind")
    list_filter = ("status", "kind")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["cancel_jobs", "retry_jobs"]
    fieldsets = (
        (None, {"fields": ("kind", "status", "created_by", "message", "progress")}),
        (
            "When",
            {"fields": ("created_at", "started_at", "finished_at", "duration", "heartbeat_at")},
        ),
        ("What was asked", {"fields": ("params_table",)}),
        ("Result", {"fields": ("counts_table", "error_count", "errors")}),
        ("Files", {"fields": ("input_file_link", "error_file_link", "files_purged_at")}),
    )
    readonly_fields = (
        "kind",
        "status",
        "created_by",
        "message",
        "progress",
        "created_at",
        "started_at",
        "finished_at",
        "duration",
        "heartbeat_at",
        "params_table",
        "counts_table",
        "error_count",
        "errors",
        "input_file_link",
        "error_file_link",
        "files_purged_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BatchJob | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BatchJob | None = None) -> bool:
        # The actions need "change" on the list; a job's own page has nothing to save.
        return obj is None and super().has_change_permission(request)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:pk>/file/<str:which>/",
                self.admin_site.admin_view(self.file_view),
                name="jobs_batchjob_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, pk: int, which: str) -> HttpResponseBase:
        """The job's uploaded file (``input``) or its error report (``errors``), as an
        attachment, to staff who may view jobs; 410 once purged."""
        if which not in ("input", "errors"):
            raise Http404("No such job file.")
        job = get_object_or_404(BatchJob, pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        field = job.input_file if which == "input" else job.error_file
        if not field:
            if job.files_purged_at:
                return HttpResponse(
                    f"Job {job.pk}'s files were deleted on {job.files_purged_at:%Y-%m-%d}: job "
                    f"files are kept {settings.JOB_FILES_RETENTION_DAYS} days after the job "
                    "finished (JOB_FILES_RETENTION_DAYS).",
                    status=410,
                    content_type="text/plain; charset=utf-8",
                )
            raise Http404("This job has no such file.")
        try:
            content = field.open("rb")
        except FileNotFoundError:
            return HttpResponse(
                f"Job {job.pk}'s file is missing from the file storage ({field.name}).",
                status=410,
                content_type="text/plain; charset=utf-8",
            )
        if which == "input":
            filename = str(job.params.get("file_name") or PurePath(field.name or "").name)
        else:
            filename = f"job-{job.pk}-errors.csv"
        return FileResponse(content, as_attachment=True, filename=PurePath(filename).name)

    @admin.display(description="File")
    def file_name(self, job: BatchJob) -> str:
        name = job.params.get("file_name") if isinstance(job.params, dict) else None
        if name:
            return PurePath(str(name)).name
        return PurePath(job.input_file.name or "").name if job.input_file else "-"

    @admin.display(description="Duration")
    def duration(self, job: BatchJob) -> str:
        if not job.started_at:
            return "-"
        end = job.finished_at or timezone.now()
        text = _duration((end - job.started_at).total_seconds())
        return text if job.finished_at else f"{text} so far"

    @admin.display(description="Message")
    def message_summary(self, job: BatchJob) -> str:
        return job.message if len(job.message) <= 90 else f"{job.message[:89]}…"

    @admin.display(description="Progress")
    def progress(self, job: BatchJob) -> str:
        done, total = services.batch_job_live_progress(job)
        if not total:
            return f"{done:,} {job.progress_unit}"
        return f"{100 * done / total:.0f}% ({done:,} of {total:,} {job.progress_unit})"

    @admin.display(description="Parameters")
    def params_table(self, job: BatchJob) -> SafeString | str:
        params = job.params if isinstance(job.params, dict) else {}
        return _table(list(params.items()))

    @admin.display(description="Counts")
    def counts_table(self, job: BatchJob) -> SafeString | str:
        counts = job.counts if isinstance(job.counts, dict) else {}
        return _table(list(counts.items()))

    @admin.display(description="Errors kept")
    def errors(self, job: BatchJob) -> SafeString | str:
        report = job.error_report if isinstance(job.error_report, list) else []
        if not report:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (error.get("row", "-"), error.get("column") or "-", error.get("message", ""))
                for error in report
                if isinstance(error, dict)
            ),
        )
        note = ""
        if job.error_count > len(report):
            note = f"The first {len(report):,} of {job.error_count:,} errors; "
            note += "every rejected row is in the error report file."
        return format_html(
            '<p>{}</p><table class="job-errors"><thead><tr><th>Row</th><th>Column</th>'
            "<th>Error</th></tr></thead><tbody>{}</tbody></table>",
            note,
            rows,
        )

    def _file_link(self, job: BatchJob, which: str, label: str) -> SafeString | str:
        field = job.input_file if which == "input" else job.error_file
        if field:
            url = reverse("admin:jobs_batchjob_file", args=[job.pk, which])
            return format_html('<a href="{}" download>{}</a>', url, label)
        if job.files_purged_at:
            return f"deleted on {job.files_purged_at:%Y-%m-%d} (JOB_FILES_RETENTION_DAYS)"
        return "-"

    @admin.display(description="Uploaded file")
    def input_file_link(self, job: BatchJob) -> SafeString | str:
        return self._file_link(job, "input", f"Download {self.file_name(job)}")

    @admin.display(description="Error report")
    def error_file_link(self, job: BatchJob) -> SafeString | str:
        return self._file_link(job, "errors", "Download every rejected row (CSV)")

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
