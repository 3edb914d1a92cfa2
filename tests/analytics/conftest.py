"""A small but varied sales history, and an oracle computing every analytics figure from the
sales tables with plain SQL, independently of the code under test."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from analytics.services import rollups_apply_sales
from customers.models import CustomerSegment
from sales.models import Sale, SaleItem, SaleStatus
from sales.services import SaleLine, sale_cancel, sale_delete, sale_update
from tests.factories import make_category, make_customer, make_product, make_sale

TIME_ZONE = "America/New_York"  # local days differ from UTC days in the evening
FIRST_DAY = date(2025, 3, 1)
CENT = Decimal("0.01")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """An aware datetime at a local time of ``day`` in the test time zone."""
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def q2(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Dataset:
    categories: list = field(default_factory=list)
    products: list = field(default_factory=list)
    customers: list = field(default_factory=list)
    sales: list = field(default_factory=list)
    first_day: date = FIRST_DAY
    last_day: date = FIRST_DAY


@pytest.fixture
def local_time_zone(settings):
    settings.TIME_ZONE = TIME_ZONE
    return TIME_ZONE


def build_dataset(*, size: int = 60) -> Dataset:
    """Sales over ~40 days through the real services: multi-line sales, sales without
    customer, late-evening sales (another UTC day), cancellations, edits (lines, customer,
    day), deletes, and an "import" written in bulk and applied with ``rollups_apply_sales``."""
    data = Dataset()
    data.categories = [make_category(name=f"Cat {n}") for n in range(3)]
    prices = [
        ("19.99", "7.50"),
        ("5.00", "1.25"),
        ("120.00", "80.00"),
        ("3.33", "0.99"),
        ("49.90", "30.10"),
        ("0.99", "0.10"),
        ("250.00", "300.00"),
    ]
    for index, (price, cost) in enumerate(prices):
        category = data.categories[index % 3] if index != 5 else None  # one without category
        data.products.append(make_product(price=price, cost=cost, stock=100_000, category=category))
    for country, segment in [
        ("FR", CustomerSegment.CONSUMER),
        ("FR", CustomerSegment.CORPORATE),
        ("DE", CustomerSegment.CONSUMER),
        ("US", CustomerSegment.PUBLIC_SECTOR),
        ("", CustomerSegment.SMALL_BUSINESS),
    ]:
        data.customers.append(make_customer(country=country, segment=segment))

    products, customers = data.products, data.customers
    for n in range(size):
        day = FIRST_DAY + timedelta(days=(n * 7) % 40)
        hour = (9, 13, 20, 22, 23)[n % 5]  # 20:00+ in New York is the next UTC day
        lines = [(products[(n + k * 3) % len(products)], 1 + (n + k) % 4) for k in range(1 + n % 3)]
        lines = list({p.pk: (p, qty) for p, qty in lines}.values())
        customer = None if n % 6 == 0 else customers[n % len(customers)]
        data.sales.append(make_sale(items=lines, customer=customer, sold_at=at(day, hour, n % 60)))

    sales = data.sales
    for sale in sales[3::9]:
        sale_cancel(sale=sale)
    sale_update(sale=sales[4], lines=[SaleLine(products[0].pk, 5), SaleLine(products[6].pk, 1)])
    sale_update(sale=sales[5], customer_id=customers[2].pk)
    sale_update(sale=sales[7], sold_at=at(FIRST_DAY + timedelta(days=38), 21))
    sale_update(sale=sales[8], customer_id=None, sold_at=at(FIRST_DAY, 8))
    sale_delete(sale=sales[10])
    sale_delete(sale=sales[12])  # cancelled first (12 = 3 + 9)
    data.sales = [s for s in sales if s.pk not in (sales[10].pk, sales[12].pk)]

    imported = import_sales(data, count=25)
    reimport_sales(data, imported[:10])

    days = [timezone.localdate(s.sold_at) for s in Sale.objects.all()]
    data.first_day, data.last_day = min(days), max(days)
    return data


def import_sales(data: Dataset, *, count: int) -> list[int]:
    """Like the sales import: rows written in bulk (no services), then one
    ``rollups_apply_sales(+1)`` for all of them."""
    sales = Sale.objects.bulk_create(
        Sale(
            reference=f"IMP-{n:04d}",
            customer=data.customers[n % len(data.customers)] if n % 4 else None,
            sold_at=at(FIRST_DAY + timedelta(days=n % 35), 10 + n % 14),
            status=SaleStatus.CANCELLED if n % 7 == 0 else SaleStatus.COMPLETED,
            cancelled_at=timezone.now() if n % 7 == 0 else None,
            total=0,
        )
        for n in range(count)
    )
    items = []
    for n, sale in enumerate(sales):
        for k in range(1 + n % 3):
            product = data.products[(n * 2 + k) % len(data.products)]
            quantity = 1 + (n * k) % 5
            price = product.price - Decimal("0.50") if product.price > 1 else product.price
            items.append(
                SaleItem(
                    sale=sale,
                    product=product,
                    quantity=quantity,
                    unit_price=price,
                    unit_cost=product.cost,
                    line_total=price * quantity,
                )
            )
    SaleItem.objects.bulk_create(items)
    for sale in sales:
        sale.total = sum(i.line_total for i in items if i.sale_id == sale.pk)
    Sale.objects.bulk_update(sales, ["total"])
    ids = [sale.pk for sale in sales]
    rollups_apply_sales(sale_ids=ids, sign=1)
    return ids


def reimport_sales(data: Dataset, ids: list[int]) -> None:
    """An import updating existing sales: -1 for the old rows, change them, +1."""
    rollups_apply_sales(sale_ids=ids, sign=-1)
    for n, sale in enumerate(Sale.objects.filter(pk__in=ids).order_by("pk")):
        if n % 3 == 0:
            sale.sold_at += timedelta(days=2, hours=5)
        if n % 3 == 1 and sale.status == SaleStatus.COMPLETED:
            sale.status, sale.cancelled_at = SaleStatus.CANCELLED, timezone.now()
        sale.customer = data.customers[(n + 1) % len(data.customers)]
        sale.save()
        SaleItem.objects.filter(sale=sale).update(quantity=7, line_total=F("unit_price") * 7)
    rollups_apply_sales(sale_ids=ids, sign=1)


@pytest.fixture
def dataset(db, local_time_zone) -> Dataset:
    return build_dataset()


# --- The oracle ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    sale_id: int
    day: date
    customer_id: int | None
    product_id: int
    category_id: int | None
    country: str | None
    segment: str | None
    revenue: Decimal
    cost: Decimal
    units: int


def _aware(value) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)  # SQLite: naive UTC text


def lines() -> list[Line]:
    """Every line of a completed sale, by plain SQL over the sales tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.sold_at, s.customer_id, i.product_id, p.category_id, c.country, "
            "c.segment, i.line_total, i.unit_cost, i.quantity "
            "FROM sales_sale s JOIN sales_saleitem i ON i.sale_id = s.id "
            "JOIN products_product p ON p.id = i.product_id "
            "LEFT JOIN customers_customer c ON c.id = s.customer_id "
            "WHERE s.status = 'completed'"
        )
        rows = cursor.fetchall()
    result = []
    for row in rows:
        sale_id, sold_at, customer_id, product_id, category_id, country, segment = row[:7]
        line_total, unit_cost, quantity = row[7:]
        result.append(
            Line(
                sale_id=sale_id,
                day=timezone.localtime(_aware(sold_at)).date(),
                customer_id=customer_id,
                product_id=product_id,
                category_id=category_id,
                country=country,
                segment=segment,
                revenue=Decimal(str(line_total)),
                cost=Decimal(str(unit_cost)) * quantity,
                units=quantity,
            )
        )
    return result


