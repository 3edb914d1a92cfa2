"""The HTTP catalog's local mirror (``products.catalog.HttpCatalog``): mirror rows of remote
products, keyed by ``Product.remote_id``, their stock kept equal to the remote's through
ledgered adjustments, ``sync_catalog`` and its ``--adopt-by-sku``."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from core.users import Actor
from products import sql
from products.catalog_client import (
    ProductCatalogClient,
    RemoteProduct,
)
from products.models import (
    Product,
    StockMovementReason,
)
from products.services.stock import stock_change


def mirror_stock_sync(
    *, product_id: int, delta_after_sync: int, target: int, reference: str
) -> None:
    """Drift adjustment: make the local mirror end at ``target`` once ``delta_after_sync`` (our
    own change, ledgered separately) is applied. Must run inside a transaction."""
    locked = Product.objects.select_for_update().only("stock_quantity").get(pk=product_id)
    drift = target - (locked.stock_quantity + delta_after_sync)
    if drift:
        stock_change(
            deltas={product_id: drift},
            reason=StockMovementReason.ADJUSTMENT,
            reference=f"catalog sync {reference}".strip()[:100],
        )


def _advance_id_sequence(pk: int) -> None:
    """After a row was inserted with an explicit id (a mirror), move PostgreSQL's id sequence
    past it, so that a product created later (e.g. back on the local catalog) never collides
    with a mirror. Elsewhere (SQLite) new ids already follow the largest one."""
    sql.advance_product_id_sequence(pk)


def _free_mirror_pk(remote_id: int) -> int:
    """The local id of a new mirror: the remote's own id when it is free here (so a database
    that only ever mirrored keeps the remote's ids), else one above every id in use (a local
    product has that id: the two are kept apart)."""
    if not Product.objects.filter(pk=remote_id).exists():
        return remote_id
    return (Product.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def catalog_mirror_upsert(*, products: Iterable[RemoteProduct]) -> dict[int, int]:
    """Create or refresh the local mirror rows of remote products, found by ``remote_id``
    (never by a coincidence of ids: a local product is never turned into a mirror), so that
    sales and analytics can refer to them. Stock differences are ledgered as adjustments.
    Returns ``{remote id: local id}``."""
    local_ids: dict[int, int] = {}
    for remote in products:
        with transaction.atomic():
            product = Product.objects.select_for_update().filter(remote_id=remote.id).first()
            if product is None:
                sku = remote.sku or f"CAT-{remote.id}"
                if Product.objects.filter(sku=sku).exists():
                    sku = f"CAT-{remote.id}"
                    if Product.objects.filter(sku=sku).exists():
                        sku = f"CAT-{remote.id}-{secrets.token_hex(3)}"
                try:
                    with transaction.atomic():  # a savepoint, for the race below
                        product = Product.objects.create(
                            pk=_free_mirror_pk(remote.id),
                            remote_id=remote.id,
                            sku=sku,
                            name=remote.name,
                            price=remote.price,
                            stock_quantity=0,
                            is_active=remote.is_active,
                        )
                    _advance_id_sequence(product.pk)
                except IntegrityError:
                    # Two first uses of the same remote product at once: the other one created
                    # the row (our INSERT waited for its commit); lock that row and sync it.
                    product = Product.objects.select_for_update().get(remote_id=remote.id)
            else:
                changed = {
                    field: value
                    for field, value in (
                        ("name", remote.name),
                        ("price", remote.price),
                        ("is_active", remote.is_active),
                    )
                    if getattr(product, field) != value
                }
                if changed:
                    Product.objects.filter(pk=product.pk).update(
                        **changed, updated_at=timezone.now()
                    )
            mirror_stock_sync(
                product_id=product.pk,
                delta_after_sync=0,
                target=remote.stock_quantity,
                reference="",
            )
            local_ids[remote.id] = product.pk
    return local_ids


def catalog_remote_ids(product_ids: Iterable[int]) -> dict[int, int]:
    """``{local id: remote id}`` of the given products that mirror a remote product (local
    products, with no ``remote_id``, are left out)."""
    rows = Product.objects.filter(pk__in=set(product_ids), remote_id__isnull=False).values_list(
        "pk", "remote_id"
    )
    return {pk: remote_id for pk, remote_id in rows if remote_id is not None}


def catalog_mirror_record(
    *,
    remote_stock: Mapping[int, int],
    deltas: Mapping[int, int],
    reason: str,
    reference: str,
    actor: Actor,
) -> None:
    """Ledger remote stock changes on the local mirror: our change with its reason, plus an
    adjustment for any drift, so the mirror ends equal to the figure the remote answered."""
    for product_id in sorted(deltas):
        mirror_stock_sync(
            product_id=product_id,
            delta_after_sync=deltas[product_id],
            target=remote_stock[product_id],
            reference=reference,
        )
    stock_change(deltas=deltas, reason=reason, reference=reference, actor=actor)


def catalog_sync(
    *, remote_ids: Iterable[int] | None = None, client: ProductCatalogClient | None = None
) -> dict[str, list[int]]:
    """Refresh local mirror rows from the remote catalog (name, price, active, stock), by
    remote id: the given ones (which may be new to us) or every mirrored product. A product the
    remote no longer knows is deactivated locally (its sales keep referring to it). Local
    products (no ``remote_id``) are never touched. Returns remote ids."""
    client = client or ProductCatalogClient.from_settings()
    if remote_ids is None:
        mirrored = (
            Product.objects.filter(remote_id__isnull=False)
            .order_by("remote_id")
            .values_list("remote_id", flat=True)
        )
        remote_ids = [remote_id for remote_id in mirrored if remote_id is not None]
    synced: list[int] = []
    missing: list[int] = []
    for remote_id in remote_ids:
        remote = client.get_product(remote_id)
        if remote is None:
            missing.append(remote_id)
            continue
        catalog_mirror_upsert(products=[remote])
        synced.append(remote_id)
    Product.objects.filter(remote_id__in=missing, is_active=True).update(
        is_active=False, updated_at=timezone.now()
    )
    return {"synced": synced, "missing": missing}


def catalog_local_products() -> QuerySet[Product]:
    """Our own products: rows that mirror no remote catalog product."""
    return Product.objects.filter(remote_id__isnull=True)


def catalog_adopt_by_sku(
    *,
    client: ProductCatalogClient | None = None,
    deactivate_unmatched: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Link local products to the remote catalog's products of the same SKU (before or after
    switching to ``CATALOG_BACKEND=http``): each one keeps its id, sales and ledger, gets the
    remote's id in ``remote_id``, and its name, price and stock are then synced from the
    remote (the stock difference ledgered as an adjustment). A local product whose SKU is
    ``CAT-<remote id>`` (what this project named mirrors of remote products without a SKU) is
    linked to that remote product. Local products with no match stay local (deactivated with
    ``deactivate_unmatched``: their sales stay). Returns ``{"linked": [(local id, remote id)],
    "unmatched": [local id], "taken": [local id]}`` ("taken": the remote product is already
    mirrored by another row)."""
    client = client or ProductCatalogClient.from_settings()
    remote_products = client.list_products()
    by_sku = {product.sku: product for product in remote_products if product.sku}
    by_id = {product.id: product for product in remote_products}
    linked: list[tuple[int, int]] = []
    unmatched: list[int] = []
    taken: list[int] = []
    to_sync: list[RemoteProduct] = []
    claimed: set[int] = set()
    for local_id, sku in catalog_local_products().order_by("pk").values_list("pk", "sku"):
        remote = by_sku.get(sku)
        if remote is None and sku.startswith("CAT-") and sku[4:].isdigit():
            remote = by_id.get(int(sku[4:]))
        if remote is None:
            unmatched.append(local_id)
            continue
        if remote.id in claimed or Product.objects.filter(remote_id=remote.id).exists():
            taken.append(local_id)
            continue
        claimed.add(remote.id)
        linked.append((local_id, remote.id))
        to_sync.append(remote)
    if dry_run:
        return {"linked": linked, "unmatched": unmatched, "taken": taken}
    for (local_id, remote_id), remote in zip(linked, to_sync, strict=True):
        with transaction.atomic():
            Product.objects.filter(pk=local_id, remote_id__isnull=True).update(
                remote_id=remote_id, updated_at=timezone.now()
            )
            catalog_mirror_upsert(products=[remote])
    if deactivate_unmatched and unmatched:
        Product.objects.filter(pk__in=unmatched, is_active=True).update(
            is_active=False, updated_at=timezone.now()
        )
    return {"linked": linked, "unmatched": unmatched, "taken": taken}
