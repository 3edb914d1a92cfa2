"""``python manage.py seed_demo``: deterministic, realistic demo data that keeps every invariant."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count, F, Sum
from django_countries import countries

from customers.models import Customer, CustomerSegment
from demo import load, tables
from demo import seed as demo_seed
from demo.generate import DemoDataGenerator
from demo.options import DemoOptions
from demo.seed import seed_demo_data
from products.models import Category, Product, StockMovement, StockMovementReason
from sales.models import Sale, SaleItem, SaleStatus
from tests.factories import make_product, make_sale

pytestmark = pytest.mark.django_db

ANCHOR = date(2025, 6, 15)
SMALL = {"customers": 50, "products": 20, "categories": 6, "sales": 500, "anchor_date": ANCHOR}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO(), no_progress=True, **options)
    return out.getvalue()


def digest() -> str:
    """A fingerprint of everything seeded, by natural keys (ids are not part of it)."""
    parts = [
        list(
            Customer.objects.order_by("email").values_list(
                "email", "name", "phone", "city", "country", "segment", "created_at"
            )
        ),
        list(Category.objects.order_by("name").values_list("name")),
        list(
            Product.objects.order_by("sku").values_list(
                "sku", "name", "category__name", "price", "cost", "stock_quantity"
            )
        ),
        list(
            Sale.objects.order_by("reference").values_list(
                "reference", "customer__email", "sold_at", "status", "total", "cancelled_at"
            )
        ),
        list(
            SaleItem.objects.order_by("sale__reference", "product__sku").values_list(
                "sale__reference",
                "product__sku",
                "quantity",
                "unit_price",
                "unit_cost",
                "line_total",
            )
        ),
        list(
            StockMovement.objects.order_by("product__sku", "reason").values_list(
                "product__sku", "delta", "reason", "reference"
            )
        ),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def assert_invariants(*, sales: int, customers: int, products: int, days: int = 730) -> None:
    assert Sale.objects.count() == sales
    assert Customer.objects.count() == customers
    assert Product.objects.count() == products

    # Every sale total is the sum of its lines; every line is price x quantity, snapshotted.
    # (Summed in Python: SQLite keeps decimals as floats, so SQL sums can be off by 1e-15.)
    sums: dict[int, Decimal] = {}
    for sale_id, quantity, price, line_total in SaleItem.objects.values_list(
        "sale", "quantity", "unit_price", "line_total"
    ):
        assert line_total == price * quantity
        sums[sale_id] = sums.get(sale_id, Decimal(0)) + line_total
    totals = dict(Sale.objects.values_list("pk", "total"))
    assert totals == sums
    assert not SaleItem.objects.exclude(unit_price=F("product__price")).exists()
    assert not SaleItem.objects.exclude(unit_cost=F("product__cost")).exists()
    lines_per_sale = Sale.objects.annotate(n=Count("items")).values_list("n", flat=True)
    assert set(lines_per_sale) <= {1, 2, 3, 4, 5}
    assert 2.0 <= SaleItem.objects.count() / sales <= 3.1

    # The ledger sums to the stock, which is never negative.
    ledger = dict(
        StockMovement.objects.values("product").annotate(s=Sum("delta")).values_list("product", "s")
    )
    for product_id, stock in Product.objects.values_list("pk", "stock_quantity"):
        assert stock >= 0
        assert ledger.get(product_id, 0) == stock
    assert set(StockMovement.objects.values_list("reason", flat=True)) <= {
        StockMovementReason.RESTOCK,
        StockMovementReason.SALE,
    }
    # The sale movements are exactly the units of the completed sales.
    completed_units = SaleItem.objects.filter(sale__status=SaleStatus.COMPLETED).aggregate(
        s=Sum("quantity")
    )["s"]
    sold = StockMovement.objects.filter(reason=StockMovementReason.SALE).aggregate(s=Sum("delta"))
    assert -sold["s"] == completed_units

    # Cancelled sales carry cancelled_at; some sales have no customer; times in the window.
    cancelled = Sale.objects.filter(status=SaleStatus.CANCELLED)
    if sales >= 500:  # ~3% cancelled, ~8% without customer; small samples vary too much
        assert 0 < cancelled.count() < sales * 0.08
        assert 0 < Sale.objects.filter(customer__isnull=True).count() < sales * 0.16
    assert not cancelled.filter(cancelled_at__isnull=True).exists()
    assert not cancelled.filter(cancelled_at__lt=F("sold_at")).exists()
    assert not Sale.objects.filter(status=SaleStatus.COMPLETED, cancelled_at__isnull=False).exists()
    start = datetime(*ANCHOR.timetuple()[:3], tzinfo=UTC) - timedelta(days=days)
    end = datetime(*ANCHOR.timetuple()[:3], tzinfo=UTC)
    assert not Sale.objects.exclude(sold_at__gte=start, sold_at__lt=end).exists()
    for sold_at in Sale.objects.values_list("sold_at", flat=True):
        assert 8 <= sold_at.astimezone(UTC).hour < 20

    # Realistic catalogue and customers.
    for price, cost in Product.objects.values_list("price", "cost"):
        assert price.as_tuple().exponent == -2
        assert Decimal("0") < cost < price
        assert Decimal("0.19") <= 1 - cost / price <= Decimal("0.61")
    emails = [e.lower() for e in Customer.objects.values_list("email", flat=True)]
    assert len(set(emails)) == len(emails)
    assert all("@" in e and " " not in e for e in emails)
    codes = set(Customer.objects.values_list("country", flat=True))
    assert codes <= {code for code, _ in countries}
    assert set(Customer.objects.values_list("segment", flat=True)) <= set(CustomerSegment.values)
    assert Product.objects.values("sku").distinct().count() == products


@pytest.mark.embedded
def test_same_seed_gives_the_same_data_and_every_invariant_holds():
    output = seed(**SMALL)
    assert "500 sales" in output
    assert_invariants(sales=500, customers=50, products=20)
    first = digest()

    seed(**SMALL, reset=True)

    assert digest() == first
    assert_invariants(sales=500, customers=50, products=20)


def test_a_different_seed_gives_different_data():
    seed(**SMALL)
    first = digest()

    seed(**SMALL, reset=True, seed=7)

    assert digest() != first
    assert_invariants(sales=500, customers=50, products=20)


def test_sizes_follow_the_options():
    seed(customers=10, products=3, categories=2, sales=40, days=30, anchor_date=ANCHOR)

    assert_invariants(sales=40, customers=10, products=3, days=30)
    assert Category.objects.count() == 2
    assert Sale.objects.filter(reference__regex=r"^D-\d{8}-\d{5}$").count() == 40


def test_sales_without_customers_and_catalogue_only():
    seed(customers=0, products=5, categories=1, sales=30, anchor_date=ANCHOR)
    assert Sale.objects.filter(customer__isnull=True).count() == 30

    seed(customers=5, products=5, categories=2, sales=0, anchor_date=ANCHOR, reset=True)
    assert (Sale.objects.count(), Customer.objects.count(), Product.objects.count()) == (0, 5, 5)
    # No sales: the ledger holds only the opening stock, equal to the stock.
    for product in Product.objects.all():
        deltas = list(StockMovement.objects.filter(product=product).values_list("delta", flat=True))
        assert sum(deltas) == product.stock_quantity


def test_refuses_without_reset_when_sales_exist():
    make_sale(items=[(make_product(stock=10), 1)])

    with pytest.raises(CommandError, match="--reset"):
        seed(**SMALL)

    assert Sale.objects.count() == 1


def test_if_empty_does_nothing_when_there_are_sales():
    make_sale(items=[(make_product(stock=10), 1)])

    output = seed(**SMALL, if_empty=True)

    assert "nothing seeded" in output
    assert (Sale.objects.count(), Product.objects.count(), Customer.objects.count()) == (1, 1, 0)


def test_if_empty_seeds_an_empty_database():
    seed(**SMALL, if_empty=True)

    assert Sale.objects.count() == 500


def test_reset_replaces_existing_data():
    own = make_product(sku="OWN-1", stock=10)
    make_sale(items=[(own, 2)], reference="MINE-1")

    output = seed(**SMALL, reset=True)

    assert "Deleted" in output
    assert not Sale.objects.filter(reference="MINE-1").exists()
    assert not Product.objects.filter(sku="OWN-1").exists()
    assert_invariants(sales=500, customers=50, products=20)


def test_existing_categories_are_reused():
    Category.objects.create(name="electronics")

    seed(**SMALL)

    assert Category.objects.count() == 6
    assert Category.objects.filter(name="electronics").count() == 1
    assert Product.objects.filter(category__name="electronics").exists()


def test_with_users_creates_the_four_logins_idempotently():
    User = get_user_model()
    output = seed(customers=0, products=0, sales=0, with_users=True)
    for username in ("admin", "analyst", "sales", "manager"):
        assert f"{username} / {username}" in output

    admin = User.objects.get(username="admin")
    admin.set_password("changed")
    admin.save()
    seed(customers=0, products=0, sales=0, with_users=True, reset=True)

    admin.refresh_from_db()
    assert admin.is_superuser and admin.is_staff and admin.check_password("admin")
    for role in ("analyst", "sales", "manager"):
        user = User.objects.get(username=role)
        assert user.is_staff and not user.is_superuser
        assert user.check_password(role)
        assert list(user.groups.values_list("name", flat=True)) == [role]
    assert User.objects.filter(username__in=["admin", "analyst", "sales", "manager"]).count() == 4


def test_reset_also_empties_every_table_that_references_the_seeded_ones():
    seeded = set(tables.SEEDED_MODELS)
    referencing = {
        model
        for model in apps.get_models(include_auto_created=True)
        if model not in seeded
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model in seeded
    }

    dependents = tables.dependent_models()

    assert referencing <= set(dependents)
    assert not seeded & set(dependents)


@pytest.mark.parametrize(
    ("options", "option_named"),
    [
        ({"sales": -1}, "--sales"),
        ({"customers": -5}, "--customers"),
        ({"products": 0, "sales": 10}, "--products"),
        ({"categories": 0, "products": 5}, "--categories"),
        ({"categories": 99}, "--categories"),
        ({"days": 0}, "--days"),
        ({"seed": -1}, "--seed"),
        ({"anchor_date": "yesterday"}, "--anchor-date"),
        ({"anchor_date": date.today() + timedelta(days=2)}, "--anchor-date"),
        ({"reset": True, "if_empty": True}, "--if-empty"),
    ],
)
def test_bad_option_values_are_refused_naming_the_option(options, option_named):
    with pytest.raises(CommandError, match=option_named):
        seed(**options)
    assert Sale.objects.count() == 0


def test_bad_values_from_the_command_line():
    with pytest.raises(CommandError, match="--sales"):
        call_command("seed_demo", "--sales", "-3", "--no-progress", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("seed_demo", "--sales", "many", stdout=StringIO())


def test_a_failure_leaves_nothing_half_written(monkeypatch):
    monkeypatch.setattr(demo_seed, "SALES_PER_CHUNK", 100)
    loader_class = load.PostgresLoader if connection.vendor == "postgresql" else load.GenericLoader
    written = []
    original = loader_class.write_chunk

    def failing_write(self, chunk):
        if written:
            raise RuntimeError("disk full")
        written.append(chunk.sale_count)
        original(self, chunk)

    monkeypatch.setattr(loader_class, "write_chunk", failing_write)

    with pytest.raises(RuntimeError, match="disk full"):
        seed_demo_data(options=DemoOptions(**_generator_options(SMALL)))

    assert written == [100]
    counts = (Sale.objects.count(), SaleItem.objects.count(), Customer.objects.count())
    assert counts == (0, 0, 0)
    assert (Product.objects.count(), StockMovement.objects.count()) == (0, 0)


def test_progress_reports_every_sale():
    reported = []

    seed_demo_data(options=DemoOptions(**_generator_options(SMALL)), progress=reported.append)

    assert sum(reported) == 500


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL bulk path")
def test_bulk_foreign_key_path_restores_the_constraints_identically():
    def foreign_keys():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'f' "
                "AND conrelid IN ('sales_sale'::regclass, 'sales_saleitem'::regclass) ORDER BY 2"
            )
            return cursor.fetchall()

    before = foreign_keys()
    assert len(before) >= 4

    seed_demo_data(options=DemoOptions(**_generator_options(SMALL)), bulk_foreign_keys=True)

    assert foreign_keys() == before
    assert_invariants(sales=500, customers=50, products=20)
    fast = digest()
    seed_demo_data(
        options=DemoOptions(**_generator_options(SMALL)), reset=True, bulk_foreign_keys=False
    )
    assert digest() == fast


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL bulk path")
def test_bulk_path_falls_back_to_row_checks_when_constraints_cannot_be_dropped(monkeypatch):
    """E.g. a database user that does not own the tables: the load still works, row by row."""

    class RefusingCursor:
        def __init__(self, cursor):
            self._cursor = cursor

        def execute(self, sql, params=None):
            if "DROP CONSTRAINT" in sql:
                sql, params = "SELECT 1 / 0", None  # a real database error, like a refusal
            return self._cursor.execute(sql, params)

        def __getattr__(self, name):
            return getattr(self._cursor, name)

    original_init = load.PostgresLoader.__init__
    monkeypatch.setattr(
        load.PostgresLoader,
        "__init__",
        lambda self, cursor: original_init(self, RefusingCursor(cursor)),
    )

    suspended = []
    original_suspend = load.PostgresLoader.suspend_foreign_keys
    monkeypatch.setattr(
        load.PostgresLoader,
        "suspend_foreign_keys",
        lambda self: suspended.append(original_suspend(self)) or suspended[-1],
    )

    result = seed_demo_data(
        options=DemoOptions(**_generator_options(SMALL)), bulk_foreign_keys=True
    )

    assert suspended == [False]
    assert result.sales == 500
    assert_invariants(sales=500, customers=50, products=20)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid IN ('sales_sale'::regclass, 'sales_saleitem'::regclass)"
        )
        assert cursor.fetchone()[0] >= 4


# --- The generator alone (no database) -----------------------------------------------------------


def _generator_options(options: dict) -> dict:
    options = dict(options)
    options["anchor"] = options.pop("anchor_date")
    return options


def test_generator_is_deterministic_and_streams_in_time_order():
    options = DemoOptions(**_generator_options(SMALL))
    first = list(DemoDataGenerator(options).sales())
    again = list(DemoDataGenerator(options).sales())

    assert first == again
    assert len(first) == 500
    assert [s[2] for s in first] == sorted(s[2] for s in first)
    assert len({s[0] for s in first}) == 500
    for _, _, _, _, total, lines in first:
        products = [line[0] for line in lines]
        assert len(products) == len(set(products))
        assert total == sum(line[4] for line in lines)


def test_changing_the_number_of_sales_keeps_customers_and_products():
    small = DemoDataGenerator(DemoOptions(**_generator_options(SMALL)))
    big = DemoDataGenerator(DemoOptions(**{**_generator_options(SMALL), "sales": 5000}))

    assert small.customers() == big.customers()
    assert small.products() == big.products()


def test_seasonality_weekends_and_growth():
    options = DemoOptions(sales=200_000, anchor=date(2025, 1, 1), days=730)
    generator = DemoDataGenerator(options)
    counts = generator.day_counts()
    assert sum(counts) == 200_000

    by_month: dict[int, list[int]] = {}
    by_weekday: dict[int, list[int]] = {}
    for index, count in enumerate(counts):
        day = generator.start_day + timedelta(days=index)
        by_month.setdefault(day.month, []).append(count)
        by_weekday.setdefault(day.weekday(), []).append(count)

    def mean(values):
        return sum(values) / len(values)

    assert mean(by_month[12]) > 1.5 * mean(by_month[8])  # December peak, summer dip
    assert mean(by_weekday[5]) > 1.2 * mean(by_weekday[0])  # Saturday beats Monday
    assert mean(by_weekday[6]) < mean(by_weekday[0])  # quiet Sunday
    assert sum(counts[-365:]) > 1.1 * sum(counts[:365])  # slow growth