def select(all_lines, date_from, date_to, **filters) -> list[Line]:
    chosen = []
    for line in all_lines:
        if not date_from <= line.day <= date_to:
            continue
        if filters.get("product") and line.product_id != filters["product"]:
            continue
        if filters.get("category") and line.category_id != filters["category"]:
            continue
        if filters.get("customer") and line.customer_id != filters["customer"]:
            continue
        if filters.get("country") and line.country != filters["country"]:
            continue
        if filters.get("segment") and line.segment != filters["segment"]:
            continue
        chosen.append(line)
    return chosen


def figures(chosen: list[Line]) -> dict:
    revenue = sum((line.revenue for line in chosen), Decimal("0"))
    cost = sum((line.cost for line in chosen), Decimal("0"))
    orders = len({line.sale_id for line in chosen})
    margin = revenue - cost
    return {
        "revenue": str(q2(revenue)),
        "cost": str(q2(cost)),
        "margin": str(q2(margin)),
        "margin_pct": str(q2(margin * 100 / revenue)) if revenue else None,
        "orders": orders,
        "units": sum(line.units for line in chosen),
        "average_order_value": str(q2(revenue / orders)) if orders else None,
    }


def group(chosen: list[Line], key) -> dict:
    groups = defaultdict(list)
    for line in chosen:
        groups[key(line)].append(line)
    return groups
