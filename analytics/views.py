"""The analytics API (``/api/analytics/…``): thin doors onto ``analytics.selectors``."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from analytics import selectors
from analytics.permissions import CanViewAnalytics
from analytics.serializers import (
    AnalyticsQuerySerializer,
    BreakdownQuerySerializer,
    BreakdownResponseSerializer,
    RevenueQuerySerializer,
    RevenueResponseSerializer,
    SummaryResponseSerializer,
    TopCustomersQuerySerializer,
    TopCustomersResponseSerializer,
    TopProductsQuerySerializer,
    TopProductsResponseSerializer,
)
from core.ops.replicas import ReplicaReadsMixin

ENDPOINTS = ("summary", "revenue", "top-products", "top-customers", "breakdown")


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


class AnalyticsViewSet(ReplicaReadsMixin, viewsets.ViewSet):
    """Sales analytics (completed sales only; money as decimal strings). Every endpoint takes
    `date_from`/`date_to` (local days, inclusive; default: the last 30 days) and the filters
    `category`, `product`, `customer`, `country`, `segment`, and echoes the resolved period and
    filters. Answers are cached and always current (a sale write starts a new cache
    generation)."""

    permission_classes = [CanViewAnalytics]
    oauth_scopes = {"safe": ("analytics", "read")}  # OAuth2: a BI tool's analytics-only token
    replica_read_actions = frozenset(  # read replicas (core/ops/replicas.py)
        {"list", "summary", "revenue", "top_products", "top_customers", "breakdown"}
    )

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
        query = _query(request, AnalyticsQuerySerializer)
        return Response(jsonable(selectors.analytics_summary(filters=query["filters"])))

    @extend_schema(
        summary="Time series by day, week or month",
        parameters=[RevenueQuerySerializer],
        responses=RevenueResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def revenue(self, request):
        query = _query(request, RevenueQuerySerializer)
        answer = selectors.analytics_revenue(filters=query["filters"], interval=query["interval"])
        return Response(jsonable(answer))

    @extend_schema(
        summary="Best products by revenue, units or margin",
        parameters=[TopProductsQuerySerializer],
        responses=TopProductsResponseSerializer,
    )
    @action(detail=False, methods=["get"], url_path="top-products", url_name="top-products")
    def top_products(self, request):
        query = _query(request, TopProductsQuerySerializer)
        answer = selectors.analytics_top_products(
            filters=query["filters"], by=query["by"], limit=query["limit"]
        )
        return Response(jsonable(answer))

    @extend_schema(
        summary="Best customers by revenue or orders",
        parameters=[TopCustomersQuerySerializer],
        responses=TopCustomersResponseSerializer,
    )
    @action(detail=False, methods=["get"], url_path="top-customers", url_name="top-customers")
    def top_customers(self, request):
        query = _query(request, TopCustomersQuerySerializer)
        answer = selectors.analytics_top_customers(
            filters=query["filters"], by=query["by"], limit=query["limit"]
        )
        return Response(jsonable(answer))

    @extend_schema(
        summary="Revenue, orders and units by category, country or segment",
        parameters=[BreakdownQuerySerializer],
        responses=BreakdownResponseSerializer,
    )
    @action(detail=False, methods=["get"])
    def breakdown(self, request):
        query = _query(request, BreakdownQuerySerializer)
        answer = selectors.analytics_breakdown(
            filters=query["filters"], dimension=query["dimension"]
        )
        return Response(jsonable(answer))
