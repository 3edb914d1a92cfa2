"""``GET /api/<resource>/export/?format=csv|xlsx|json`` and ``POST /api/<resource>/import/`` for
the list endpoints of customers, categories, products and sales."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Model
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.dataio.formats import CONTENT_TYPES, FORMATS, format_from_name
from core.dataio.importer import DEFAULT_BATCH_SIZE, ImportOptions
from core.dataio.serializers import ImportInputSerializer, ImportResultSerializer
from core.dataio.services import data_export, data_import, data_import_records
from core.errors import ApplicationError
from core.jobs.models import BatchJobKind
from core.jobs.serializers import BatchJobOutputSerializer
from core.jobs.services import batch_job_create
from core.ops import replicas

if TYPE_CHECKING:
    from rest_framework.permissions import _SupportsHasPermission
    from rest_framework.views import APIView

    _GenericViewSet = viewsets.GenericViewSet[Any]
    _Serializer = serializers.Serializer[Any]
else:
    _GenericViewSet = object  # the mixins' host (typing only)
    _Serializer = serializers.Serializer  # DRF's classes are not generic at run time


class JobAcceptedSerializer(ImportResultSerializer):
    job = BatchJobOutputSerializer()
    report = None  # type: ignore[assignment]  # DRF: None removes the parent's field


def _model_perms(model: type[Model], *actions: str) -> list[str]:
    meta = model._meta
    return [f"{meta.app_label}.{action}_{meta.model_name}" for action in actions]


class TableFilePermission(permissions.BasePermission):
    """Export: the model's view permission; import: add and change."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        action_name = getattr(view, "action", None)
        actions = ("view",) if action_name == "export" else ("add", "change")  # import, bulk
        model = view.queryset.model  # type: ignore[attr-defined]  # a model viewset's
        return request.user.has_perms(_model_perms(model, *actions))


