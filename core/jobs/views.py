"""``/api/jobs/``: the batch jobs a user started (managers see everyone's), their progress,
counts and errors; ``POST /api/jobs/{id}/cancel/``, ``POST /api/jobs/{id}/retry/``;
``GET /api/jobs/{id}/errors/`` (CSV)."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import ApplicationError, NotFoundError
from core.jobs import services
from core.jobs.models import BatchJob
from core.jobs.serializers import BatchJobOutputSerializer

SEE_ALL_JOBS = "jobs.view_batchjob"

if TYPE_CHECKING:
    _ReadOnlyModelViewSet = viewsets.ReadOnlyModelViewSet[BatchJob]
else:
    _ReadOnlyModelViewSet = viewsets.ReadOnlyModelViewSet  # not generic at run time


class BatchJobViewSet(_ReadOnlyModelViewSet):
    """Batch jobs (e.g. a big import). Poll a job's URL until its status is `succeeded`,
    `failed` or `cancelled`; while `running`, `progress` moves."""

    serializer_class = BatchJobOutputSerializer
    permission_classes = [permissions.IsAuthenticated]
    # OAuth2: jobs are imports, bulk writes and price updates; an "import" token polls its own.
    oauth_scopes = {"safe": ("read", "import"), "cancel": "import", "retry": "import"}
    filterset_fields = ["status", "kind"]

    def get_queryset(self) -> QuerySet[BatchJob]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return BatchJob.objects.none()
        jobs = BatchJob.objects.select_related("created_by")
        if self.request.user.has_perm(SEE_ALL_JOBS):
            return jobs
        return jobs.filter(created_by=self.request.user.pk)

    @extend_schema(request=None, responses=BatchJobOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a queued job at once, or a running one at its next check (its work is rolled
        back). 409 if it already finished."""
        job = services.batch_job_cancel(job=self.get_object())
        return Response(self.get_serializer(job).data)

    @extend_schema(request=None, responses=BatchJobOutputSerializer)
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Run a failed job again (it is queued anew). Safe for every kind: an import or a
        price update was rolled back with its failure; bulk sales skip the sales already
        recorded. 409 unless the job failed."""
        job = services.batch_job_retry(job=self.get_object())
        job.refresh_from_db()
        return Response(self.get_serializer(job).data)

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            410: OpenApiResponse(description="Deleted after JOB_FILES_RETENTION_DAYS, or lost."),
        }
    )
    @action(detail=True, methods=["get"])
    def errors(self, request: Request, pk: str | None = None) -> FileResponse:
        """Every rejected row of the job, as CSV: the row's cells, then row, column, reason.
        410 once the file was deleted (JOB_FILES_RETENTION_DAYS after the job finished)."""
        job = self.get_object()
        if not job.error_file and job.files_purged_at:
            raise ApplicationError(
                f"Job {job.pk}'s error report was deleted on {job.files_purged_at:%Y-%m-%d}: "
                f"job files are kept {settings.JOB_FILES_RETENTION_DAYS} days "
                "(JOB_FILES_RETENTION_DAYS). The first errors are still in the job's "
                "error_report.",
                code="job_files_purged",
                status_code=status.HTTP_410_GONE,
            )
        if not job.error_file:
            raise NotFoundError(f"Job {job.pk} has no error report.")
        try:
            content = job.error_file.open("rb")
        except FileNotFoundError:  # deleted by hand, or a media volume this process lacks
            raise ApplicationError(
                f"Job {job.pk}'s error report is missing from the file storage "
                f"({job.error_file.name}). The first errors are still in the job's error_report.",
                code="job_file_missing",
                status_code=status.HTTP_410_GONE,
            ) from None
        return FileResponse(
            content,
            as_attachment=True,
            filename=f"job-{job.pk}-errors.csv",
            content_type="text/csv; charset=utf-8",
        )
