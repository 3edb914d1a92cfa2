"""The catalog contract's writes: ``purchase`` and ``restock`` by API key, and their
``Idempotency-Key`` (our extension of the contract)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.idempotency import (
    StoredResponse,
    idempotency_claim,
    idempotency_complete,
    idempotency_purge,
    idempotency_release,
    request_fingerprint,
)
from core.users import Actor
from products.models import (
    CatalogRequestKey,
    Product,
    StockMovementReason,
)
from products.services.stock import require_local_stock, stock_change

if TYPE_CHECKING:
    from accounts.models import ApiKey

# --- The catalog contract (purchase / restock by API key) --------------------------------------


def product_purchase(
    *, product_id: int, quantity: int, reference: str = "", actor: Actor = None
) -> Product:
    """Take ``quantity`` units (the catalog contract's ``purchase``): one conditional UPDATE,
    so concurrent purchases never oversell. Raises :class:`InsufficientStockError`."""
    return _contract_stock_change(
        product_id, -quantity, StockMovementReason.PURCHASE_API, reference, actor, "purchase here"
    )


def product_restock(
    *, product_id: int, quantity: int, reference: str = "", actor: Actor = None
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
    actor: Actor,
    action: str,
) -> Product:
    require_local_stock(action)
    stock_change(deltas={product_id: delta}, reason=reason, reference=reference, actor=actor)
    return Product.objects.select_related("category").get(pk=product_id)


# --- Idempotency-Key on the catalog-contract endpoints (our extension) -------------------------


def catalog_request_claim(
    *, api_key: ApiKey, key: str, operation: str, product_id: int, quantity: int
) -> CatalogRequestKey | StoredResponse:
    """Claim ``key`` of this API key for a purchase/restock (``core/idempotency.py``): the
    claimed row, or the stored answer of an earlier identical request. The same key for
    another request is refused (422); while the first still runs, a repeat waits a little,
    then gets a 409."""
    return idempotency_claim(
        model=CatalogRequestKey,
        owner={"api_key": api_key},
        key=key,
        fingerprint=request_fingerprint(
            {"operation": operation, "product_id": product_id, "quantity": quantity}
        ),
        mismatch_message="This Idempotency-Key was used for another request; use a new key.",
        values={"operation": operation, "product_id": product_id, "quantity": quantity},
    )


def catalog_request_complete(*, record: CatalogRequestKey, response_body: dict[str, Any]) -> None:
    """Store the answer, in the transaction of the stock change."""
    idempotency_complete(record=record, status=200, body=response_body)


def catalog_request_release(*, record: CatalogRequestKey) -> None:
    """The request failed: nothing stored, the key can be used again."""
    idempotency_release(record=record)


def catalog_request_keys_purge(*, batch_size: int = 10_000) -> int:
    """Delete expired keys in batches; returns how many went."""
    return idempotency_purge(model=CatalogRequestKey, batch_size=batch_size)