class TableImportExportMixin(replicas.ReplicaReadsMixin, _GenericViewSet):
    """Adds ``export`` (the filtered list as a file) and ``import`` to a list viewset. Export
    needs the model's view permission (on public endpoints too: it includes costs); import
    needs add and change."""

    data_table = ""  # the dataio table name
    replica_read_actions = frozenset({"export"})  # read replicas (core/ops/replicas.py)

    def get_permissions(self) -> Sequence[_SupportsHasPermission]:
        if self.action in ("export", "import_file"):
            return [TableFilePermission()]
        return super().get_permissions()

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # ``?format=csv`` picks the file format of an export, not a DRF renderer; errors are JSON.
        if getattr(self, "action", None) == "export":
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=list(FORMATS), description="File format (default csv)."
            )
        ],
        responses={
            (200, CONTENT_TYPES["csv"]): OpenApiTypes.BINARY,
            (200, CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY,
            # An array of objects, one per row, every value a string (the table's columns).
            (200, CONTENT_TYPES["json"]): {
                "type": "array",
                "items": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    )
    @action(detail=False, methods=["get"], url_path="export", pagination_class=None)
    def export(self, request: Request, *args: Any, **kwargs: Any) -> StreamingHttpResponse:
        """The filtered list (same filters as the list endpoint) as a CSV, XLSX or JSON file,
        streamed; the columns are the import's, so the file imports back unchanged."""
        fmt = request.query_params.get("format", "csv")
        if fmt not in FORMATS:
            raise ApplicationError(
                f"Unknown export format {fmt!r}: use one of {', '.join(FORMATS)}.",
                fields={"format": [f"Use one of {', '.join(FORMATS)}."]},
            )
        queryset = self.filter_queryset(self.get_queryset())
        response = StreamingHttpResponse(
            # Read where this request reads (a replica?), though streamed after the view returns.
            replicas.in_scope(data_export(table=self.data_table, fmt=fmt, queryset=queryset)),
            content_type=CONTENT_TYPES[fmt],
        )
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="{self.data_table}-{stamp}.{fmt}"'
        return response

    @extend_schema(
        request={"multipart/form-data": ImportInputSerializer},
        responses={
            200: OpenApiResponse(ImportResultSerializer, description="Imported (or dry run)."),
            202: OpenApiResponse(
                JobAcceptedSerializer,
                description="A big file: it runs as a batch job; poll `job.url`.",
            ),
            413: OpenApiResponse(description="The file is over IMPORT_MAX_BYTES."),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_file(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Import a file (rows matched by natural key). Up to IMPORT_SYNC_MAX_BYTES it is
        imported in the request: 200 with the report, or 400 `import_rejected` with the
        report's row errors (nothing written). A bigger file runs as a batch job: 202 with the
        job; `GET /api/jobs/{id}/` gives its status, progress, counts and errors."""
        serializer = ImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["file"]
        fmt = format_from_name(upload.name, data.get("format"))
        if data["apply_stock"] and self.data_table != "sales":
            raise ApplicationError(
                "apply_stock is for sales files only.",
                fields={"apply_stock": ["Only for sales."]},
            )
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise ApplicationError(
                f"The file has {upload.size:,} bytes; at most {settings.IMPORT_MAX_BYTES:,} "
                "can be imported through the API (use the import_data command).",
                code="file_too_large",
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                fields={"file": ["Too large."]},
            )
        params = {
            "table": self.data_table,
            "format": fmt,
            "file_name": upload.name,
            "dry_run": data["dry_run"],
            "on_error": data["on_error"],
            "apply_stock": data["apply_stock"],
        }
        if upload.size > settings.IMPORT_SYNC_MAX_BYTES:
            job = batch_job_create(
                kind=BatchJobKind.IMPORT,
                params=params,
                created_by=request.user,
                input_file=upload,
                input_name=upload.name,
            )
            job.refresh_from_db()
            body = {"job": BatchJobOutputSerializer(job, context={"request": request}).data}
            return Response(
                body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["job"]["url"]}
            )
        options = ImportOptions(
            dry_run=data["dry_run"],
            on_error=data["on_error"],
            apply_stock=data["apply_stock"],
            actor=request.user,
            source_name=upload.name,
        )
        report = data_import(table=self.data_table, source=upload, fmt=fmt, options=options)
        if report.aborted:
            raise ApplicationError(
                report.summary(), code="import_rejected", extra={"report": report.as_dict()}
            )
        return Response({"report": report.as_dict()})


class BulkInputSerializer(_Serializer):
    items = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        help_text="Objects with the columns of the table's file (natural keys, e.g. a "
        "product's category by name).",
    )
    dry_run = serializers.BooleanField(default=False)

    def validate_items(self, items: list[Any]) -> list[Any]:
        limit = settings.BULK_MAX_ITEMS
        if len(items) > limit:
            raise serializers.ValidationError(f"At most {limit} items per request.")
        return items


class BulkResultSerializer(_Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    items = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    seconds = serializers.FloatField()


class TableBulkMixin(_GenericViewSet):
    """``POST /api/<resource>/bulk/``: create or update up to BULK_MAX_ITEMS objects by natural
    key in one request, all or nothing; the errors are listed per item."""

    data_table = ""  # the dataio table name (TableImportExportMixin's)

    def get_permissions(self) -> Sequence[_SupportsHasPermission]:
        if self.action == "bulk":
            return [TableFilePermission()]
        return super().get_permissions()

    @extend_schema(request=BulkInputSerializer, responses=BulkResultSerializer)
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create or update many objects by natural key (the same fields as the import file),
        all or nothing: if any item is invalid nothing is written and `error.fields.items` lists
        the errors by item index (`{}` for a good item)."""
        serializer = BulkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["items"]
        report = data_import_records(
            table=self.data_table,
            records=items,
            options=ImportOptions(
                dry_run=serializer.validated_data["dry_run"],
                actor=request.user,
                source_name="bulk",
                batch_size=min(len(items), DEFAULT_BATCH_SIZE),
            ),
        )
        if report.aborted:
            per_item: list[dict[str, list[str]]] = [{} for _ in items]
            for error in report.errors:
                per_item[error.row].setdefault(error.column or "non_field_errors", []).append(
                    error.message
                )
            raise ApplicationError(
                f"{report.rejected} of {len(items)} items are invalid; nothing was written.",
                fields={"items": per_item},
                extra={"error_count": report.error_count},
            )
        return Response(
            {
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "items": report.rows,
                "dry_run": report.dry_run,
                "seconds": round(report.seconds, 3),
            }
        )
