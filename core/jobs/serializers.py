from typing import TYPE_CHECKING, Any

from rest_framework import serializers
from rest_framework.reverse import reverse

from core.jobs.models import BatchJob
from core.jobs.services import batch_job_live_progress

if TYPE_CHECKING:
    _ModelSerializer = serializers.ModelSerializer[BatchJob]
else:
    _ModelSerializer = serializers.ModelSerializer  # DRF's classes are not generic at run time


class BatchJobOutputSerializer(_ModelSerializer):
    url = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    created_by = serializers.CharField(source="created_by.get_username", default=None)
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = BatchJob
        fields = [
            "id",
            "url",
            "kind",
            "status",
            "params",
            "progress",
            "counts",
            "error_count",
            "error_report",
            "errors_url",
            "message",
            "cancel_requested",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "files_purged_at",
        ]
        read_only_fields = fields

    def get_url(self, job: BatchJob) -> str:
        return reverse("batchjob-detail", args=[job.pk], request=self.context.get("request"))

    def get_errors_url(self, job: BatchJob) -> str | None:
        if not job.error_file:
            return None
        return reverse("batchjob-errors", args=[job.pk], request=self.context.get("request"))

    def get_progress(self, job: BatchJob) -> dict[str, Any]:
        done, total = batch_job_live_progress(job)
        percent = round(100 * done / total, 1) if total else None
        return {"done": done, "total": total, "unit": job.progress_unit, "percent": percent}
