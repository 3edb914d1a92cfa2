"""Tests of the write services (sales, products, customers), including real concurrency.

Helpers shared by these tests live here: they read the database directly, so they prove what
was really written, not what a service returned.
"""

from __future__ import annotations

from products.models import Product, StockMovement
from products.selectors import stock_ledger_balance
from sales.services import SaleLine


def lines(*pairs) -> list[SaleLine]:
    """``lines((product, 2), (other, 1))`` -> the ``SaleLine`` list a service takes."""
    return [SaleLine(product_id=product.pk, quantity=quantity) for product, quantity in pairs]


def stock_of(product: Product) -> int:
    """The stock in the database now (never the possibly stale instance attribute)."""
    return Product.objects.values_list("stock_quantity", flat=True).get(pk=product.pk)


def movements(*, reference: str | None = None, reason: str | None = None) -> list[tuple]:
    """``[(product_id, delta, reason), ...]`` sorted, optionally for one reference/reason."""
    queryset = StockMovement.objects.all()
    if reference is not None:
        queryset = queryset.filter(reference=reference)
    if reason is not None:
        queryset = queryset.filter(reason=reason)
    return sorted(queryset.values_list("product_id", "delta", "reason"))


def assert_ledger_balanced() -> None:
    """For every product the ledger sums to the stock, and no stock is negative."""
    for product_id, stock in Product.objects.values_list("pk", "stock_quantity"):
        assert stock >= 0, f"product {product_id} has negative stock {stock}"
        balance = stock_ledger_balance(product_id=product_id)
        assert balance == stock, f"product {product_id}: ledger says {balance}, stock is {stock}"
