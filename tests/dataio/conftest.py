from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from customers.models import Customer
from products.models import Category, Product
from products.services import category_create, product_create
from sales.models import Sale
from sales.services import sale_cancel
from tests.factories import make_customer, make_sale

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Dataset:
    categories: dict[str, Category] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    sales: dict[str, Sale] = field(default_factory=dict)


def build_dataset() -> Dataset:
    """Small but nasty: commas, quotes, newlines, non-ASCII, formula-looking cells, blank
    optional fields, defaults, a cancelled sale, a sale without customer, microseconds and
    non-UTC datetimes."""
    data = Dataset()
    for key, name, description in [
        ("tools", "Tools, hardware & more", 'The "best" tools'),
        ("formula", "=SUM(A1:A9)", "+33 is not a formula\nsecond line"),
        ("unicode", "Électroménager — 日本語", ""),
        ("minus", "-minus", "@mention"),
    ]:
        data.categories[key] = category_create(name=name, description=description)
    data.customers["alice"] = make_customer(
        name='Alice "Al" Martin, Jr.',
        email="Alice.Martin@Example.com",
        phone="+33 1 23 45 67 89",
        city="Saint-Étienne",
        country="FR",
        segment=Customer.Segment.CORPORATE,
    )
    data.customers["bob"] = make_customer(name="Bob\nTwo lines", email="bob@example.org")
    data.customers["zoe"] = make_customer(
        name="@Zoë Ørsted", email="zoe@example.net", city="=HYPERLINK(x)", country="DK"
    )
    data.products["hammer"] = product_create(
        sku="HAM-001",
        name='Hammer 16", steel',
        category=data.categories["tools"],
        price=Decimal("12.50"),
        cost=Decimal("7.25"),
        stock_quantity=100,
    )
    data.products["formula"] = product_create(
        sku="=CMD|' /C calc'!A0",
        name="-Negative looking name",
        category=data.categories["formula"],
        price=Decimal("0.99"),
        cost=Decimal("0.10"),
        stock_quantity=50,
    )
    data.products["nocat"] = product_create(
        sku="NOCAT-ß", name="No category, ünïcode", price=Decimal("1000000.00"), stock_quantity=5
    )
    data.products["inactive"] = product_create(
        sku="OLD-1",
        name="Old thing",
        category=data.categories["unicode"],
        price=Decimal("3.00"),
        is_active=False,
    )
    hammer, formula, nocat = (
        data.products["hammer"],
        data.products["formula"],
        data.products["nocat"],
    )
    data.sales["multi"] = make_sale(
        items=[(hammer, 3), (formula, 2), (nocat, 1)],
        customer=data.customers["alice"],
        reference="S-MULTI, 1",
        sold_at=datetime(2025, 3, 1, 23, 59, 59, 123456, tzinfo=TOKYO),
    )
    data.sales["anonymous"] = make_sale(
        items=[(hammer, 1)],
        reference="=ANON",
        sold_at=datetime(2025, 3, 2, 8, 0, tzinfo=NEW_YORK),
    )
    cancelled = make_sale(
        items=[(formula, 5), (hammer, 2)],
        customer=data.customers["bob"],
        reference="S-CANCELLED",
        sold_at=datetime(2025, 3, 3, 12, 30, 0, 1, tzinfo=NEW_YORK),
    )
    data.sales["cancelled"] = sale_cancel(sale=cancelled)
    data.sales["zoe"] = make_sale(
        items=[(nocat, 2)],
        customer=data.customers["zoe"],
        reference="S-ZOË-3",
        sold_at=datetime(2025, 3, 4, 0, 0, tzinfo=TOKYO),
    )
    return data


@pytest.fixture
def dataset(db) -> Dataset:
    return build_dataset()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def small(db) -> Dataset:
    """A few rows, for the many tests that only need something to refer to (and to stay
    untouched)."""
    data = Dataset()
    data.categories["tools"] = category_create(name="Tools")
    data.customers["bob"] = make_customer(name="Bob", email="bob@example.org")
    data.products["hammer"] = product_create(
        sku="HAM-001",
        name="Hammer",
        price=Decimal("12.50"),
        stock_quantity=10,
        category=data.categories["tools"],
    )
    data.products["nocat"] = product_create(
        sku="NOCAT-ß", name="No category", price=Decimal("2.00"), stock_quantity=10
    )
    data.products["formula"] = product_create(
        sku="=CMD|' /C calc'!A0", name="Formula", price=Decimal("1.00"), stock_quantity=10
    )
    data.sales["one"] = make_sale(items=[(data.products["hammer"], 1)], reference="S-ONE")
    return data
