"""Writes for sales. Stock moves only through the catalog client (``products.catalog``).

A sale, its items, the stock decrements and the ledger rows commit in one database
transaction or not at all. Prices and costs are snapshotted from the catalog at sale time and the
total is computed here, never taken from the client.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, ConflictError
from core.ops import metrics
from core.users import Actor, recorded_user
from customers.models import Customer
from products.catalog import Catalog, CatalogProduct, get_catalog
from products.models import StockMovementReason
from sales.models import Sale, SaleItem, SaleStatus
from sales.signals import send_sales_contribution

MAX_LINE_QUANTITY = 1_000_000
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_UNSET: Any = object()


@dataclass(frozen=True)
class SaleLine:
    product_id: int
    quantity: int


def generate_sale_reference(sold_at: datetime | None = None) -> str:
    """``S-YYYYMMDD-XXXXXXXX``: readable, sortable by day, 40 random bits."""
    day = (sold_at or timezone.now()).strftime("%Y%m%d")
    suffix = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))
    return f"S-{day}-{suffix}"


def _merge_lines(lines: Sequence[SaleLine]) -> tuple[dict[int, int], dict[int, int]]:
    """Merge lines of the same product. Returns ``({product_id: quantity}, {product_id: index
    of its first line})``; errors name the offending line by its index in the request."""
    if not lines:
        raise ApplicationError(
            "A sale needs at least one item.", fields={"items": ["At least one item is required."]}
        )
    quantities: dict[int, int] = {}
    first_index: dict[int, int] = {}
    errors: list[dict[str, list[str]]] = [{} for _ in lines]
    for index, line in enumerate(lines):
        if (
            isinstance(line.quantity, bool)
            or not isinstance(line.quantity, int)
            or line.quantity <= 0
        ):
            errors[index]["quantity"] = ["Must be a whole number greater than 0."]
            continue
        first_index.setdefault(line.product_id, index)
        quantities[line.product_id] = quantities.get(line.product_id, 0) + line.quantity
        if quantities[line.product_id] > MAX_LINE_QUANTITY:
            errors[index]["quantity"] = [f"At most {MAX_LINE_QUANTITY} units of one product."]
    if any(errors):
        raise ApplicationError("Some items are invalid.", fields={"items": errors})
    return quantities, first_index


def _require_sellable(
    catalog_products: dict[int, CatalogProduct],
    product_ids: Iterable[int],
    first_index: dict[int, int],
    line_count: int,
) -> None:
    errors: list[dict[str, list[str]]] = [{} for _ in range(line_count)]
    for product_id in product_ids:
        product = catalog_products.get(product_id)
        if product is None:
            errors[first_index[product_id]]["product"] = [f"Product {product_id} does not exist."]
        elif not product.is_active:
            errors[first_index[product_id]]["product"] = [
                f"Product {product.sku} ({product.name}) is not active and cannot be sold."
            ]
    if any(errors):
        bad = [str(index + 1) for index, error in enumerate(errors) if error]
        raise ApplicationError(
            f"Item {', '.join(bad)} cannot be sold.",
            code="invalid_product",
            fields={"items": errors},
        )


def _resolve_customer(customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise ApplicationError(
            f"Customer {customer_id} does not exist.",
            fields={"customer": [f"Customer {customer_id} does not exist."]},
        )
    return customer


def _build_item(
    sale: Sale, product: CatalogProduct, quantity: int, unit_price: Decimal | None = None
) -> SaleItem:
    price = product.price if unit_price is None else unit_price
    return SaleItem(
        sale=sale,
        product_id=product.id,
        quantity=quantity,
        unit_price=price,
        unit_cost=product.cost,
        line_total=price * quantity,
    )


def _duplicate_reference(reference: str) -> ConflictError:
    return ConflictError(
        f"A sale with reference {reference!r} already exists.",
        code="duplicate_reference",
        fields={"reference": ["A sale with this reference already exists."]},
    )


def _insert_sale(sale: Sale) -> None:
    """Insert inside the stock transaction (no savepoint: a failure rolls it all back)."""
    try:
        sale.save(force_insert=True)
    except IntegrityError:  # a concurrent sale took the reference since our check
        raise _duplicate_reference(sale.reference) from None


def sale_create(
    *,
    lines: Sequence[SaleLine],
    customer_id: int | None = None,
    sold_at: datetime | None = None,
    reference: str | None = None,
    created_by: Actor = None,
    catalog: Catalog | None = None,
    unit_prices: Mapping[int, Decimal] | None = None,
) -> Sale:
    """Record a completed sale and take its stock. Lines of the same product are merged.
    Prices come from the catalog, unless ``unit_prices`` gives them by product id (a sales
    file recording what was charged).

    The stock, the sale, its items and the ledger commit together or not at all (the catalog's
    ``stock_transaction``: one database transaction locally, compensated remote purchases with
    the HTTP catalog)."""
    catalog = catalog or get_catalog()
    quantities, first_index = _merge_lines(lines)
    sold_at = sold_at or timezone.now()
    reference = (reference or "").strip()
    reference_given = bool(reference)
    reference = reference or generate_sale_reference(sold_at)
    max_length = Sale._meta.get_field("reference").max_length
    assert max_length is not None  # a CharField's
    if len(reference) > max_length:  # PostgreSQL would answer a DataError (a 500)
        raise ApplicationError(
            f"A sale reference has at most {max_length} characters.",
            fields={"reference": [f"Ensure this field has no more than {max_length} characters."]},
        )
    if reference_given and Sale.objects.filter(reference=reference).exists():
        raise _duplicate_reference(reference)  # before any remote stock is taken
    actor = recorded_user(created_by)
    customer = _resolve_customer(customer_id)
    catalog_products = catalog.get_products(quantities)
    _require_sellable(catalog_products, quantities, first_index, len(lines))
    sale = Sale(
        reference=reference,
        customer=customer,
        sold_at=sold_at,
        status=SaleStatus.COMPLETED,
        created_by=actor,
    )
    prices = unit_prices or {}
    items = [
        _build_item(sale, catalog_products[pid], qty, prices.get(pid))
        for pid, qty in quantities.items()
    ]
    sale.total = sum((item.line_total for item in items), Decimal("0.00"))
    with catalog.stock_transaction(
        {pid: -qty for pid, qty in quantities.items()},
        reason=StockMovementReason.SALE,
        reference=reference,
        actor=actor,
    ):
        _insert_sale(sale)
        SaleItem.objects.bulk_create(items)
        send_sales_contribution(sale_ids=[sale.pk], sign=1)
    transaction.on_commit(metrics.sale_recorded, robust=True)  # counted once it is committed
    # Hand back the sale with its items and their products loaded: rendering it needs no query.
    for item in items:
        item.product = catalog_products[item.product_id].to_product()
    # As selectors.sale_list's Prefetch(to_attr="item_list") leaves it (the attribute the
    # Django plugin knows on prefetched querysets only).
    sale.item_list = items  # type: ignore[attr-defined]
    return sale


def _item_quantities(sale: Sale) -> dict[int, int]:
    return dict(SaleItem.objects.filter(sale=sale).values_list("product_id", "quantity"))


def _lock_unchanged_completed_sale(sale: Sale, snapshot: dict[int, int], action: str) -> Sale:
    """Inside the stock transaction: lock the sale and check that it is still completed with
    the lines the stock change was computed from (a concurrent edit or cancel is a 409)."""
    locked = Sale.objects.select_for_update().get(pk=sale.pk)
    _require_completed(locked, action)
    if _item_quantities(locked) != snapshot:
        raise ConflictError(
            f"Sale {locked.reference} was changed meanwhile; load it again and retry.",
            code="sale_changed",
        )
    return locked


def _require_completed(sale: Sale, action: str) -> None:
    if sale.status == SaleStatus.CANCELLED:
        raise ConflictError(
            f"Sale {sale.reference} is cancelled and cannot be {action}.", code="sale_cancelled"
        )


def sale_update(
    *,
    sale: Sale,
    lines: Sequence[SaleLine] | None = None,
    customer_id: int | None = _UNSET,
    sold_at: datetime | None = _UNSET,
    actor: Actor = None,
    catalog: Catalog | None = None,
) -> Sale:
    """Edit a completed sale. New ``lines`` replace the old ones and stock moves by the
    difference, with the edit. Kept lines keep their original price snapshot; new products are
    priced from the catalog now."""
    catalog = catalog or get_catalog()
    sale = Sale.objects.get(pk=sale.pk)
    _require_completed(sale, "edited")
    snapshot = _item_quantities(sale)
    changes_customer = customer_id is not _UNSET and customer_id != sale.customer_id
    new_customer = _resolve_customer(customer_id) if changes_customer else None
    plan = _plan_lines(sale, lines, snapshot, catalog) if lines is not None else None

    with catalog.stock_transaction(
        plan.deltas if plan else {},
        reason=StockMovementReason.SALE_EDIT,
        reference=sale.reference,
        actor=actor,
    ):
        sale = _lock_unchanged_completed_sale(sale, snapshot, "edited")
        moves_to = [sold_at] if sold_at not in (_UNSET, None) else []  # its day, locked now
        send_sales_contribution(sale_ids=[sale.pk], sign=-1, extra_days=moves_to)
        changed: list[str] = []
        if changes_customer:
            sale.customer = new_customer
            changed.append("customer")
        if sold_at is not _UNSET and sold_at is not None and sold_at != sale.sold_at:
            sale.sold_at = sold_at
            changed.append("sold_at")
        if plan is not None:
            sale.total = plan.apply(sale)
            changed.append("total")
        if changed:
            sale.save(update_fields=[*changed, "updated_at"])
        send_sales_contribution(sale_ids=[sale.pk], sign=1)
    return sale


@dataclass
class _LinesPlan:
    """How an edit changes a sale's lines, computed before any write."""

    quantities: dict[int, int]
    new_products: dict[int, CatalogProduct]
    deltas: dict[int, int]

    def apply(self, sale: Sale) -> Decimal:
        """Write the new lines (inside the stock transaction); returns the new total."""
        existing = {item.product_id: item for item in sale.items.all()}
        SaleItem.objects.filter(
            pk__in=[item.pk for pid, item in existing.items() if pid not in self.quantities]
        ).delete()
        changed = []
        for pid, item in existing.items():
            if pid in self.quantities and item.quantity != self.quantities[pid]:
                item.quantity = self.quantities[pid]
                item.line_total = item.unit_price * item.quantity
                changed.append(item)
        SaleItem.objects.bulk_update(changed, ["quantity", "line_total"])
        created = SaleItem.objects.bulk_create(
            _build_item(sale, product, self.quantities[pid])
            for pid, product in self.new_products.items()
        )
        kept = [item for pid, item in existing.items() if pid in self.quantities]
        return sum((item.line_total for item in [*kept, *created]), Decimal("0.00"))


