"""The analytics figures: summary, revenue time series, top products and customers,
breakdowns, and the dashboard's filter choices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from analytics import sql as q
from analytics.cache import cached
from analytics.selectors.filters import (
    BREAKDOWN_FIGURES,
    DAILY,
    DAILY_CATEGORY,
    DAILY_CUSTOMER,
    DAILY_PRODUCT,
    DIMENSIONS,
    INTERVALS,
    TOP_CUSTOMERS_BY,
    TOP_PRODUCTS_BY,
    AnalyticsFilters,
    Totals,
    as_day,
    bucket_start,
    cache_params,
    category_rollup_in_step,
    next_bucket,
    ratio,
)
from customers.models import Customer, CustomerSegment
from products.models import Category, Product

# --- Per-day totals, unique customers -----------------------------------------------------------


def _daily_source(filters: AnalyticsFilters, source: str) -> str:
    """Which table answers per-day totals for these filters."""
    if source == "sales" or (filters.by_line and filters.by_sale):
        return "sales"
    if filters.by_sale:
        return DAILY_CUSTOMER
    if filters.product is not None:
        return DAILY_PRODUCT
    if filters.category is not None:
        return DAILY_CATEGORY if category_rollup_in_step() else "sales"
    return DAILY


def daily_totals(filters: AnalyticsFilters, source: str = "auto") -> tuple[dict[date, Totals], str]:
    """``({day: Totals}, source)`` for the days of the period that have sales."""
    table = _daily_source(filters, source)
    if table == "sales":
        query = q.sales_query(filters)
        day_sql, day_params = q.local_day_sql("s.sold_at")
        rows = query.fetch(
            (f"{day_sql}, {q.LINE_SUMS}, COUNT(DISTINCT s.id)", day_params), "GROUP BY 1"
        )
    else:
        query = q.rollup_query(table, filters)
        if table == DAILY_CUSTOMER:
            q.customer_filters(query, filters, "d.customer_id")
        elif table == DAILY_PRODUCT:
            query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
                query.filter("p.category_id = %s", filters.category)
        elif table == DAILY_CATEGORY:
            query.filter("d.category_key = %s", filters.category)
        rows = query.fetch(f"d.day, {q.SUMS}", "GROUP BY d.day")
    totals = {as_day(day): Totals.from_row(*measures) for day, *measures in rows}
    return totals, "sales" if table == "sales" else "rollups"


def unique_customers(filters: AnalyticsFilters, source: str = "auto") -> int:
    """Distinct customers with a sale (in scope) in the period."""
    if source == "sales" or filters.by_line:
        query = q.sales_query(filters)
        return int(query.fetch("COUNT(DISTINCT s.customer_id)")[0][0] or 0)
    return q.customers_with_rollup_rows(filters)


# --- Answers ------------------------------------------------------------------------------------


def _period_figures(filters: AnalyticsFilters, source: str) -> tuple[dict[str, Any], str]:
    per_day, used = daily_totals(filters, source)
    total = Totals()
    for day_totals in per_day.values():
        total.add(day_totals)
    figures = total.figures()
    # One pass over the period's customers gives their number (= unique_customers(), without
    # a second query), those with two or more sales, and the new ones.
    customers, repeat, new = q.customer_counts(
        filters, rollups=source != "sales" and not filters.by_line
    )
    figures["unique_customers"] = customers
    figures["repeat_customer_rate"] = ratio(repeat, customers, 100)
    figures["new_customers"] = new
    figures["returning_customers"] = customers - new
    return figures, used


def _change(current: Any, previous: Any) -> Decimal | None:
    if current is None or previous is None or not previous:
        return None
    return ratio(Decimal(current) - Decimal(previous), previous, 100)


def analytics_summary(*, filters: AnalyticsFilters, source: str = "auto") -> dict[str, Any]:
    """Revenue, cost, margin, margin %, orders, units, average order value, unique
    customers, repeat customer rate (% of the period's customers with two or more completed
    sales in it), new customers (first completed sale ever in the period) and returning
    customers (the others) of the period and of the previous period of the same length, with
    the change in % (``None`` when the previous figure is 0)."""

    def compute() -> dict[str, Any]:
        previous_filters = filters.previous()
        current, used = _period_figures(filters, source)
        previous, _ = _period_figures(previous_filters, source)
        return {
            "period": filters.period(),
            "previous_period": previous_filters.period(),
            "filters": filters.filter_values(),
            "source": used,
            "current": current,
            "previous": previous,
            "change_pct": {key: _change(current[key], previous[key]) for key in current},
        }

    return cached("summary", cache_params(filters, source=source), compute)


def analytics_revenue(
    *, filters: AnalyticsFilters, interval: str = "day", source: str = "auto"
) -> dict[str, Any]:
    """The period's time series by day, ISO week (from Monday) or calendar month, every bucket
    present (zero when empty). ``date`` is the bucket's calendar start; ``start`` and ``end``
    are its days inside the period (the first and last buckets can be partial)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")

    def compute() -> dict[str, Any]:
        per_day, used = daily_totals(filters, source)
        buckets: dict[date, Totals] = {}
        start = bucket_start(filters.date_from, interval)
        while start <= filters.date_to:
            buckets[start] = Totals()
            start = next_bucket(start, interval)
        total = Totals()
        for day, day_totals in per_day.items():
            buckets[bucket_start(day, interval)].add(day_totals)
            total.add(day_totals)
        points = []
        for start, bucket in buckets.items():
            end = next_bucket(start, interval) - timedelta(days=1)
            figures = bucket.figures()
            points.append(
                {
                    "date": start,
                    "start": max(start, filters.date_from),
                    "end": min(end, filters.date_to),
                    **{k: figures[k] for k in ("revenue", "cost", "margin", "orders", "units")},
                }
            )
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "interval": interval,
            "source": used,
            "totals": total.figures(),
            "points": points,
        }

    return cached("revenue", cache_params(filters, interval=interval, source=source), compute)


