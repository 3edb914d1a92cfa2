"""Reads for analytics: the one read path of the API and the dashboard.

Every figure counts the lines of completed sales whose local day (``settings.TIME_ZONE``) is in
the period. Filters: ``product`` and ``category`` select lines (a sale counts as an order of a
product or category when it has a line of it), ``customer``, ``country`` and ``segment`` select
sales (by the customer's current country and segment). Money is ``Decimal`` (2 places).

Where each answer comes from (``source`` in every answer):

=====================  ==========================================  ==========================
question               rollups read                                 sales tables when
=====================  ==========================================  ==========================
totals, time series    DailySales (no filter), DailyCustomerSales   a product/category filter
                       (customer/country/segment), DailyProduct-    together with a customer/
                       Sales (product), DailyCategorySales          country/segment filter
                       (category)
unique customers       DailyCustomerSales (EXISTS per customer)     a product/category filter
top products           DailyProductSales                            customer/country/segment
top customers          DailyCustomerSales                           product/category filter
breakdown category     DailyCategorySales / DailyProductSales       customer/country/segment
breakdown country,     DailyCustomerSales (+ DailySales for sales   product/category filter
segment                without customer)
=====================  ==========================================  ==========================

Category figures also come from the sales tables while a product's category has changed since
its sales were counted (until ``rebuild_rollups``): orders per category cannot be moved
between categories. Pass ``source="sales"`` to any selector to force the sales tables (the
benchmark's baseline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics import sql as q
from analytics.cache import cached
from analytics.models import RollupProductCategory
from core.ops import replicas
from customers.models import Customer, CustomerSegment
from products.models import Category, Product

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
INTERVALS = ("day", "week", "month")
TOP_PRODUCTS_BY = ("revenue", "units", "margin")
TOP_CUSTOMERS_BY = ("revenue", "orders")
DIMENSIONS = ("category", "country", "segment")
SOURCES = ("auto", "sales")
BREAKDOWN_FIGURES = ("revenue", "cost", "margin", "orders", "units")
DEFAULT_DAYS = 30
CUSTOMER = Customer._meta.db_table
CATEGORY = Category._meta.db_table
DAILY, DAILY_PRODUCT, DAILY_CUSTOMER, DAILY_CATEGORY, MONTHLY_PRODUCT, MONTHLY_CUSTOMER = (
    q.ROLLUP_TABLES
)


@dataclass(frozen=True)
class AnalyticsFilters:
    """The period (local days, inclusive) and the filters of an analytics question."""

    date_from: date
    date_to: date
    category: int | None = None
    product: int | None = None
    customer: int | None = None
    country: str | None = None
    segment: str | None = None

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def by_line(self) -> bool:
        return self.product is not None or self.category is not None

    @property
    def by_sale(self) -> bool:
        return self.customer is not None or bool(self.country) or bool(self.segment)

    def previous(self) -> AnalyticsFilters:
        """The period of the same length just before."""
        return replace(
            self,
            date_from=self.date_from - timedelta(days=self.days),
            date_to=self.date_from - timedelta(days=1),
        )

    def period(self) -> dict[str, Any]:
        return {"date_from": self.date_from, "date_to": self.date_to, "days": self.days}

    def filter_values(self) -> dict[str, Any]:
        values = asdict(self)
        del values["date_from"], values["date_to"]
        return values


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last 30 days, today (local) included."""
    today = today or timezone.localdate()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


# --- Numbers ------------------------------------------------------------------------------------


def money(value: Any) -> Decimal:
    """A sum from the database as Decimal with 2 places (SQLite hands back floats)."""
    if value is None:
        return ZERO
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def ratio(numerator: Decimal | int, denominator: Decimal | int, scale: int = 1) -> Decimal | None:
    if not denominator:
        return None
    value = Decimal(numerator) * scale / Decimal(denominator)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Totals:
    revenue: Decimal = ZERO
    cost: Decimal = ZERO
    units: int = 0
    orders: int = 0

    def add(self, other: Totals) -> None:
        self.revenue += other.revenue
        self.cost += other.cost
        self.units += other.units
        self.orders += other.orders

    @classmethod
    def from_row(cls, revenue: Any, cost: Any, units: Any, orders: Any) -> Totals:
        return cls(money(revenue), money(cost), int(units or 0), int(orders or 0))

    def figures(self) -> dict[str, Any]:
        margin = self.revenue - self.cost
        return {
            "revenue": self.revenue,
            "cost": self.cost,
            "margin": margin,
            "margin_pct": ratio(margin, self.revenue, 100),
            "orders": self.orders,
            "units": self.units,
            "average_order_value": ratio(self.revenue, self.orders),
        }


