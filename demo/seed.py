"""Seeding the demo data: generate (:mod:`demo.generate`) and load (:mod:`demo.load`) in one
transaction.

The generated sales are streamed in chunks, so memory stays bounded whatever the size: a
separate thread generates the next chunk while the database writes the previous one.
Everything (the optional reset included) happens in one transaction: a failure leaves nothing
half-written. The stock ledger stays balanced: per product one ``restock`` movement (the opening
stock, reference ``seed_demo opening stock``) and one aggregated ``sale`` movement for the demo's
completed sales (reference ``seed_demo sales``) sum to ``Product.stock_quantity``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from analytics.services import rollups_rebuild
from customers.models import Customer
from demo.generate import DAY, CustomerSpec, DemoDataGenerator, ProductSpec, SaleSpec
from demo.load import Loader, as_datetime, cents_text, loader_for
from demo.options import DemoDataError, DemoOptions
from demo.tables import SEEDED_MODELS, existing_data_counts
from demo.vocabulary import CategoryTemplate
from products.models import Category, Product, StockMovement, StockMovementReason
from sales.models import Sale, SaleItem

OPENING_STOCK_REFERENCE = "seed_demo opening stock"
SALES_MOVEMENT_REFERENCE = "seed_demo sales"
SALES_PER_CHUNK = 20_000  # sales generated and written per COPY / executemany round
# Above this many sales, PostgreSQL checks the foreign keys of the two sales tables once, with
# one join per key at the end of the load, instead of once per row (see demo.load).
BULK_FOREIGN_KEY_THRESHOLD = 100_000


@dataclass
class SeedResult:
    customers: int = 0
    categories: int = 0
    products: int = 0
    sales: int = 0
    cancelled: int = 0
    without_customer: int = 0
    lines: int = 0
    movements: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    analyze_seconds: float = 0.0
    rollup_seconds: float = 0.0
    anchor: date | None = None
    start: date | None = None


@dataclass
class _SaleStats:
    sold: list[int]  # units of completed sales, per product index
    cancelled: int = 0
    without_customer: int = 0


def _produce_chunks(
    *,
    generator: DemoDataGenerator,
    loader: Loader,
    first_sale_id: int,
    first_item_id: int,
    customer_ids: list[int],
    product_ids: list[int],
    stats: _SaleStats,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Generate and format the sales chunk by chunk into ``out`` (run in its own thread, so
    that Python builds the next chunk while the database writes the previous one). Ends with
    ``None``, or with the exception that stopped it."""

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        sale_id, item_id = first_sale_id, first_item_id
        chunk: list[SaleSpec] = []
        sales = generator.sales()
        while True:
            sale = next(sales, None)
            if sale is not None:
                chunk.append(sale)
                _, customer, _, cancelled_at, _, lines = sale
                if customer is None:
                    stats.without_customer += 1
                if cancelled_at is None:
                    for product, quantity, *_ in lines:
                        stats.sold[product] += quantity
                else:
                    stats.cancelled += 1
            if chunk and (sale is None or len(chunk) >= SALES_PER_CHUNK):
                formatted = loader.format_chunk(chunk, sale_id, item_id, customer_ids, product_ids)
                sale_id += formatted.sale_count
                item_id += formatted.line_count
                chunk = []
                if not put(formatted):
                    return
            if sale is None:
                break
        put(None)
    except BaseException as exc:  # handed to the writing thread, which re-raises it
        put(exc)


def _insert_categories(
    loader: Loader, templates: list[CategoryTemplate], now: datetime
) -> list[int]:
    """Reuse categories that already exist by name (case-insensitively); create the others."""
    existing = {name.lower(): pk for pk, name in Category.objects.values_list("pk", "name")}
    missing = [t for t in templates if t.name.lower() not in existing]
    if missing:
        first = loader.first_id(Category)
        loader.insert(
            Category,
            ("id", "name", "description", "created_at", "updated_at"),
            [
                (first + i, t.name, f"Demo category: {t.name.lower()}.", now, now)
                for i, t in enumerate(missing)
            ],
        )
        loader.last_id_used(Category, first + len(missing) - 1)
        existing.update({t.name.lower(): first + i for i, t in enumerate(missing)})
    return [existing[t.name.lower()] for t in templates]


def _insert_customers(loader: Loader, customers: list[CustomerSpec]) -> list[int]:
    if not customers:
        return []
    first = loader.first_id(Customer)
    ids = list(range(first, first + len(customers)))
    loader.insert(
        Customer,
        ("id", "name", "email", "phone", "city", "country", "segment", "created_at", "updated_at"),
        [
            (pk, c.name, c.email, c.phone, c.city, c.country, c.segment, created, created)
            for pk, c in zip(ids, customers, strict=True)
            for created in [as_datetime(c.created_at)]
        ],
    )
    loader.last_id_used(Customer, ids[-1])
    return ids


def _insert_products(
    loader: Loader, products: list[ProductSpec], category_ids: list[int]
) -> list[int]:
    if not products:
        return []
    first = loader.first_id(Product)
    ids = list(range(first, first + len(products)))
    names = (
        "id", "sku", "name", "category", "price", "cost", "stock_quantity", "is_active",
        "created_at", "updated_at",
    )  # fmt: skip
    rows = []
    for pk, p in zip(ids, products, strict=True):
        created = as_datetime(p.created_at)
        price, cost = Decimal(cents_text(p.price_cents)), Decimal(cents_text(p.cost_cents))
        category = category_ids[p.category]
        rows.append(
            (pk, p.sku, p.name, category, price, cost, p.final_stock, True, created, created)
        )
    loader.insert(Product, names, rows)
    loader.last_id_used(Product, ids[-1])
    return ids