def _ranked(rows: list[tuple[Any, ...]]) -> list[tuple[Any, Totals]]:
    return [(key, Totals.from_row(*measures)) for key, *measures in rows]


def _rows_by_id(
    model: type[Product] | type[Customer], rows: list[tuple[Any, Totals]], *fields: str
) -> dict[int, Mapping[str, Any]]:
    """The ``fields`` of the ranked keys' rows of ``model``, by id (one query)."""
    ids = [key for key, _ in rows]
    return {row["id"]: row for row in model.objects.filter(pk__in=ids).values("id", *fields)}


def _ranking_answer(
    filters: AnalyticsFilters, by: str, limit: int, used: str, results: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "period": filters.period(),
        "filters": filters.filter_values(),
        "by": by,
        "limit": limit,
        "source": used,
        "results": results,
    }


def analytics_top_products(
    *, filters: AnalyticsFilters, by: str = "revenue", limit: int = 10, source: str = "auto"
) -> dict[str, Any]:
    """The ``limit`` best products of the period by revenue, units or margin (ties: lower
    product id first). ``orders`` = sales with a line of the product."""
    if by not in TOP_PRODUCTS_BY:
        raise ValueError(f"by must be one of {TOP_PRODUCTS_BY}")

    def compute() -> dict[str, Any]:
        if source == "sales" or filters.by_sale:
            used, query = "sales", q.sales_query(filters)
            select, key = f"i.product_id, {q.LINE_SUMS}, COUNT(*)", "i.product_id"
            revenue, cost = "SUM(i.line_total)", "SUM(i.unit_cost * i.quantity)"
        else:
            used, query = "rollups", q.long_rollup_query("product", filters)
            if filters.product is not None:
                query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
                query.filter("p.category_id = %s", filters.category)
            select, key = f"d.product_id, {q.SUMS}", "d.product_id"
            revenue, cost = "SUM(d.revenue)", "SUM(d.cost)"
        order = q.order_by(by, key, revenue=revenue, cost=cost)
        rows = _ranked(query.fetch(select, f"GROUP BY {key} {order} LIMIT %s", [limit]))
        products = _rows_by_id(Product, rows, "sku", "name", "category_id", "category__name")
        results = []
        for rank, (product_id, totals) in enumerate(rows, start=1):
            product = products.get(product_id, {})
            figures = totals.figures()
            results.append(
                {
                    "rank": rank,
                    "product": product_id,
                    "product_id": product_id,  # deprecated alias of "product"
                    "sku": product.get("sku"),
                    "name": product.get("name"),
                    "category_id": product.get("category_id"),
                    "category_name": product.get("category__name"),
                    **{
                        k: figures[k]
                        for k in ("revenue", "cost", "margin", "margin_pct", "units", "orders")
                    },
                }
            )
        return _ranking_answer(filters, by, limit, used, results)

    params = cache_params(filters, by=by, limit=limit, source=source)
    return cached("top-products", params, compute)


