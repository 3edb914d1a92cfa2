"""Writes for categories, products and stock. Only this module changes ``stock_quantity``.

Every stock change goes through :func:`stock_change`, which writes one StockMovement per
product, so that per product the ledger always sums to the stock.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ExpressionWrapper, F, Max, Q, QuerySet
from django.db.models.functions import Round
from django.utils import timezone

from core.errors import ApplicationError, ConflictError, NotFoundError
from core.money import MoneyField, money_str
from core.ops import metrics
from core.protection import protected_by_other_apps
from core.services import model_update
from core.signals import reporting_data_changed
from products import sql
from products.catalog_client import (
    ProductCatalogClient,
    RemoteProduct,
    RemoteProductNotFoundError,
)
from products.models import (
    CatalogOutboxEntry,
    CatalogOutboxStatus,
    CatalogRequestKey,
    Category,
    Product,
    StockMovement,
    StockMovementReason,
)

logger = logging.getLogger(__name__)


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
                actor=actor if actor is not None and actor.is_authenticated else None,
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
    actor: AbstractBaseUser | None = None,
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
    actor: AbstractBaseUser | None = None,
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


def product_update(
    *, product: Product, data: dict[str, Any], actor: AbstractBaseUser | None = None
) -> Product:
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


# --- The HTTP catalog's local mirror and outbox (products.catalog.HttpCatalog) ----------------

OUTBOX_LEASE = timedelta(seconds=120)  # longer than any catalog call with its timeouts
OUTBOX_MAX_BACKOFF = timedelta(hours=1)


def _sync_mirror_stock(*, product_id: int, delta_after_sync: int, target: int, reference: str):
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
            _sync_mirror_stock(
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
    return dict(
        Product.objects.filter(pk__in=set(product_ids), remote_id__isnull=False).values_list(
            "pk", "remote_id"
        )
    )


def catalog_mirror_record(
    *,
    remote_stock: Mapping[int, int],
    deltas: Mapping[int, int],
    reason: str,
    reference: str,
    actor: AbstractBaseUser | None,
) -> None:
    """Ledger remote stock changes on the local mirror: our change with its reason, plus an
    adjustment for any drift, so the mirror ends equal to the figure the remote answered."""
    for product_id in sorted(deltas):
        _sync_mirror_stock(
            product_id=product_id,
            delta_after_sync=deltas[product_id],
            target=remote_stock[product_id],
            reference=reference,
        )
    stock_change(deltas=deltas, reason=reason, reference=reference, actor=actor)


def catalog_outbox_add(
    *,
    deltas: Mapping[int, int],
    reason: str,
    reference: str,
    actor: AbstractBaseUser | None,
    mirror: bool = True,
) -> list[CatalogOutboxEntry]:
    """Record remote stock changes to make. With ``mirror`` the local mirror and ledger move
    now, in the caller's transaction. The entries are sent after commit (a Celery task, eager in
    the embedded default) and retried by ``retry_catalog_outbox_task`` until done."""
    deltas = {pid: delta for pid, delta in sorted(deltas.items()) if delta}
    if not deltas:
        return []
    with transaction.atomic():
        if mirror:
            stock_change(deltas=deltas, reason=reason, reference=reference, actor=actor)
        entries = CatalogOutboxEntry.objects.bulk_create(
            CatalogOutboxEntry(
                product_id=pid, delta=delta, reason=reason, reference=reference[:100]
            )
            for pid, delta in deltas.items()
        )
        if mirror:
            ids = [entry.pk for entry in entries]
            transaction.on_commit(lambda: enqueue_outbox_processing(ids))
    return entries


def enqueue_outbox_processing(entry_ids: list[int]) -> None:
    """Send outbox entries now through a task; if the broker is down they stay pending and the
    periodic retry task picks them up."""
    from products.tasks import process_catalog_outbox_task

    try:
        process_catalog_outbox_task.delay(entry_ids)
    except Exception:  # the broker being down must not fail the request
        logger.exception(
            "Could not enqueue catalog outbox entries %s; the retry task will", entry_ids
        )


def _outbox_backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 12)), OUTBOX_MAX_BACKOFF)


def catalog_outbox_process(
    *, entry_ids: Iterable[int] | None = None, client=None, limit: int = 500
) -> dict[str, int]:
    """Send due outbox entries to the remote catalog. Each entry is claimed with a lease (an
    UPDATE, no lock held during the HTTP call), so two workers never send the same entry at
    once. Returns ``{"done": n, "failed": n}``."""
    now = timezone.now()
    due = CatalogOutboxEntry.objects.filter(
        status=CatalogOutboxStatus.PENDING, next_attempt_at__lte=now
    )
    if entry_ids is not None:
        due = due.filter(pk__in=list(entry_ids))
    counts = {"done": 0, "failed": 0}
    for entry in due.order_by("id")[:limit]:
        claimed = CatalogOutboxEntry.objects.filter(
            pk=entry.pk, status=CatalogOutboxStatus.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + OUTBOX_LEASE, attempts=F("attempts") + 1)
        if not claimed:
            continue  # another worker has it
        client = client or ProductCatalogClient.from_settings()
        try:
            remote_id = Product.objects.filter(pk=entry.product_id).values_list(
                "remote_id", flat=True
            )[0]
            if remote_id is None:  # a local product: the remote catalog does not have it
                raise RemoteProductNotFoundError(entry.product_id)
            key = str(entry.idempotency_key)  # a retry is applied once by remotes that honour it
            if entry.delta > 0:
                remote = client.restock(remote_id, entry.delta, idempotency_key=key)
            else:
                remote = client.purchase(remote_id, -entry.delta, idempotency_key=key)
        except RemoteProductNotFoundError as exc:
            # Retrying cannot help: an operator has to look (the admin lists failed entries).
            CatalogOutboxEntry.objects.filter(pk=entry.pk).update(
                status=CatalogOutboxStatus.FAILED, last_error=str(exc)[:2000]
            )
            logger.error("Catalog outbox entry %s failed for good: %s", entry.pk, exc)
            counts["failed"] += 1
            continue
        except Exception as exc:  # every other failure is retried later
            attempts = entry.attempts + 1
            CatalogOutboxEntry.objects.filter(pk=entry.pk).update(
                last_error=f"{exc.__class__.__name__}: {exc}"[:2000],
                next_attempt_at=timezone.now() + _outbox_backoff(attempts),
            )
            logger.warning(
                "Catalog outbox entry %s (%+d x product %s) failed, attempt %s: %s",
                entry.pk,
                entry.delta,
                entry.product_id,
                attempts,
                exc,
            )
            counts["failed"] += 1
            continue
        with transaction.atomic():
            CatalogOutboxEntry.objects.filter(pk=entry.pk).update(
                status=CatalogOutboxStatus.DONE, completed_at=timezone.now(), last_error=""
            )
            _sync_mirror_stock(
                product_id=entry.product_id,
                delta_after_sync=0,
                target=remote.stock_quantity,
                reference=entry.reference,
            )
        counts["done"] += 1
    return counts


def catalog_sync(
    *, remote_ids: Iterable[int] | None = None, client: ProductCatalogClient | None = None
) -> dict[str, list[int]]:
    """Refresh local mirror rows from the remote catalog (name, price, active, stock), by
    remote id: the given ones (which may be new to us) or every mirrored product. A product the
    remote no longer knows is deactivated locally (its sales keep referring to it). Local
    products (no ``remote_id``) are never touched. Returns remote ids."""
    client = client or ProductCatalogClient.from_settings()
    if remote_ids is None:
        remote_ids = (
            Product.objects.filter(remote_id__isnull=False)
            .order_by("remote_id")
            .values_list("remote_id", flat=True)
        )
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


PRICE_CHANGE_SAMPLE = 100
MAX_PRICE = Decimal("9999999999.99")


@dataclass
class PriceUpdateResult:
    matched: int  # products selected
    changed: int  # products whose price changes
    changes: list[dict[str, Any]]  # the first ones: sku, name, old_price, new_price
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "changed": self.changed,
            "changes": self.changes,
            "dry_run": self.dry_run,
        }


def _new_price(percent: Decimal | None, amount: Decimal | None):
    if (percent is None) == (amount is None):
        raise ApplicationError(
            "Give either percent or amount.",
            fields={"percent": ["Give percent or amount, not both."]},
        )
    if percent is not None:
        if percent <= Decimal(-100):
            raise ApplicationError(
                "A price cannot go down by 100% or more.",
                fields={"percent": ["Must be more than -100."]},
            )
        return Round(F("price") * (Decimal(100) + percent) / Decimal(100), 2)
    return F("price") + amount


def product_price_update(
    *,
    products: QuerySet[Product],
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    dry_run: bool = False,
) -> PriceUpdateResult:
    """Change the price of ``products`` by ``percent`` (rounded to the cent) or by ``amount``,
    in one transaction; refused whole if any price would fall below 0 or exceed the maximum.
    ``dry_run`` tells what would change and writes nothing. Sales keep their price snapshots."""
    expression = _new_price(percent, amount)
    with transaction.atomic():
        selected = Product.objects.filter(pk__in=products.values("pk")).annotate(
            new_price=ExpressionWrapper(
                expression,
                output_field=MoneyField(max_digits=12),  # cents on SQLite too
            )
        )
        if not dry_run:  # lock in id order, as sales do, before reading the prices
            list(selected.order_by("pk").select_for_update().values_list("pk", flat=True))
        out_of_range = selected.filter(Q(new_price__lt=0) | Q(new_price__gt=MAX_PRICE))
        bad = list(out_of_range.order_by("sku").values_list("sku", flat=True)[:10])
        if bad:
            raise ApplicationError(
                f"{out_of_range.count()} prices would be out of range (0 to {MAX_PRICE}), "
                f"e.g. {', '.join(bad)}; nothing was changed.",
                code="price_out_of_range",
            )
        changing = selected.exclude(new_price=F("price"))
        result = PriceUpdateResult(
            matched=selected.count(),
            changed=changing.count(),
            changes=[
                {"sku": sku, "name": name, "old_price": money_str(old), "new_price": money_str(new)}
                for sku, name, old, new in changing.order_by("sku").values_list(
                    "sku", "name", "price", "new_price"
                )[:PRICE_CHANGE_SAMPLE]
            ],
            dry_run=dry_run,
        )
        if not dry_run and result.changed:
            Product.objects.filter(pk__in=changing.values("pk")).update(
                price=expression, updated_at=timezone.now()
            )
    return result
