"""Categories and products: create, update, delete (stock through :mod:`.stock`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import ApplicationError, ConflictError
from core.protection import protected_by_other_apps
from core.services import model_update
from core.signals import reporting_data_changed
from core.users import Actor
from products.models import (
    Category,
    Product,
    StockMovement,
    StockMovementReason,
)
from products.services.stock import require_local_stock, stock_change, stock_set

# --- Categories ----------------------------------------------------------------------------------


def _category_name_taken(name: str, exclude_pk: int | None = None) -> bool:
    others = Category.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


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
        if data["name"] != category.name:  # the analytics' breakdown shows it
            reporting_data_changed.send(sender=Category)
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
    actor: Actor = None,
) -> Product:
    """Create a product; opening stock is recorded in the ledger as a restock."""
    require_local_stock("create a product")
    if stock_quantity < 0:  # else the ledger would answer "not enough stock" (409)
        raise ApplicationError(
            "Stock cannot be negative.", fields={"stock_quantity": ["Must be 0 or more."]}
        )
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


def product_update(*, product: Product, data: dict[str, Any], actor: Actor = None) -> Product:
    """Update a product. A new ``stock_quantity`` is applied as a ledgered adjustment."""
    if any(
        name in data and data[name] != getattr(product, name)
        for name in ("name", "sku", "category")
    ):
        # The analytics show names and group by category: fresh answers after it.
        reporting_data_changed.send(sender=Product)
    with transaction.atomic():
        product, _ = model_update(instance=product, fields=PRODUCT_EDITABLE_FIELDS, data=data)
        if "stock_quantity" in data and data["stock_quantity"] is not None:
            stock_set(product=product, stock_quantity=data["stock_quantity"], actor=actor)
    return product


def product_delete(*, product: Product) -> None:
    """Delete a product that was never sold; its ledger goes with it.

    A product that appears in a sale is protected (409): deactivate it instead.
    """
    if protected_by_other_apps(product):  # its sale lines (SaleItem.product is PROTECT)
        raise ConflictError(
            f"Product {product.sku} appears in sales and cannot be deleted; deactivate it instead.",
            code="protected",
        )
    with transaction.atomic():
        StockMovement.objects.filter(product=product).delete()
        product.delete()