def analytics_top_customers(
    *, filters: AnalyticsFilters, by: str = "revenue", limit: int = 10, source: str = "auto"
) -> dict[str, Any]:
    """The ``limit`` best customers of the period by revenue or orders (ties: lower customer
    id first). Sales without customer are not ranked."""
    if by not in TOP_CUSTOMERS_BY:
        raise ValueError(f"by must be one of {TOP_CUSTOMERS_BY}")

    def compute() -> dict[str, Any]:
        if source == "sales" or filters.by_line:
            used, query = "sales", q.sales_query(filters)
            query.filter("s.customer_id IS NOT NULL")
            select, key = f"s.customer_id, {q.LINE_SUMS}, COUNT(DISTINCT s.id)", "s.customer_id"
        else:
            used, query = "rollups", q.long_rollup_query("customer", filters)
            q.customer_filters(query, filters, "d.customer_id")
            select, key = f"d.customer_id, {q.SUMS}", "d.customer_id"
        tail = f"GROUP BY {key} {q.order_by(by, key)} LIMIT %s"
        bounded = q.top_customers_bounded(filters, by, limit) if used == "rollups" else None
        rows = _ranked(bounded if bounded is not None else query.fetch(select, tail, [limit]))
        customers = _rows_by_id(Customer, rows, "name", "email", "country", "segment")
        results = []
        for rank, (customer_id, totals) in enumerate(rows, start=1):
            customer = customers.get(customer_id, {})
            figures = totals.figures()
            results.append(
                {
                    "rank": rank,
                    "customer": customer_id,
                    "customer_id": customer_id,  # deprecated alias of "customer"
                    "name": customer.get("name"),
                    "email": customer.get("email"),
                    "country": str(customer.get("country") or ""),
                    "segment": customer.get("segment"),
                    **{
                        k: figures[k]
                        for k in (
                            "revenue",
                            "cost",
                            "margin",
                            "orders",
                            "units",
                            "average_order_value",
                        )
                    },
                }
            )
        return _ranking_answer(filters, by, limit, used, results)

    return cached(
        "top-customers", cache_params(filters, by=by, limit=limit, source=source), compute
    )