def _load_sales(
    *,
    loader: Loader,
    generator: DemoDataGenerator,
    customer_ids: list[int],
    product_ids: list[int],
    result: SeedResult,
    progress: Callable[[int], None] | None,
) -> list[int]:
    """Stream the sales and their lines into the database; returns the units sold (completed
    sales only) per product index."""
    stats = _SaleStats(sold=[0] * len(product_ids))
    if not generator.options.sales:
        return stats.sold
    first_sale_id = loader.first_id(Sale)
    first_item_id = loader.first_id(SaleItem)
    chunks: queue.Queue = queue.Queue(maxsize=2)  # memory stays bounded: ~3 chunks at most
    stop = threading.Event()
    producer = threading.Thread(
        target=_produce_chunks,
        name="seed_demo-generator",
        kwargs={
            "generator": generator,
            "loader": loader,
            "first_sale_id": first_sale_id,
            "first_item_id": first_item_id,
            "customer_ids": customer_ids,
            "product_ids": product_ids,
            "stats": stats,
            "out": chunks,
            "stop": stop,
        },
        daemon=True,
    )
    producer.start()
    try:
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            loader.write_chunk(chunk)
            result.sales += chunk.sale_count
            result.lines += chunk.line_count
            if progress is not None:
                progress(chunk.sale_count)
    finally:
        stop.set()
        producer.join()
    loader.last_id_used(Sale, first_sale_id + result.sales - 1)
    loader.last_id_used(SaleItem, first_item_id + result.lines - 1)
    result.cancelled = stats.cancelled
    result.without_customer = stats.without_customer
    return stats.sold


def _insert_ledger(
    loader: Loader,
    generator: DemoDataGenerator,
    products: list[ProductSpec],
    product_ids: list[int],
    sold: list[int],
) -> int:
    """Per product: the opening stock (a restock the day before the first sale) and the units
    of the demo's completed sales (at the end of the window); they sum to the final stock."""
    opening_at = as_datetime(generator.start_ts - DAY)
    closing_at = as_datetime(generator.anchor_ts - 1)
    rows = []
    for product_id, spec, quantity in zip(product_ids, products, sold, strict=True):
        opening = spec.final_stock + quantity
        if opening:
            rows.append(
                (product_id, opening, StockMovementReason.RESTOCK.value,
                 OPENING_STOCK_REFERENCE, opening_at)
            )  # fmt: skip
        if quantity:
            rows.append(
                (product_id, -quantity, StockMovementReason.SALE.value,
                 SALES_MOVEMENT_REFERENCE, closing_at)
            )  # fmt: skip
    if rows:
        first = loader.first_id(StockMovement)
        loader.insert(
            StockMovement,
            ("id", "product", "delta", "reason", "reference", "created_at"),
            [(first + i, *row) for i, row in enumerate(rows)],
        )
        loader.last_id_used(StockMovement, first + len(rows) - 1)
    return len(rows)


def seed_demo_data(
    *,
    options: DemoOptions,
    reset: bool = False,
    progress: Callable[[int], None] | None = None,
    bulk_foreign_keys: bool | None = None,
) -> SeedResult:
    """Generate and load the demo data in one transaction; see the module docstring.

    Without ``reset`` the demo's tables must hold no sales, customers or products
    (:class:`DemoDataError` otherwise). ``progress(n)`` is called each time ``n`` more sales
    are written. ``bulk_foreign_keys`` (PostgreSQL): check the sales tables' foreign keys once
    at the end rather than row by row; default: when there are at least
    ``BULK_FOREIGN_KEY_THRESHOLD`` sales.
    """
    problems = options.errors()
    if problems:
        raise DemoDataError(" ".join(problems))
    if bulk_foreign_keys is None:
        bulk_foreign_keys = options.sales >= BULK_FOREIGN_KEY_THRESHOLD
    started = time.perf_counter()
    generator = DemoDataGenerator(options)
    result = SeedResult(anchor=generator.anchor_day, start=generator.start_day)
    now = datetime.now(UTC)

    with transaction.atomic(), connection.cursor() as cursor:
        loader = loader_for(cursor)
        if reset:
            result.deleted = loader.reset()
        else:
            loader.lock_tables()
            existing = {name: n for name, n in existing_data_counts().items() if n}
            if existing:
                found = ", ".join(f"{n} {name}" for name, n in existing.items())
                raise DemoDataError(
                    f"The database already has data ({found}); "
                    "use --reset to replace it with demo data."
                )
        category_ids = _insert_categories(loader, generator.categories(), now)
        customer_ids = _insert_customers(loader, generator.customers())
        products = generator.products()
        product_ids = _insert_products(loader, products, category_ids)
        if bulk_foreign_keys:
            bulk_foreign_keys = loader.suspend_foreign_keys()
        sold = _load_sales(
            loader=loader,
            generator=generator,
            customer_ids=customer_ids,
            product_ids=product_ids,
            result=result,
            progress=progress,
        )
        if bulk_foreign_keys:
            loader.restore_foreign_keys()
        result.movements = _insert_ledger(loader, generator, products, product_ids, sold)
        result.categories = len(category_ids)
        result.customers = len(customer_ids)
        result.products = len(product_ids)

    result.seconds = time.perf_counter() - started
    analyze_started = time.perf_counter()
    with connection.cursor() as cursor:
        loader_for(cursor).analyze(SEEDED_MODELS)
    result.analyze_seconds = time.perf_counter() - analyze_started
    # The demo's sales bypass the sale services: rebuild the analytics rollups, all of them
    # (the demo's days are the whole history; a --reset also drops the old days' rows).
    result.rollup_seconds = rollups_rebuild().seconds
    return result
