"""Stock: the one write path of ``stock_quantity``.

Every stock change goes through :func:`stock_change`, which writes one StockMovement per
product, so that per product the ledger always sums to the stock.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError, ConflictError, NotFoundError
from core.ops import metrics
from core.users import Actor, recorded_user
from products import sql
from products.models import (
    Product,
    StockMovement,
    StockMovementReason,
)


class UnknownProductError(NotFoundError):
    code = "unknown_product"


class InsufficientStockError(ConflictError):
    code = "insufficient_stock"

    def __init__(self, *, product: Product, requested: int, available: int) -> None:
        super().__init__(
            f"Not enough stock for {product.sku} ({product.name}): "
            f"requested {requested}, available {available}.",
            extra={
                "product": product.pk,
                "sku": product.sku,
                "requested": requested,
                "available": available,
            },
        )
        self.product = product
        self.requested = requested
        self.available = available


def stock_change(
    *,
    deltas: Mapping[int, int],
    reason: str,
    reference: str = "",
    actor: Actor = None,
) -> None:
    """Apply ``{product_id: delta}`` to stock, in product-id order, inside one transaction.

    A decrement is one conditional UPDATE (``stock_quantity >= q``): 0 rows updated means not
    enough stock, and :class:`InsufficientStockError` rolls the whole change back. Taking the row
    locks in product-id order means two sales over the same products never deadlock.
    """
    changes = sorted((pid, delta) for pid, delta in deltas.items() if delta)
    if not changes:
        return
    now = timezone.now()
    with transaction.atomic():
        refused = sql.apply_stock_deltas(changes, now)
        if refused is not None:
            product_id, delta = refused
            product = Product.objects.filter(pk=product_id).first()
            if product is None:
                raise UnknownProductError(f"Product {product_id} does not exist.")
            metrics.stock_out()  # a sale or purchase refused for stock
            raise InsufficientStockError(
                product=product, requested=-delta, available=product.stock_quantity
            )
        StockMovement.objects.bulk_create(
            StockMovement(
                product_id=product_id,
                delta=delta,
                reason=reason,
                reference=reference[:100],
                actor=recorded_user(actor),
            )
            for product_id, delta in changes
        )


def require_local_stock(action: str) -> None:
    """With the HTTP catalog the remote owns stock and product ids; local rows are mirrors."""
    if settings.CATALOG_BACKEND == "http":
        raise ConflictError(
            f"Cannot {action}: products and stock live in the remote catalog "
            "(CATALOG_BACKEND=http); change them there, then run sync_catalog.",
            code="catalog_is_remote",
        )


def stock_set(
    *,
    product: Product,
    stock_quantity: int,
    reason: str = StockMovementReason.ADJUSTMENT,
    reference: str = "",
    actor: Actor = None,
) -> Product:
    """Set a product's stock to an absolute figure, writing the difference to the ledger."""
    require_local_stock("set the stock")
    if stock_quantity < 0:
        raise ApplicationError(
            "Stock cannot be negative.", fields={"stock_quantity": ["Must be 0 or more."]}
        )
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        stock_change(
            deltas={product.pk: stock_quantity - locked.stock_quantity},
            reason=reason,
            reference=reference,
            actor=actor,
        )
    product.refresh_from_db(fields=["stock_quantity", "updated_at"])
    return product
