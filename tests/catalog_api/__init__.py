"""Tests of the catalog-compatible endpoints (``/api/products/{id}/purchase/`` and
``/restock/`` with ``Authorization: Api-Key``), idempotent ``POST /api/sales/`` and concurrency
through the whole DRF stack.

Helpers shared by these tests live here. They read the database directly, so they prove what
was really written, not what a response claimed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connection

from products.models import Product, StockMovement
from products.selectors import stock_ledger_balance

THREAD_TIMEOUT = 20  # seconds; a hung thread fails the test instead of hanging the suite


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


def _connect_with_retry(attempts: int = 20) -> None:
    """Open this thread's connection; the PostgreSQL server is shared with other test runs, so
    a momentary "too many clients" is waited out rather than failing the test."""
    for attempt in range(attempts):
        try:
            connection.ensure_connection()
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(index)`` in ``count`` threads released together by a barrier. Each thread has
    its own database connection (opened before the barrier, so the race is on the rows, and
    closed at the end). Returns each thread's result, or the exception it raised, by index."""
    barrier = threading.Barrier(count, timeout=THREAD_TIMEOUT)
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        try:
            _connect_with_retry()
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # handed back to the test, which inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (lock wait?)"
    return results


def exceptions_in(results: list[Any]) -> list[BaseException]:
    return [result for result in results if isinstance(result, BaseException)]
