"""Writes for categories, products and stock. Only this module changes ``stock_quantity``.

Every stock change goes through :func:`stock_change`, which writes one StockMovement per
product, so that per product the ledger always sums to the stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from products.models import Category, Product, StockMovement, StockMovementReason
from salesproject.errors import ApplicationError, ConflictError
from salesproject.services import model_update


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


# --- Stock ---------------------------------------------------------------------------------------


def stock_change(
    *,
    deltas: Mapping[int, int],
    reason: str,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
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
        for product_id, delta in changes:
            rows = Product.objects.filter(pk=product_id)
            if delta < 0:
                rows = rows.filter(stock_quantity__gte=-delta)
            if rows.update(stock_quantity=F("stock_quantity") + delta, updated_at=now) == 1:
                continue
            product = Product.objects.filter(pk=product_id).first()
            if product is None:
                raise ApplicationError(
                    f"Product {product_id} does not exist.", code="unknown_product"
                )
            raise InsufficientStockError(
                product=product, requested=-delta, available=product.stock_quantity
            )
        StockMovement.objects.bulk_create(
            StockMovement(
                product_id=product_id,
                delta=delta,
                reason=reason,
                reference=reference[:100],
                actor=actor if actor is not None and actor.is_authenticated else None,
            )
            for product_id, delta in changes
        )


def stock_set(
    *,
    product: Product,
    stock_quantity: int,
    reason: str = StockMovementReason.ADJUSTMENT,
    reference: str = "",
    actor: AbstractBaseUser | None = None,
) -> Product:
    """Set a product's stock to an absolute figure, writing the difference to the ledger."""
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


# --- Categories ----------------------------------------------------------------------------------


def _category_name_taken(name: str, exclude_pk: int | None = None) -> bool:
    return Category.objects.filter(name__iexact=name).exclude(pk=exclude_pk).exists()


def category_create(*, name: str, description: str = "") -> Category:
    name = name.strip()
    if _category_name_taken(name):
        raise ValidationError({"name": [f"A category named {name!r} already exists."]})
    category = Category(name=name, description=description)
    category.full_clean()
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError:
        raise ValidationError({"name": [f"A category named {name!r} already exists."]}) from None
    return category


def category_update(*, category: Category, data: dict[str, Any]) -> Category:
    if "name" in data:
        data = {**data, "name": data["name"].strip()}
        if _category_name_taken(data["name"], exclude_pk=category.pk):
            raise ValidationError({"name": [f"A category named {data['name']!r} already exists."]})
    category, _ = model_update(instance=category, fields=["name", "description"], data=data)
    return category


def category_delete(*, category: Category) -> None:
    category.delete()  # PROTECT: a category with products answers 409


# --- Products ------------------------------------------------------------------------------------

PRODUCT_EDITABLE_FIELDS = ["sku", "name", "category", "price", "cost", "is_active"]


def product_create(
    *,
    sku: str,
    name: str,
    price: Decimal,
    cost: Decimal = Decimal("0.00"),
    category: Category | None = None,
    stock_quantity: int = 0,
    is_active: bool = True,
    actor: AbstractBaseUser | None = None,
) -> Product:
    """Create a product; opening stock is recorded in the ledger as a restock."""
    product = Product(
        sku=sku.strip(),
        name=name,
        category=category,
        price=price,
        cost=cost,
        stock_quantity=0,
        is_active=is_active,
    )
    product.full_clean()
    with transaction.atomic():
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError:
            raise ValidationError(
                {"sku": [f"A product with SKU {sku!r} already exists."]}
            ) from None
        if stock_quantity:
            stock_change(
                deltas={product.pk: stock_quantity},
                reason=StockMovementReason.RESTOCK,
                reference="opening stock",
                actor=actor,
            )
            product.stock_quantity = stock_quantity
    return product


def product_update(
    *, product: Product, data: dict[str, Any], actor: AbstractBaseUser | None = None
) -> Product:
    """Update a product. A new ``stock_quantity`` is applied as a ledgered adjustment."""
    with transaction.atomic():
        product, _ = model_update(instance=product, fields=PRODUCT_EDITABLE_FIELDS, data=data)
        if "stock_quantity" in data and data["stock_quantity"] is not None:
            stock_set(product=product, stock_quantity=data["stock_quantity"], actor=actor)
    return product


def product_delete(*, product: Product) -> None:
    """Delete a product that was never sold; its ledger goes with it.

    A product that appears in a sale is protected (409): deactivate it instead.
    """
    from sales.selectors import product_has_sales  # sales reads products, not the reverse

    if product_has_sales(product_id=product.pk):
        raise ConflictError(
            f"Product {product.sku} appears in sales and cannot be deleted; deactivate it instead.",
            code="protected",
        )
    with transaction.atomic():
        StockMovement.objects.filter(product=product).delete()
        product.delete()
