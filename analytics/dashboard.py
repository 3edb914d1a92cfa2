"""The staff dashboard at ``/dashboard/``: the same selectors as the API, drawn as
server-rendered SVG (``analytics.charts``)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone

from analytics import charts, selectors
from analytics.permissions import VIEW_ANALYTICS
from analytics.serializers import AnalyticsQuerySerializer
from core.ops.replicas import replica_reads_view

PRESETS = (7, 30, 90, 365)
FILTER_NAMES = ("date_from", "date_to", "category", "country", "segment", "product", "customer")
KPIS = (
    ("revenue", "Revenue", True),
    ("orders", "Orders", False),
    ("average_order_value", "Average order value", True),
    ("margin", "Gross margin", True),
    ("margin_pct", "Margin %", False),
    ("unique_customers", "Unique customers", False),
)


def _interval(days: int) -> str:
    return "day" if days <= 62 else "week" if days <= 400 else "month"


def _bucket_days(start: date, interval: str) -> int:
    """How many days a whole bucket beginning on ``start``'s bucket has."""
    if interval == "day":
        return 1
    if interval == "week":
        return 7
    return calendar.monthrange(start.year, start.month)[1]


def _partial_buckets(points: list[dict], interval: str, today: date) -> tuple[list[bool], str]:
    """Which points are partial (the bucket holding today, not over yet; a bucket the period
    cuts short, such as a first week that starts before it) and the caption that says so."""
    flags: list[bool] = []
    reasons: dict[str, str] = {}
    for index, point in enumerate(points):
        start, end = (date.fromisoformat(str(point[key])) for key in ("start", "end"))
        whole = _bucket_days(date.fromisoformat(str(point["date"])), interval)
        running = end >= today
        cut = (end - start).days + 1 < whole
        flags.append(running or cut)
        if running:
            reasons["running"] = f"today is not over, so its {interval} is partial"
        elif cut and index == 0:
            reasons["first"] = f"the first {interval} starts before the period"
        elif cut:
            reasons["last"] = f"the last {interval} ends after the period"
    if not reasons:
        return flags, ""
    return flags, "Hollow points are partial buckets: " + "; ".join(reasons.values()) + "."


@staff_member_required
@replica_reads_view
def dashboard(request):
    """KPIs with the change vs the previous period, revenue over time, top products and the
    category breakdown, for a period (date inputs or presets) and filters."""
    if not request.user.has_perm(VIEW_ANALYTICS):
        raise PermissionDenied("Your role does not include analytics.")
    params = {name: request.GET[name].strip() for name in FILTER_NAMES if request.GET.get(name)}
    preset = request.GET.get("preset")
    if preset and preset.isdigit() and int(preset) in PRESETS:
        today = timezone.localdate()
        params["date_from"] = (today - timedelta(days=int(preset) - 1)).isoformat()
        params["date_to"] = today.isoformat()
    query = AnalyticsQuerySerializer(data=params)
    errors = {}
    if not query.is_valid():
        errors = {name: " ".join(map(str, messages)) for name, messages in query.errors.items()}
        query = AnalyticsQuerySerializer(data={})
        query.is_valid(raise_exception=True)
    filters = query.validated_data["filters"]

    summary = selectors.analytics_summary(filters=filters)
    interval = _interval(filters.days)
    revenue = selectors.analytics_revenue(filters=filters, interval=interval)
    top = selectors.analytics_top_products(filters=filters, by="revenue", limit=10)
    breakdown = selectors.analytics_breakdown(filters=filters, dimension="category")

    kpis = []
    for key, label, money in KPIS:
        current, previous = summary["current"][key], summary["previous"][key]
        kpi = {
            "label": label,
            "value": current,
            "money": money,
            "pct": key == "margin_pct",
            "previous": previous,
            "change": summary["change_pct"][key],
            "unit": "%",
        }
        if key == "margin_pct":
            # A percentage changes in percentage points, not in % of itself.
            kpi["unit"] = "pp"
            kpi["change"] = (
                None
                if current is None or previous is None
                else (Decimal(str(current)) - Decimal(str(previous))).quantize(Decimal("0.1"))
            )
        kpis.append(kpi)
    today = timezone.localdate()
    partial, partial_caption = _partial_buckets(revenue["points"], interval, today)
    context = {
        "title": "Sales analytics",
        "filters": filters,
        "errors": errors,
        "presets": PRESETS,
        "today": timezone.localdate(),
        "choices": selectors.analytics_choices(),
        "summary": summary,
        "kpis": kpis,
        "interval": interval,
        "revenue_chart": charts.line_chart(
            [(point["date"], point["revenue"]) for point in revenue["points"]],
            interval=interval,
            title=f"Revenue by {interval}",
            partial=partial,
        ),
        "partial_caption": partial_caption,
        "top_products": top["results"],
        "top_chart": charts.bar_chart(
            [(row["name"] or f"#{row['product_id']}", row["revenue"]) for row in top["results"]],
            title="Top products by revenue",
        ),
        "breakdown": breakdown,
        "breakdown_chart": charts.bar_chart(
            [(row["label"], row["revenue"]) for row in breakdown["results"]],
            title="Revenue by category",
        ),
        "sources": sorted({summary["source"], revenue["source"], top["source"]}),
    }
    return render(request, "analytics/dashboard.html", context)
