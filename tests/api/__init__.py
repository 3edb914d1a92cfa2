"""API tests: every endpoint through HTTP, against the real database (no mocks).

Shared helpers live here so the test modules stay focused.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Sum

from products.models import Product, StockMovement


def assert_error(response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert the one error shape ``{"error": {"code", "message", "fields"}}`` and the status;
    return the inner ``error`` object."""
    assert response.status_code == status, (response.status_code, getattr(response, "data", None))
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    # Only a product GET adds the catalog contract's "detail", equal to the message.
    assert set(body) == {"error"} or (
        set(body) == {"error", "detail"} and body["detail"] == body["error"]["message"]
    ), body
    error = body["error"]
    assert {"code", "message", "fields"} <= set(error), error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error


def stock_of(product: Product) -> int:
    return Product.objects.values_list("stock_quantity", flat=True).get(pk=product.pk)


def ledger_sum(product: Product) -> int:
    total = StockMovement.objects.filter(product=product).aggregate(total=Sum("delta"))["total"]
    return total or 0


def assert_ledger_matches_stock(*products: Product) -> None:
    for product in products:
        assert ledger_sum(product) == stock_of(product), product.sku


def ids(response) -> list[int]:
    """The ids of a list response's results (paginated or not)."""
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return [row["id"] for row in rows]
