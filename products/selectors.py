"""Reads for categories, products and the stock ledger."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db.models import QuerySet, Sum

from products.models import Category, Product, StockMovement


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def product_list() -> QuerySet[Product]:
    return Product.objects.select_related("category")


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
