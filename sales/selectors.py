"""Reads for sales: querysets with their joins and prefetches done here."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from sales.models import Sale, SaleItem


def sale_list(*, filters: dict | None = None) -> QuerySet[Sale]:
    """Sales with customer and items (with product sku/name) in a fixed number of queries."""
    from sales.filters import SaleFilter

    items = (
        SaleItem.objects.select_related("product")
        .only(
            "id",
            "sale_id",
            "product_id",
            "quantity",
            "unit_price",
            "line_total",
            "product__sku",
            "product__name",
        )
        .order_by("id")
    )
    queryset = Sale.objects.select_related("customer").prefetch_related(
        Prefetch("items", queryset=items)
    )
    if filters:
        queryset = SaleFilter(filters, queryset=queryset).qs
    return queryset


def sale_get(*, sale_id: int) -> Sale | None:
    return sale_list().filter(pk=sale_id).first()


def product_has_sales(*, product_id: int) -> bool:
    return SaleItem.objects.filter(product_id=product_id).exists()


def customer_has_sales(*, customer_id: int) -> bool:
    return Sale.objects.filter(customer_id=customer_id).exists()
