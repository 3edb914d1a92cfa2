"""Batch jobs in the admin: read-only, with their progress, counts and errors, and a cancel
action (through the jobs service, like the API)."""

from django.contrib import admin, messages
from django.utils.html import format_html

from salesproject.errors import ApplicationError
from salesproject.jobs import services
from salesproject.jobs.models import BatchJob


@admin.register(BatchJob)
class BatchJobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress", "error_count", "created_by", "created_at")
    list_filter = ("status", "kind")
    date_hierarchy = "created_at"
    actions = ["cancel_jobs"]
    readonly_fields = [field.name for field in BatchJob._meta.fields] + ["progress", "errors"]
    exclude = ("error_report",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Progress")
    def progress(self, job):
        done, total = services.batch_job_live_progress(job)
        if not total:
            return f"{done:,} {job.progress_unit}"
        return f"{100 * done / total:.0f}% ({done:,} of {total:,} {job.progress_unit})"

    @admin.display(description="First errors")
    def errors(self, job):
        lines = [
            f"row {error['row']}, {error['column'] or '-'}: {error['message']}"
            for error in job.error_report[:50]
        ]
        return format_html("<pre>{}</pre>", "\n".join(lines)) if lines else "-"

    @admin.action(description="Cancel the selected jobs", permissions=["change"])
    def cancel_jobs(self, request, queryset):
        for job in queryset:
            try:
                services.batch_job_cancel(job=job)
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                self.message_user(request, f"Job {job.pk}: cancellation requested.")
