"""An analytics question's period and filters, and the value helpers every selector
shares (money, ratios, per-bucket dates, cache parameters)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics import sql as q
from analytics.models import RollupProductCategory
from core.money import CENT as CENT  # re-exported: the analytics selectors round with it
from core.money import to_cents
from core.ops import replicas
from customers.models import Customer
from products.models import Category

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
    """A sum from the database as Decimal with 2 places (SQLite hands back floats); no sum
    (``None``) is zero."""
    cents = to_cents(value)
    return ZERO if cents is None else cents


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


def as_day(value: Any) -> date:
    """A day from the database: a ``date``, or its ISO text (SQLite)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def cache_params(filters: AnalyticsFilters, **extra: Any) -> dict[str, Any]:
    """The parameters an answer is cached under: the period, the filters and ``extra``."""
    return {**filters.period(), **filters.filter_values(), **extra}


def bucket_start(day: date, interval: str) -> date:
    """The first day of ``day``'s bucket (day, ISO week or calendar month)."""
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks, from Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def next_bucket(start: date, interval: str) -> date:
    """The first day of the bucket after the one starting on ``start``."""
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start + timedelta(days=32)).replace(day=1)
    return start + timedelta(days=1)
