"""Reads for sales: querysets with their joins and prefetches done here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Prefetch, QuerySet

from sales import sql
from sales.models import Sale, SaleItem


def sale_list(*, filters: Mapping[str, Any] | None = None) -> QuerySet[Sale]:
    """Sales with customer and items (with product sku/name) in a fixed number of queries.

    The items land in each sale's ``item_list`` (a list, ``Prefetch(to_attr=...)``), which is
    what SaleOutputSerializer renders; ``services.sale_create`` sets the same attribute."""
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
        Prefetch("items", queryset=items, to_attr="item_list")
    )
    if filters:
        filtered: QuerySet[Sale] = SaleFilter(filters, queryset=queryset).qs
        return filtered
    return queryset


# What the sale JSON shows, as plain values (no model instances): the list and detail answers
# read these (sales/serializers.py: sale_representations).
SALE_VALUES = (
    "id",
    "reference",
    "customer_id",
    "customer__name",
    "sold_at",
    "status",
    "total",
    "cancelled_at",
    "created_at",
    "updated_at",
)


def sale_values(queryset: QuerySet[Sale]) -> QuerySet[Sale, dict[str, Any]]:
    """The sales of ``queryset`` (filtered and ordered as it is) as dicts of ``SALE_VALUES``:
    one query with the customer joined, no model instances."""
    values: QuerySet[Sale, dict[str, Any]] = queryset.prefetch_related(None).values(*SALE_VALUES)
    return values


def sale_item_values(*, sale_ids: Iterable[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The lines of these sales as tuples ``(sale_id, product_id, sku, name, quantity,
    unit_price, line_total)``, by sale id, each sale's in line order: one query
    (sales.sql.sale_item_rows, written out: it pays)."""
    ids = list(sale_ids)
    by_sale: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if not ids:
        return by_sale
    for row in sql.sale_item_rows(ids):
        by_sale[row[0]].append(row)
    return by_sale


def sale_get(*, sale_id: int) -> Sale | None:
    return sale_list().filter(pk=sale_id).first()