def _plan_lines(
    sale: Sale, lines: Sequence[SaleLine], snapshot: dict[int, int], catalog: Catalog
) -> _LinesPlan:
    quantities, first_index = _merge_lines(lines)
    new_ids = [pid for pid in quantities if pid not in snapshot]
    new_products = catalog.get_products(new_ids) if new_ids else {}
    _require_sellable(new_products, new_ids, first_index, len(lines))
    deltas = dict(snapshot)  # the old quantities come back...
    for pid, qty in quantities.items():
        deltas[pid] = deltas.get(pid, 0) - qty  # ...and the new ones go out
    return _LinesPlan(
        quantities=quantities,
        new_products={pid: new_products[pid] for pid in new_ids},
        deltas=deltas,
    )


def sale_cancel(*, sale: Sale, actor: Actor = None, catalog: Catalog | None = None) -> Sale:
    """Cancel a completed sale: its stock comes back, the record stays with status
    ``cancelled``. Cancelling twice is a 409, never a second restock."""
    catalog = catalog or get_catalog()
    sale = Sale.objects.get(pk=sale.pk)
    _require_completed(sale, "cancelled again")
    snapshot = _item_quantities(sale)
    with catalog.stock_transaction(
        snapshot, reason=StockMovementReason.SALE_CANCEL, reference=sale.reference, actor=actor
    ):
        sale = _lock_unchanged_completed_sale(sale, snapshot, "cancelled again")
        send_sales_contribution(sale_ids=[sale.pk], sign=-1)
        sale.status = SaleStatus.CANCELLED
        sale.cancelled_at = timezone.now()
        sale.save(update_fields=["status", "cancelled_at", "updated_at"])
    return sale


def sale_delete(*, sale: Sale, actor: Actor = None, catalog: Catalog | None = None) -> None:
    """Delete a sale; a completed sale's stock is restored first."""
    catalog = catalog or get_catalog()
    sale = Sale.objects.get(pk=sale.pk)
    if sale.status == SaleStatus.CANCELLED:
        with transaction.atomic():
            Sale.objects.select_for_update().get(pk=sale.pk).delete()
        return
    snapshot = _item_quantities(sale)
    with catalog.stock_transaction(
        snapshot, reason=StockMovementReason.SALE_CANCEL, reference=sale.reference, actor=actor
    ):
        locked = _lock_unchanged_completed_sale(sale, snapshot, "deleted")
        send_sales_contribution(sale_ids=[locked.pk], sign=-1)
        locked.delete()
