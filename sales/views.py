from __future__ import annotations

import builtins
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from core.api.pagination import SaleCursorPagination
from core.api.views import ServiceModelViewSet
from core.dataio.views import TableImportExportMixin
from core.jobs.models import BatchJobKind
from core.jobs.serializers import BatchJobOutputSerializer
from core.jobs.services import batch_job_create
from sales import idempotency, selectors, services
from sales.bulk import sales_bulk_plan, sales_bulk_record
from sales.filters import SaleFilter
from sales.models import Sale
from sales.serializers import (
    SaleInputSerializer,
    SaleOutputSerializer,
    SalesBulkInputSerializer,
    SaleUpdateInputSerializer,
    sale_representations,
)


class SaleViewSet(TableImportExportMixin, ServiceModelViewSet):
    """Sales. Creating one takes its stock through the catalog; prices and the total are
    computed by the server. Cursor-paginated (newest first by default)."""

    data_table = "sales"
    queryset = selectors.sale_list()
    input_serializer_class = SaleInputSerializer
    output_serializer_class = SaleOutputSerializer
    pagination_class = SaleCursorPagination
    filterset_class = SaleFilter
    ordering_fields = ["sold_at", "total", "created_at"]
    ordering = ["-sold_at", "-id"]
    # The browsable API's raw-data form starts from this body (a list of lines has no HTML form).
    raw_data_example = {"customer": 12, "items": [{"product": 7, "quantity": 2}]}
    action_permissions = {"cancel": ["sales.cancel_sale"]}
    oauth_scopes = {
        "safe": "read",
        "unsafe": "write",
        "cancel": "write",
        "import_file": "import",
        "bulk": "import",
    }
    replica_read_actions = frozenset({"list", "export"})  # read replicas (core/ops/replicas)

    @extend_schema(request=SalesBulkInputSerializer, responses={200: dict, 202: dict})
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request, *args, **kwargs):
        """Record many sales, each through the sale service (stock rules hold for each; a sale
        refused, e.g. for stock, is reported and the others go on). Up to
        SALES_BULK_SYNC_MAX sales: 200 with one result per sale; more: a batch job (202).
        Every sale gets its reference first, so a batch run twice records each sale once."""
        serializer = SalesBulkInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        planned = sales_bulk_plan(serializer.validated_data["sales"])
        if len(planned) <= settings.SALES_BULK_SYNC_MAX:
            result = sales_bulk_record(planned=planned, created_by=request.user)
            return Response(result.as_dict())
        job = batch_job_create(
            kind=BatchJobKind.SALES_BULK, params={"sales": planned}, created_by=request.user
        )
        job.refresh_from_db()
        body = {"job": BatchJobOutputSerializer(job, context={"request": request}).data}
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["job"]["url"]}
        )

    # Reads answer SaleOutputSerializer's JSON built from plain rows (sale_values + one query for
    # the lines; sales/serializers.py: sale_representations): no model instance per sale, line,
    # customer and product. Writes answer through the serializer.

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(
            selectors.sale_values(self.filter_queryset(self.get_queryset()))
        )
        assert page is not None  # the view's pagination_class always pages
        return self.get_paginated_response(self._represent(page))

    def retrieve(self, request, *args, **kwargs):
        if request.accepted_renderer.format != "json":  # the browsable API's edit form
            return super().retrieve(request, *args, **kwargs)  # wants the instance
        queryset = self.get_queryset()
        if request.query_params:  # filters apply to a detail too (DRF); none: nothing to do
            queryset = self.filter_queryset(queryset)
        queryset = selectors.sale_values(queryset)
        # A values() queryset: the row is a dict (the stubs expect a model's queryset).
        sale: dict[str, Any] = get_object_or_404(  # type: ignore[type-var,assignment]
            queryset, pk=self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        )
        self.check_object_permissions(request, sale)
        return Response(self._represent([sale])[0])

    @staticmethod
    def _represent(
        sales: builtins.list[dict[str, Any]],  # "list" is the list action here
    ) -> builtins.list[dict[str, Any]]:
        items = selectors.sale_item_values(sale_ids=[sale["id"] for sale in sales])
        return sale_representations(sales, items)

    def get_serializer_class(self):
        serializer_class = super().get_serializer_class()
        if serializer_class is SaleInputSerializer and self.request.method in ("PUT", "PATCH"):
            return SaleUpdateInputSerializer
        return serializer_class

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description=(
                    "Optional. A repeat with the same key and body replays the first answer "
                    "(one sale however often it is sent); the same key with another body is a "
                    "422. Keys are kept at least 24 hours."
                ),
            )
        ]
    )
    def create(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return super().create(request, *args, **kwargs)
        claimed = idempotency.idempotency_key_claim(
            user=request.user, key=key, fingerprint=idempotency.request_fingerprint(request.data)
        )
        if isinstance(claimed, idempotency.StoredResponse):
            response = Response(claimed.body, status=claimed.status)
            response["Idempotent-Replayed"] = "true"
            return response
        try:
            response = super().create(request, *args, **kwargs)
        except Exception as exc:
            try:
                response = self.handle_exception(exc)
            except Exception:
                idempotency.idempotency_key_release(record=claimed)  # a crash: let them retry
                raise
        sale_id = response.data.get("id") if response.status_code == 201 else None
        idempotency.idempotency_key_complete(
            record=claimed, status=response.status_code, body=response.data, sale_id=sale_id
        )
        return response

    def create_object(self, data: dict[str, Any]) -> Sale:
        lines = SaleInputSerializer.lines(data)
        assert lines is not None  # items are required on create
        return services.sale_create(
            lines=lines,
            customer_id=data.get("customer"),
            sold_at=data.get("sold_at"),
            reference=data.get("reference"),
            created_by=self.request.user,
        )

    def refetch(self, instance):
        if self.action == "create":
            return instance  # sale_create hands it back with items and products loaded
        return super().refetch(instance)

    def update_object(self, instance, data):
        changes = {key: data[key] for key in ("sold_at",) if key in data}
        if "customer" in data:
            changes["customer_id"] = data["customer"]
        return services.sale_update(
            sale=instance, lines=SaleInputSerializer.lines(data), actor=self.request.user, **changes
        )

    def delete_object(self, instance):
        services.sale_delete(sale=instance, actor=self.request.user)

    @extend_schema(request=None, responses=SaleOutputSerializer, summary="Cancel a sale")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Return the sale's stock and keep the record with status `cancelled`. A second
        cancel is a 409 and restocks nothing."""
        sale = services.sale_cancel(sale=self.get_object(), actor=request.user)
        return self.render(self.refetch(sale))
