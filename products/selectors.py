"""Reads for categories, products and the stock ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Model, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from products import sql
from products.models import Category, Product, StockMovement


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("category")


@dataclass(frozen=True)
class DataState:
    """What a catalog read's answer depends on in the database, for its ETag and Last-Modified
    (core/api/conditional.py): ``fingerprint`` changes with every committed write that can
    change the answer; ``last_modified`` is the newest ``updated_at`` among those rows."""

    fingerprint: tuple[Any, ...]
    last_modified: datetime | None


# Per table: row count, newest updated_at, and the sum of every row's updated_at (exact). Every
# write to a product or category sets updated_at (services, the import's upsert, the stock's
# raw UPDATE), so an update moves the sum even when its timestamp is older than the newest one:
# the timestamp is taken before the transaction commits, so a sale that commits after a later
# one does not move MAX(updated_at). A delete moves the count and the sum; a delete and an
# insert between two reads keep both only if the new row's timestamp equals the deleted row's
# to the microsecond. Both tables are small (products ~5k rows, 76 pages on sales_bench): one
# sequential scan, about 0.7 ms; an index on updated_at would not help the count or the sum, and
# would cost the stock UPDATE of every sale its HOT update.
def _tables_state(*models: type[Model]) -> DataState:
    """One query (products.sql.tables_state_row): the state of each table, newest timestamp."""
    row = sql.tables_state_row(*models)
    width = len(row) // len(models)
    read = [_as_datetime(row[i * width + 1]) for i in range(len(models))]
    newest = [value for value in read if value is not None]
    return DataState(fingerprint=row, last_modified=max(newest, default=None))


def _as_datetime(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # SQLite answers raw SQL with the stored text
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


def product_list_state() -> DataState:
    """The products list's state: products and categories (``category_name``). Any filter,
    ordering or page: the request's query string is part of the ETag."""
    return _tables_state(Product, Category)


def category_list_state() -> DataState:
    return _tables_state(Category)


MAX_ID = 2**63 - 1  # bigint


def _as_id(value: object) -> int | None:
    text = str(value)
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        return None
    return int(text)


def product_detail_state(*, product_id: object) -> DataState | None:
    """A product's state: its row and its category's (``category_name``); None if unknown."""
    pk = _as_id(product_id)
    if pk is None:
        return None
    row = (
        Product.objects.filter(pk=pk)
        .values_list("updated_at", "category_id", "category__updated_at")
        .first()
    )
    if row is None:
        return None
    newest = max(value for value in (row[0], row[2]) if value is not None)
    return DataState(fingerprint=(pk, *row), last_modified=newest)


def category_detail_state(*, category_id: object) -> DataState | None:
    pk = _as_id(category_id)
    if pk is None:
        return None
    updated_at = Category.objects.filter(pk=pk).values_list("updated_at", flat=True).first()
    if updated_at is None:
        return None
    return DataState(fingerprint=(pk, updated_at), last_modified=updated_at)


def stock_movement_list(*, product_id: int | None = None) -> QuerySet[StockMovement]:
    queryset = StockMovement.objects.select_related("product", "actor")
    if product_id is not None:
        queryset = queryset.filter(product_id=product_id)
    return queryset


def stock_ledger_balance(*, product_id: int) -> int:
    """What the ledger says the stock is: must always equal ``Product.stock_quantity``."""
    total = StockMovement.objects.filter(product_id=product_id).aggregate(total=Sum("delta"))
    return total["total"] or 0


def product_price_selection(
    *,
    product_ids: Sequence[int] | None = None,
    category_ids: Sequence[int] | None = None,
    skus: Sequence[str] | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
) -> QuerySet[Product]:
    """The products a price update applies to: every given criterion must hold."""
    queryset = Product.objects.all()
    if product_ids is not None:
        queryset = queryset.filter(pk__in=product_ids)
    if category_ids is not None:
        queryset = queryset.filter(category_id__in=category_ids)
    if skus is not None:
        queryset = queryset.filter(sku__in=skus)
    if price_min is not None:
        queryset = queryset.filter(price__gte=price_min)
    if price_max is not None:
        queryset = queryset.filter(price__lte=price_max)
    return queryset
