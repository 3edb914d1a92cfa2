"""The catalog contract's writes: ``purchase`` and ``restock`` by API key, and their
``Idempotency-Key`` (our extension of the contract)."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from core.errors import ApplicationError
from products.models import (
    CatalogRequestKey,
    Product,
    StockMovementReason,
)
from products.services.stock import require_local_stock, stock_change

# --- The catalog contract (purchase / restock by API key) --------------------------------------


def product_purchase(
    *, product_id: int, quantity: int, reference: str = "", actor: AbstractBaseUser | None = None
) -> Product:
    """Take ``quantity`` units (the catalog contract's ``purchase``): one conditional UPDATE,
    so concurrent purchases never oversell. Raises :class:`InsufficientStockError`."""
    return _contract_stock_change(
        product_id, -quantity, StockMovementReason.PURCHASE_API, reference, actor, "purchase here"
    )


def product_restock(
    *, product_id: int, quantity: int, reference: str = "", actor: AbstractBaseUser | None = None
) -> Product:
    """Add ``quantity`` units (the catalog contract's ``restock``)."""
    return _contract_stock_change(
        product_id, quantity, StockMovementReason.RESTOCK, reference, actor, "restock here"
    )


def _contract_stock_change(
    product_id: int,
    delta: int,
    reason: str,
    reference: str,
    actor: AbstractBaseUser | None,
    action: str,
) -> Product:
    require_local_stock(action)
    stock_change(deltas={product_id: delta}, reason=reason, reference=reference, actor=actor)
    return Product.objects.select_related("category").get(pk=product_id)


# --- Idempotency-Key on the catalog-contract endpoints (our extension) -------------------------


class CatalogRequestKeyMismatchError(ApplicationError):
    status_code = 422
    code = "idempotency_key_mismatch"


def catalog_request_replay(
    *, api_key, key: str, operation: str, product_id: int, quantity: int
) -> dict | None:
    """The stored answer of an earlier purchase/restock sent with this key by this API key, or
    None. The same key for another request is refused."""
    stored = CatalogRequestKey.objects.filter(api_key=api_key, key=key).first()
    if stored is None:
        return None
    if (stored.operation, stored.product_id, stored.quantity) != (operation, product_id, quantity):
        raise CatalogRequestKeyMismatchError(
            "This Idempotency-Key was used for another request; use a new key."
        )
    return stored.response_body


def catalog_request_record(
    *, api_key, key: str, operation: str, product_id: int, quantity: int, response_body: dict
) -> None:
    """Store the answer, in the transaction of the stock change: a concurrent duplicate fails
    on the unique key and is rolled back (then replays this answer)."""
    CatalogRequestKey.objects.create(
        api_key=api_key,
        key=key,
        operation=operation,
        product_id=product_id,
        quantity=quantity,
        response_body=json.loads(json.dumps(response_body, default=str)),
    )


def catalog_request_keys_purge() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    return CatalogRequestKey.objects.filter(created_at__lt=cutoff).delete()[0]
