"""The analytics API (``/api/analytics/…``): thin doors onto ``analytics.selectors``."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.settings import api_settings

from analytics import selectors
from analytics.permissions import ANALYTICS_OAUTH_SCOPES, CanViewAnalytics
from analytics.renderers import AnalyticsCSVRenderer, ReportFormatMixin
from analytics.serializers import (
    AnalyticsQuerySerializer,
    BasketQuerySerializer,
    BasketResponseSerializer,
    BreakdownQuerySerializer,
    BreakdownResponseSerializer,
    CohortsQuerySerializer,
    CohortsResponseSerializer,
    CustomerLifetimeSerializer,
    RevenueQuerySerializer,
    RevenueResponseSerializer,
    RfmCustomersQuerySerializer,
    RfmCustomersResponseSerializer,
    RfmQuerySerializer,
    RfmResponseSerializer,
    SummaryResponseSerializer,
    TopCustomersQuerySerializer,
    TopCustomersResponseSerializer,
    TopProductsQuerySerializer,
    TopProductsResponseSerializer,
)
from core.ops.replicas import ReplicaReadsMixin
from customers.models import Customer

ENDPOINTS = (
    "summary",
    "revenue",
    "top-products",
    "top-customers",
    "breakdown",
    "cohorts",
    "basket",
    "rfm",
)
CSV_DOC = " Add `?format=csv` for the same numbers as a CSV file."


def jsonable(value: Any) -> Any:
    """Money as decimal strings (DRF's encoder would make floats of them), days as ISO dates."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def _query(request, serializer_class) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _report(request, serializer_class, selector: Callable[..., Any], *params: str) -> Response:
    """A report's answer: the query validated, the selector called with its ``filters`` and the
    named ``params`` (same names in the query and the selector), the result made JSON-able."""
    query = _query(request, serializer_class)
    return Response(jsonable(selector(filters=query["filters"], **{p: query[p] for p in params})))


class AnalyticsViewSet(ReportFormatMixin, ReplicaReadsMixin, viewsets.ViewSet):
    """Sales analytics (completed sales only; money as decimal strings). Every endpoint takes
    `date_from`/`date_to` (local days, inclusive; default: the last 30 days) and the filters
    `category`, `product`, `customer`, `country`, `segment`, and echoes the resolved period and
    filters. Answers are cached and always current (a sale write starts a new cache
    generation)."""

    permission_classes = [CanViewAnalytics]
    # api_settings hands back the renderer classes (the stubs type the setting's dotted names).
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, AnalyticsCSVRenderer]  # type: ignore[list-item]
    oauth_scopes = {"safe": ANALYTICS_OAUTH_SCOPES}  # OAuth2: a BI tool's analytics-only token
    replica_read_actions = frozenset(  # read replicas (core/ops/replicas.py)
        {
            "list",
            "summary",
            "revenue",
            "top_products",
            "top_customers",
            "breakdown",
            "cohorts",
            "basket",
            "rfm",
            "rfm_customers",
            "customer_lifetime",
        }
    )

    def finalize_response(self, request, response, *args, **kwargs):
        # Every answer names the currency of its amounts (the CURRENCY setting; amounts stay
        # decimal strings). Added here, not cached: a changed setting shows at once.
        if (
            response.status_code == 200
            and isinstance(response.data, dict)
            and ("period" in response.data or self.action == "customer_lifetime")
        ):
            response.data = {"currency": settings.CURRENCY, **response.data}
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(exclude=True)
    def list(self, request):
        return Response({name: reverse(f"analytics-{name}", request=request) for name in ENDPOINTS})

    @extend_schema(
        summary="Totals of the period and of the previous one",
        parameters=[AnalyticsQuerySerializer],
        responses=SummaryResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def summary(self, request):
        return _report(request, AnalyticsQuerySerializer, selectors.analytics_summary)

    @extend_schema(
        summary="Time series by day, week or month",
        parameters=[RevenueQuerySerializer],
        responses=RevenueResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def revenue(self, request):
        return _report(request, RevenueQuerySerializer, selectors.analytics_revenue, "interval")

    @extend_schema(
        summary="Best products by revenue, units or margin",
        parameters=[TopProductsQuerySerializer],
        responses=TopProductsResponseSerializer,
    )
    @action(detail=False, methods=["get"], url_path="top-products", url_name="top-products")
    def top_products(self, request):
        return _report(
            request, TopProductsQuerySerializer, selectors.analytics_top_products, "by", "limit"
        )

    @extend_schema(
        summary="Best customers by revenue or orders",
        parameters=[TopCustomersQuerySerializer],
        responses=TopCustomersResponseSerializer,
    )
    @action(detail=False, methods=["get"], url_path="top-customers", url_name="top-customers")
    def top_customers(self, request):
        return _report(
            request, TopCustomersQuerySerializer, selectors.analytics_top_customers, "by", "limit"
        )

    @extend_schema(
        summary="Revenue, orders and units by category, country or segment",
        parameters=[BreakdownQuerySerializer],
        responses=BreakdownResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def breakdown(self, request):
        return _report(
            request, BreakdownQuerySerializer, selectors.analytics_breakdown, "dimension"
        )

    @extend_schema(
        summary="Cohorts and retention: do new customers come back?",
        description="A customer's cohort is the month (or ISO week) of their first completed "
        "sale ever; every cohort whose first sales fall in the period, with one entry per "
        "period from its own to the one of date_to." + CSV_DOC,
        parameters=[CohortsQuerySerializer],
        responses=CohortsResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def cohorts(self, request):
        return _report(request, CohortsQuerySerializer, selectors.analytics_cohorts, "interval")

    @extend_schema(
        summary="Basket affinity: what sells together with a product",
        description="Products bought in the same completed sales as `product` in the period, "
        "most such sales first (then product id), with confidence and lift." + CSV_DOC,
        parameters=[BasketQuerySerializer],
        responses=BasketResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def basket(self, request):
        return _report(
            request, BasketQuerySerializer, selectors.analytics_basket, "product", "limit"
        )

    @extend_schema(
        summary="RFM segments: who are our best and our slipping customers",
        description="Every customer with a completed sale in the period scored 1-5 on "
        "recency, frequency and monetary value (quintiles) and put in a named segment "
        "(docs/analytics.md has the grid)." + CSV_DOC,
        parameters=[RfmQuerySerializer],
        responses=RfmResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def rfm(self, request):
        return _report(request, RfmQuerySerializer, selectors.analytics_rfm)

    @extend_schema(
        summary="The customers of one RFM segment, with their scores",
        description="Paginated (`page`, `page_size`); `?format=csv` gives every customer of "
        "the segment in one file.",
        parameters=[RfmCustomersQuerySerializer],
        responses=RfmCustomersResponseSerializer,
    )
    @action(detail=False, methods=["get"], url_path="rfm/customers", url_name="rfm-customers")
    def rfm_customers(self, request):
        query = _query(request, RfmCustomersQuerySerializer)
        csv = request.accepted_renderer.format == "csv"
        answer = selectors.analytics_rfm_customers(
            filters=query["filters"],
            segment=query["rfm_segment"],
            page=1 if csv else query["page"],
            page_size=None if csv else query["page_size"],
        )
        return Response(jsonable(answer))

    @extend_schema(
        summary="A customer's lifetime: first and last sale, sales, revenue",
        responses=CustomerLifetimeSerializer,
    )
    @action(
        detail=False,
        methods=["get"],
        url_path=r"customers/(?P<customer_id>[0-9]{1,18})",
        url_name="customer-lifetime",
    )
    def customer_lifetime(self, request, customer_id: str):
        customer = get_object_or_404(Customer.objects.only("pk"), pk=int(customer_id))
        return Response(jsonable(selectors.analytics_customer_lifetime(customer=customer.pk)))

    # --- CSV (?format=csv): each report's rows ---------------------------------------------

    def csv_table(  # "list" is the list action here: builtins.list
        self, data: dict[str, Any]
    ) -> tuple[builtins.list[str], builtins.list[builtins.list[Any]]]:
        return CSV_TABLES[self.action](data)


def _cohorts_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = ["cohort", "cohort_start", "customers", "offset", "start"]
    header += ["active_customers", "revenue", "retention_pct"]
    rows = [
        [c["cohort"], c["start"], c["customers"], *[p[k] for k in header[3:]]]
        for c in data["results"]
        for p in c["periods"]
    ]
    return header, rows


def _rows_csv(*columns: str):
    def table(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        return list(columns), [[row[c] for c in columns] for row in data["results"]]

    return table


def _rfm_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    columns = ["segment", "label", "customers", "revenue", "share_pct"]
    return columns, [[row[c] for c in columns] for row in data["segments"]]


def _summary_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    names = list(data["current"])
    return ["figure", "current", "previous", "change_pct"], [
        [n, data["current"][n], data["previous"][n], data["change_pct"][n]] for n in names
    ]


def _revenue_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    columns = ["date", "start", "end", "revenue", "cost", "margin", "orders", "units"]
    return columns, [[row[c] for c in columns] for row in data["points"]]


def _lifetime_csv(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    return list(data), [list(data.values())]


CSV_TABLES = {
    "summary": _summary_csv,
    "revenue": _revenue_csv,
    "top_products": _rows_csv(
        "rank",
        "product",
        "product_id",
        "sku",
        "name",
        "category_id",
        "category_name",
        "revenue",
        "cost",
        "margin",
        "margin_pct",
        "units",
        "orders",
    ),
    "top_customers": _rows_csv(
        "rank",
        "customer",
        "customer_id",
        "name",
        "email",
        "country",
        "segment",
        "revenue",
        "cost",
        "margin",
        "orders",
        "units",
        "average_order_value",
    ),
    "breakdown": _rows_csv(
        "key", "label", "revenue", "cost", "margin", "orders", "units", "share_pct"
    ),
    "customer_lifetime": _lifetime_csv,
    "rfm": _rfm_csv,
    "rfm_customers": _rows_csv(
        "customer_id",
        "name",
        "email",
        "last_sale_day",
        "recency_days",
        "orders",
        "revenue",
        "r",
        "f",
        "m",
    ),
    "cohorts": _cohorts_csv,
    "basket": _rows_csv("product_id", "sku", "name", "orders", "confidence", "lift"),
}
