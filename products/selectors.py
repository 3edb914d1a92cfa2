"""Reads for categories, products and the stock ledger."""

from __future__ import annotations

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
