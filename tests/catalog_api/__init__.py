"""Tests of the catalog-compatible endpoints (``/api/products/{id}/purchase/`` and
``/restock/`` with ``Authorization: Api-Key``), idempotent ``POST /api/sales/`` and concurrency
through the whole DRF stack.

Helpers shared by these tests live here. They read the database directly, so they prove what
was really written, not what a response claimed.
"""

from __future__ import annotations

from typing import Any

from products.models import Product, StockMovement
from products.selectors import stock_ledger_balance


def purchase_url(product_id: int) -> str:
    return f"/api/products/{product_id}/purchase/"


def restock_url(product_id: int) -> str:
    return f"/api/products/{product_id}/restock/"


def key_header(full_key: str) -> dict[str, str]:
    """The ``Authorization: Api-Key <key>`` header, as test-client keyword arguments."""
    return {"HTTP_AUTHORIZATION": f"Api-Key {full_key}"}


def sale_body(*pairs, **fields) -> dict[str, Any]:
    """``sale_body((product, 2), (other, 1))`` -> a ``POST /api/sales/`` body."""
    return {
        "customer": None,
        **fields,
        "items": [{"product": product.pk, "quantity": quantity} for product, quantity in pairs],
    }


def stock_of(product: Product) -> int:
    """The stock in the database now (never the possibly stale instance attribute)."""
    return Product.objects.values_list("stock_quantity", flat=True).get(pk=product.pk)


def movements(product: Product, *, reason: str | None = None) -> list[tuple[int, str, str]]:
    """``[(delta, reason, reference), ...]`` of one product, oldest first."""
    queryset = StockMovement.objects.filter(product=product)
    if reason is not None:
        queryset = queryset.filter(reason=reason)
    return list(queryset.order_by("id").values_list("delta", "reason", "reference"))


def assert_ledger_balanced() -> None:
    """For every product the ledger sums to the stock, and no stock is negative."""
    for product_id, stock in Product.objects.values_list("pk", "stock_quantity"):
        assert stock >= 0, f"product {product_id} has negative stock {stock}"
        balance = stock_ledger_balance(product_id=product_id)
        assert balance == stock, f"product {product_id}: ledger says {balance}, stock is {stock}"


def exceptions_in(results: list[Any]) -> list[BaseException]:
    return [result for result in results if isinstance(result, BaseException)]
