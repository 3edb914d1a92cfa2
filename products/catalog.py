"""The catalog client: where sales read prices and change stock.

``CATALOG_BACKEND`` chooses the implementation. ``local`` (the default) keeps stock in our own
Product table; the HTTP client for a remote Product Catalog API arrives with the sales issue and
implements the same interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured

from products import services
from products.models import Product


@dataclass(frozen=True)
class CatalogProduct:
    id: int
    sku: str
    name: str
    price: Decimal
    cost: Decimal
    stock_quantity: int
    is_active: bool


class Catalog(Protocol):
    def get_products(self, product_ids: Iterable[int]) -> dict[int, CatalogProduct]:
        """Current price and stock of each known product; unknown ids are simply absent."""

    def change_stock(
        self,
        deltas: Mapping[int, int],
        *,
        reason: str,
        reference: str,
        actor: AbstractBaseUser | None,
    ) -> None:
        """Apply ``{product_id: delta}``; a decrement that would oversell raises
        :class:`products.services.InsufficientStockError` and changes nothing."""


class LocalCatalog:
    """Stock in our own database. Must be called inside the sale's ``transaction.atomic()``,
    so that the sale, its items, the stock and the ledger commit together or not at all."""

    def get_products(self, product_ids: Iterable[int]) -> dict[int, CatalogProduct]:
        rows = Product.objects.filter(pk__in=set(product_ids)).values(
            "id", "sku", "name", "price", "cost", "stock_quantity", "is_active"
        )
        return {row["id"]: CatalogProduct(**row) for row in rows}

    def change_stock(
        self,
        deltas: Mapping[int, int],
        *,
        reason: str,
        reference: str,
        actor: AbstractBaseUser | None,
    ) -> None:
        services.stock_change(deltas=deltas, reason=reason, reference=reference, actor=actor)


def get_catalog() -> Catalog:
    backend = settings.CATALOG_BACKEND
    if backend == "local":
        return LocalCatalog()
    raise ImproperlyConfigured(f"CATALOG_BACKEND={backend!r} is not available yet; use 'local'.")