def category_rollup_in_step() -> bool:
    """Whether every product is still in the category its sales were counted under. The ORM:
    as fast as the hand-written SELECT (10 ms median either way on 5,000 products)."""
    moved = RollupProductCategory.objects.using(replicas.read_alias()).exclude(
        category_key=Coalesce(F("product__category_id"), Value(0))
    )
    return not moved.exists()


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


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
            if filters.customer is not None:
                query.filter("d.customer_id = %s", filters.customer)
            q.customer_filters(query, filters, "d.customer_id")
        elif table == DAILY_PRODUCT:
            query.filter("d.product_id = %s", filters.product)
            if filters.category is not None:
                query.join(f"JOIN {q.PRODUCT} p ON p.id = d.product_id")
                query.filter("p.category_id = %s", filters.category)
        elif table == DAILY_CATEGORY:
            query.filter("d.category_key = %s", filters.category)
        rows = query.fetch(f"d.day, {q.SUMS}", "GROUP BY d.day")
    totals = {_day(day): Totals.from_row(*measures) for day, *measures in rows}
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


def _cache_params(filters: AnalyticsFilters, **extra: Any) -> dict[str, Any]:
    return {**filters.period(), **filters.filter_values(), **extra}


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

    return cached("summary", _cache_params(filters, source=source), compute)


def bucket_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks, from Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_bucket(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)


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
            start = _next_bucket(start, interval)
        total = Totals()
        for day, day_totals in per_day.items():
            buckets[bucket_start(day, interval)].add(day_totals)
            total.add(day_totals)
        points = []
        for start, bucket in buckets.items():
            end = _next_bucket(start, interval) - timedelta(days=1)
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

    return cached("revenue", _cache_params(filters, interval=interval, source=source), compute)


def _ranked(rows: list[tuple[Any, ...]]) -> list[tuple[Any, Totals]]:
    return [(key, Totals.from_row(*measures)) for key, *measures in rows]


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
        products: dict[int, Mapping[str, Any]] = {
            row["id"]: row
            for row in Product.objects.filter(pk__in=[key for key, _ in rows]).values(
                "id", "sku", "name", "category_id", "category__name"
            )
        }
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
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "by": by,
            "limit": limit,
            "source": used,
            "results": results,
        }

    params = _cache_params(filters, by=by, limit=limit, source=source)
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
            if filters.customer is not None:
                query.filter("d.customer_id = %s", filters.customer)
            q.customer_filters(query, filters, "d.customer_id")
            select, key = f"d.customer_id, {q.SUMS}", "d.customer_id"
        tail = f"GROUP BY {key} {q.order_by(by, key)} LIMIT %s"
        rows = _ranked(query.fetch(select, tail, [limit]))
        customers: dict[int, Mapping[str, Any]] = {
            row["id"]: row
            for row in Customer.objects.filter(pk__in=[key for key, _ in rows]).values(
                "id", "name", "email", "country", "segment"
            )
        }
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
        return {
            "period": filters.period(),
            "filters": filters.filter_values(),
            "by": by,
            "limit": limit,
            "source": used,
            "results": results,
        }

    return cached(
        "top-customers", _cache_params(filters, by=by, limit=limit, source=source), compute
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
        if filters.customer is not None:
            query.filter("d.customer_id = %s", filters.customer)
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

    return cached("breakdown", _cache_params(filters, dimension=dimension, source=source), compute)


def analytics_choices() -> dict[str, list[tuple[Any, str]]]:
    """What the dashboard's filters offer: categories, countries of customers, segments."""
    from django_countries import countries

    codes = sorted({str(c) for c in Customer.objects.values_list("country", flat=True) if c})
    return {
        "categories": list(Category.objects.order_by("name").values_list("id", "name")),
        "countries": [(code, countries.name(code) or code) for code in codes],
        "segments": list(CustomerSegment.choices),
    }


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
            cells.setdefault(_day(first), {})[_day(period)] = (int(active), money(revenue))
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
                start, offset = _next_bucket(start, interval), offset + 1
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

    return cached("cohorts", _cache_params(filters, interval=interval), compute)


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

    return cached("basket", _cache_params(filters, product=product, limit=limit), compute)


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

    return cached("rfm", _cache_params(filters), compute)


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
                "last_sale_day": _day(last),
                "recency_days": (filters.date_to - _day(last)).days,
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

    params = _cache_params(filters, segment=segment, page=page, page_size=page_size)
    return cached("rfm-customers", params, compute)


def analytics_customer_lifetime(*, customer: int) -> dict[str, Any]:
    """A customer's completed sales ever: first and last sale day, sales, revenue."""

    def compute() -> dict[str, Any]:
        row = q.customer_lifetime(customer)
        first, last, orders, revenue = row or (None, None, 0, ZERO)
        return {
            "customer_id": customer,
            "first_sale_day": _day(first) if first else None,
            "last_sale_day": _day(last) if last else None,
            "orders": int(orders),
            "revenue": money(revenue),
            "average_order_value": ratio(money(revenue), int(orders)),
        }

    return cached("customer-lifetime", {"customer": customer}, compute)
