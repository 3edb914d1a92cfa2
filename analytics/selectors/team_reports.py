"""The sales team's reports (issue 17): cohorts and retention, basket analysis, RFM
segments and customers, and one customer's lifetime figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from analytics import sql as q
from analytics.cache import cached
from analytics.selectors.figures import (
    daily_totals,
)
from analytics.selectors.filters import (
    CENT,
    ZERO,
    AnalyticsFilters,
    as_day,
    bucket_start,
    cache_params,
    money,
    next_bucket,
    ratio,
)
from products.models import Product

# --- Issue 17: cohorts and retention ------------------------------------------------------------

COHORT_INTERVALS = ("month", "week")


def bucket_label(start: date, interval: str) -> str:
    """``2024-01`` for a month, ``2024-W03`` for an ISO week."""
    if interval == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


def analytics_cohorts(*, filters: AnalyticsFilters, interval: str = "month") -> dict[str, Any]:
    """Cohorts of the customers whose first completed sale ever falls in the period, by the
    month (or ISO week) of that sale; for each cohort, every period from its own to the one of
    ``date_to``: how many of its customers bought in it (``active_customers``), their revenue
    in it, and ``retention_pct`` = active / cohort size x 100. Periods end at ``date_to``."""
    if interval not in COHORT_INTERVALS:
        raise ValueError(f"interval must be one of {COHORT_INTERVALS}")
    if filters.by_line:
        raise ValueError("cohorts are per customer: no product or category filter")

    def compute() -> dict[str, Any]:
        cells: dict[date, dict[date, tuple[int, Decimal]]] = {}
        for first, period, active, revenue in q.cohort_rows(filters, interval):
            cells.setdefault(as_day(first), {})[as_day(period)] = (int(active), money(revenue))
        last = bucket_start(filters.date_to, interval)
        results = []
        for cohort in sorted(cells):
            # Every customer bought in their first period (0 only if the tables were out of
            # step, until rebuild_rollups: then no percentages rather than an error).
            size = cells[cohort].get(cohort, (0, ZERO))[0]
            periods, start, offset = [], cohort, 0
            while start <= last:
                active, revenue = cells[cohort].get(start, (0, ZERO))
                periods.append(
                    {
                        "offset": offset,
                        "start": start,
                        "active_customers": active,
                        "revenue": revenue,
                        "retention_pct": ratio(active, size, 100),
                    }
                )
                start, offset = next_bucket(start, interval), offset + 1
            results.append(
                {
                    "cohort": bucket_label(cohort, interval),
                    "start": cohort,
                    "customers": size,
                    "periods": periods,
                }
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "interval": interval,
            "source": "rollups",
            "results": results,
        }

    return cached("cohorts", cache_params(filters, interval=interval), compute)


# --- Issue 17: basket affinity ------------------------------------------------------------------


def _sales_count(filters: AnalyticsFilters) -> int:
    per_day, _ = daily_totals(filters)
    return sum(totals.orders for totals in per_day.values())


def analytics_basket(*, filters: AnalyticsFilters, product: int, limit: int = 10) -> dict[str, Any]:
    """What sells with ``product``: the products bought in the same completed sales of the
    period. ``orders`` = sales containing both; ``confidence`` = orders / sales containing
    ``product``; ``lift`` = confidence / (sales containing the other product / all sales of
    the period): above 1, they are bought together more often than chance. Most ``orders``
    first, then product id."""

    def compute() -> dict[str, Any]:
        scope = replace(filters, product=None, category=None)
        pairs = q.basket_pairs(scope, product, limit)
        with_product = _sales_count(replace(scope, product=product))
        everything = _sales_count(scope)
        others = q.product_orders(scope, [other for other, _ in pairs])
        names: dict[int, Mapping[str, Any]] = {
            row["id"]: row
            for row in Product.objects.filter(pk__in=list(others)).values("id", "sku", "name")
        }
        results = []
        for other, orders in pairs:
            confidence = Decimal(orders) / with_product
            base = Decimal(others[other]) / everything
            results.append(
                {
                    "product_id": other,
                    "sku": names.get(other, {}).get("sku"),
                    "name": names.get(other, {}).get("name"),
                    "orders": int(orders),
                    "confidence": confidence.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
                    "lift": (confidence / base).quantize(CENT, rounding=ROUND_HALF_UP),
                }
            )
        return {
            "period": filters.period(),
            "filters": scope.filter_values(),
            "source": "sales",
            "product": product,
            "orders": with_product,
            "sales": everything,
            "limit": limit,
            "results": results,
        }

    return cached("basket", cache_params(filters, product=product, limit=limit), compute)


# --- Issue 17: RFM segments ---------------------------------------------------------------------

# The segment of each (recency score, frequency score): rows R = 5..1, columns F = 1..5.
RFM_GRID = {
    5: ("new", "potential_loyalists", "potential_loyalists", "champions", "champions"),
    4: ("new", "potential_loyalists", "potential_loyalists", "loyal", "champions"),
    3: ("hibernating", "potential_loyalists", "loyal", "loyal", "loyal"),
    2: ("lost", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "lost", "hibernating", "at_risk", "cant_lose"),
}
RFM_SEGMENTS = {
    "champions": "Champions",
    "loyal": "Loyal",
    "potential_loyalists": "Potential loyalists",
    "new": "New",
    "at_risk": "At risk",
    "cant_lose": "Can't lose",
    "hibernating": "Hibernating",
    "lost": "Lost",
}


RFM_SEGMENT_KEYS = tuple(RFM_SEGMENTS)  # the OpenAPI enum (settings' ENUM_NAME_OVERRIDES)


def rfm_segment(r: int, f: int) -> str:
    return RFM_GRID[r][f - 1]


def _segments_sql() -> str:
    """``CASE r * 10 + f WHEN 51 THEN 'new' ...``: the grid as SQL (fixed names, no input)."""
    cases = " ".join(
        f"WHEN {r * 10 + f} THEN '{rfm_segment(r, f)}'" for r in RFM_GRID for f in range(1, 6)
    )
    return f"CASE r * 10 + f {cases} END"


def analytics_rfm(*, filters: AnalyticsFilters) -> dict[str, Any]:
    """Every customer with a completed sale in the period scored 1-5 on recency (their last
    sale), frequency (sales) and monetary value (revenue), by quintiles, and put in a segment
    by (R, F) (``RFM_GRID``); per segment: customers, revenue, share of the customers in %."""

    def compute() -> dict[str, Any]:
        rows = {
            key: (int(n), money(revenue))
            for key, n, revenue in q.rfm_segments(filters, _segments_sql())
        }
        total = sum(n for n, _ in rows.values())
        segments = []
        for key, label in RFM_SEGMENTS.items():
            customers, revenue = rows.get(key, (0, ZERO))
            segments.append(
                {
                    "segment": key,
                    "label": label,
                    "customers": customers,
                    "revenue": revenue,
                    "share_pct": ratio(customers, total, 100),
                }
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "source": "rollups",
            "customers": total,
            "segments": segments,
        }

    return cached("rfm", cache_params(filters), compute)


def analytics_rfm_customers(
    *, filters: AnalyticsFilters, segment: str, page: int = 1, page_size: int | None = 50
) -> dict[str, Any]:
    """The customers of one RFM segment with their scores, highest revenue first (then
    customer id); ``page_size=None``: all of them (the CSV export)."""
    if segment not in RFM_SEGMENTS:
        raise ValueError(f"segment must be one of {tuple(RFM_SEGMENTS)}")

    def compute() -> dict[str, Any]:
        offset = (page - 1) * (page_size or 0)
        rows = q.rfm_customers(filters, _segments_sql(), segment, page_size, offset)
        results = [
            {
                "customer_id": cid,
                "name": name,
                "email": email,
                "last_sale_day": as_day(last),
                "recency_days": (filters.date_to - as_day(last)).days,
                "orders": int(orders),
                "revenue": money(revenue),
                "r": int(r),
                "f": int(f),
                "m": int(m),
            }
            for cid, name, email, last, orders, revenue, r, f, m, _ in rows
        ]
        count = int(rows[0][-1]) if rows else None
        if count is None and page > 1:  # past the last page: the count without the rows
            count = dict((k, n) for k, n, _ in q.rfm_segments(filters, _segments_sql())).get(
                segment, 0
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "source": "rollups",
            "segment": segment,
            "count": int(count or 0),
            "page": page,
            "page_size": page_size,
            "results": results,
        }

    params = cache_params(filters, segment=segment, page=page, page_size=page_size)
    return cached("rfm-customers", params, compute)


def analytics_customer_lifetime(*, customer: int) -> dict[str, Any]:
    """A customer's completed sales ever: first and last sale day, sales, revenue."""

    def compute() -> dict[str, Any]:
        row = q.customer_lifetime(customer)
        first, last, orders, revenue = row or (None, None, 0, ZERO)
        return {
            "customer_id": customer,
            "first_sale_day": as_day(first) if first else None,
            "last_sale_day": as_day(last) if last else None,
            "orders": int(orders),
            "revenue": money(revenue),
            "average_order_value": ratio(money(revenue), int(orders)),
        }

    return cached("customer-lifetime", {"customer": customer}, compute)