def _breakdown_rows(
    filters: AnalyticsFilters, dimension: str, source: str
) -> tuple[dict[Any, Totals], str]:
    """``({key: Totals}, source)``; key: category id (``None`` = no category), country code
    (``""`` = none recorded) or segment, ``None`` for sales without customer."""
    rollups = source != "sales"
    if dimension == "category":
        if rollups and not filters.by_sale and filters.product is None:
            if category_rollup_in_step():
                query = q.rollup_query(DAILY_CATEGORY, filters)
                if filters.category is not None:
                    query.filter("d.category_key = %s", filters.category)
                rows = query.fetch(f"d.category_key, {q.SUMS}", "GROUP BY d.category_key")
                return {key or None: Totals.from_row(*m) for key, *m in rows}, "rollups"
        elif rollups and not filters.by_sale:  # one product: its lines are its orders
            query = q.rollup_query(DAILY_PRODUCT, filters)
            query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
            query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.filter("p.category_id = %s", filters.category)
            rows = query.fetch(f"p.category_id, {q.SUMS}", "GROUP BY p.category_id")
            return {key: Totals.from_row(*m) for key, *m in rows}, "rollups"
        query = q.sales_query(filters)
        query.join(f"JOIN {q.PRODUCT} p ON p.id = i.product_id")
        rows = query.fetch(f"p.category_id, {q.LINE_SUMS}, COUNT(DISTINCT s.id)", "GROUP BY 1")
        return {key: Totals.from_row(*m) for key, *m in rows}, "sales"

    column = "c.country" if dimension == "country" else "c.segment"
    if rollups and not filters.by_line:
        query = q.long_rollup_query("customer", filters)
        q.join_customer(query, "d.customer_id")
        q.customer_filters(query, filters, "d.customer_id")
        rows = query.fetch(f"{column}, {q.SUMS}", f"GROUP BY {column}")
        result = {key: Totals.from_row(*m) for key, *m in rows}
        if not filters.by_sale:  # sales without customer: all sales minus the customers'
            per_day, _ = daily_totals(filters)
            rest = Totals()
            for day_totals in per_day.values():
                rest.add(day_totals)
            for totals in result.values():
                rest.revenue -= totals.revenue
                rest.cost -= totals.cost
                rest.units -= totals.units
                rest.orders -= totals.orders
            if rest.orders:
                result[None] = rest
        return result, "rollups"
    query = q.sales_query(filters)
    q.join_customer(query, "s.customer_id")
    rows = query.fetch(
        f"CASE WHEN s.customer_id IS NULL THEN NULL ELSE {column} END, {q.LINE_SUMS}, "
        "COUNT(DISTINCT s.id)",
        "GROUP BY 1",
    )
    return {key: Totals.from_row(*m) for key, *m in rows}, "sales"


def _labels(dimension: str, keys: Iterable[Any]) -> dict[Any, str]:
    if dimension == "category":
        ids = [key for key in keys if key]
        names = dict(Category.objects.filter(pk__in=ids).values_list("id", "name"))
        return {key: names.get(key, f"Category {key}") if key else "No category" for key in keys}
    if dimension == "segment":
        labels = dict(CustomerSegment.choices)
        return {key: labels.get(key, key) if key else "No customer" for key in keys}
    from django_countries import countries

    country_labels: dict[Any, str] = {}
    for key in keys:
        if key is None:
            country_labels[key] = "No customer"
        else:
            country_labels[key] = (countries.name(key) or key) if key else "Unknown"
    return country_labels


def analytics_breakdown(
    *, filters: AnalyticsFilters, dimension: str = "category", source: str = "auto"
) -> dict[str, Any]:
    """Revenue, cost, margin, orders and units per category, customer country or customer
    segment, with each one's share of the revenue in %. A sale with lines in two categories
    is an order of both (category orders can add up to more than the total)."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {DIMENSIONS}")

    def compute() -> dict[str, Any]:
        rows, used = _breakdown_rows(filters, dimension, source)
        per_day, _ = daily_totals(filters, "sales" if used == "sales" else source)
        total = Totals()
        for day_totals in per_day.values():
            total.add(day_totals)
        labels = _labels(dimension, rows)
        results = []
        for key, totals in rows.items():
            figures = totals.figures()
            results.append(
                {
                    "key": key,
                    "label": labels[key],
                    **{k: figures[k] for k in BREAKDOWN_FIGURES},
                    "share_pct": ratio(totals.revenue, total.revenue, 100),
                }
            )
        results.sort(key=lambda row: (-row["revenue"], row["key"] is None, str(row["key"])))
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "dimension": dimension,
            "source": used,
            "total": {k: v for k, v in total.figures().items() if k in BREAKDOWN_FIGURES},
            "results": results,
        }

    return cached("breakdown", cache_params(filters, dimension=dimension, source=source), compute)


def analytics_choices() -> dict[str, list[tuple[Any, str]]]:
    """What the dashboard's filters offer: categories, countries of customers, segments."""
    from django_countries import countries

    codes = sorted({str(c) for c in Customer.objects.values_list("country", flat=True) if c})
    return {
        "categories": list(Category.objects.order_by("name").values_list("id", "name")),
        "countries": [(code, countries.name(code) or code) for code in codes],
        "segments": list(CustomerSegment.choices),
    }
