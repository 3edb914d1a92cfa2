"""The catalog client: where sales read prices and change stock.

``CATALOG_BACKEND`` chooses the implementation:

- ``local`` (default): stock lives in our Product table. :meth:`LocalCatalog.stock_transaction`
  is one database transaction around the conditional stock updates and the caller's writes
  (the sale and its items): everything commits together or not at all.
- ``http``: stock lives in a remote Product Catalog API (``products.catalog_client``). Local
  Product rows mirror the remote products, keyed by ``Product.remote_id`` (synced on first use
  and by ``sync_catalog``); our own products (no ``remote_id``) are never touched. All the
  catalog calls of one sale share one deadline (``CATALOG_SALE_DEADLINE``).
  :meth:`HttpCatalog.stock_transaction` takes remote stock first, with no
  database transaction open, then runs the caller's writes in one local transaction; if anything
  fails after a remote decrement, the decrement is undone (compensation). Stock that must go
  back to the remote (a cancelled sale, an undone purchase) goes through the outbox
  (``CatalogOutboxEntry``), written in the local transaction and executed after commit, retried
  by ``retry_catalog_outbox_task`` until it succeeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import connection, transaction

from core.errors import ApplicationError
from core.ops import metrics
from core.users import Actor
from products import services
from products.catalog_client import (
    CatalogUnavailableError,
    ProductCatalogClient,
    RemoteInsufficientStockError,
    RemoteProduct,
    RemoteProductNotFoundError,
)
from products.models import Product, StockMovementReason

logger = logging.getLogger("catalog")


@dataclass(frozen=True)
class CatalogProduct:
    id: int
    sku: str
    name: str
    price: Decimal
    cost: Decimal
    stock_quantity: int
    is_active: bool

    def to_product(self) -> Product:
        """An unsaved-looking Product with these values (for rendering, not for saving)."""
        return Product(
            id=self.id,
            sku=self.sku,
            name=self.name,
            price=self.price,
            cost=self.cost,
            stock_quantity=self.stock_quantity,
            is_active=self.is_active,
        )


class Catalog(Protocol):
    def get_products(self, product_ids: Iterable[int]) -> dict[int, CatalogProduct]:
        """Current price and stock of each known product; unknown ids are simply absent."""

    def stock_transaction(
        self,
        deltas: Mapping[int, int],
        *,
        reason: str,
        reference: str,
        actor: Actor,
    ):
        """Context manager: apply ``{product_id: delta}`` and run the ``with`` body's database
        writes so that both happen or neither does. A decrement that would oversell raises
        :class:`products.services.InsufficientStockError` before the body runs."""


_PRODUCT_FIELDS = ("id", "sku", "name", "price", "cost", "stock_quantity", "is_active")


def _local_products(product_ids: Iterable[int]) -> dict[int, CatalogProduct]:
    rows = Product.objects.filter(pk__in=set(product_ids)).values(*_PRODUCT_FIELDS)
    return {row["id"]: CatalogProduct(**row) for row in rows}


class LocalCatalog:
    """Stock in our own database: one transaction for stock, ledger and the caller's rows."""

    def get_products(self, product_ids: Iterable[int]) -> dict[int, CatalogProduct]:
        return _local_products(product_ids)

    @contextmanager
    def stock_transaction(
        self,
        deltas: Mapping[int, int],
        *,
        reason: str,
        reference: str,
        actor: Actor,
    ) -> Iterator[None]:
        with transaction.atomic():
            services.stock_change(deltas=deltas, reason=reason, reference=reference, actor=actor)
            yield


# Compensations are sent inline only with at least this much of the sale's deadline left.
COMPENSATION_MIN_SECONDS = 0.5


@dataclass
class _AppliedChange:
    product_id: int
    delta: int
    remote_stock: int


class HttpCatalog:
    """Stock in a remote Product Catalog API; see the module docstring for the protocol."""

    def __init__(self, client: ProductCatalogClient | None = None) -> None:
        self.client = client or ProductCatalogClient.from_settings()

    # --- the deadline -----------------------------------------------------------------------

    def _begin(self, *, fresh: bool) -> None:
        """Start one operation's budget for all its catalog calls (``CATALOG_SALE_DEADLINE``):
        a sale starts it when it reads its products and keeps it through its stock
        transaction; a stock transaction on its own (cancel, edit) starts its own."""
        if fresh or self.client.deadline is None:
            self.client.deadline = time.monotonic() + settings.CATALOG_SALE_DEADLINE

    def _end(self) -> None:
        self.client.deadline = None

    # --- reads ------------------------------------------------------------------------------

    def get_products(self, product_ids: Iterable[int]) -> dict[int, CatalogProduct]:
        """Fetch each product from the remote and refresh its local mirror row.

        ``product_ids`` are our ids. A mirror is asked for under its ``remote_id``; an id we do
        not have at all is taken as the remote catalog's id of a product not mirrored yet (its
        first use: the mirror gets that same id). Our own local products (no ``remote_id``) are
        not in the remote catalog: they are left out (the sale calls them unknown)."""
        self._begin(fresh=True)
        try:
            wanted = set(product_ids)
            linked = services.catalog_remote_ids(wanted)
            present = set(Product.objects.filter(pk__in=wanted).values_list("pk", flat=True))
            local = sorted(present - set(linked))
            if local:
                logger.warning(
                    "Products %s are our own (no remote_id): not sold through the remote catalog "
                    "(CATALOG_BACKEND=http); link them with sync_catalog --adopt-by-sku",
                    local[:20],
                )
            remote: list[RemoteProduct] = []
            for remote_id in sorted({*linked.values(), *(wanted - present)}):
                product = self.client.get_product(remote_id)
                if product is not None:
                    remote.append(product)
        except BaseException:
            self._end()
            raise
        local_ids = services.catalog_mirror_upsert(products=remote)
        return _local_products(pk for pk in local_ids.values() if pk in wanted)

    # --- writes -----------------------------------------------------------------------------

    @contextmanager
    def stock_transaction(
        self,
        deltas: Mapping[int, int],
        *,
        reason: str,
        reference: str,
        actor: Actor,
    ) -> Iterator[None]:
        if connection.in_atomic_block:
            # Remote calls are never made inside a database transaction (no locks held).
            raise RuntimeError("HttpCatalog.stock_transaction must not run inside a transaction")
        decrements = {pid: delta for pid, delta in deltas.items() if delta < 0}
        increments = {pid: delta for pid, delta in deltas.items() if delta > 0}
        self._begin(fresh=False)
        try:
            applied = self._take_remote_stock(decrements, reference=reference)
        except BaseException:
            self._end()
            raise
        try:
            with transaction.atomic():
                yield
                services.catalog_mirror_record(
                    remote_stock={change.product_id: change.remote_stock for change in applied},
                    deltas=decrements,
                    reason=reason,
                    reference=reference,
                    actor=actor,
                )
                # Stock going back to the remote: outbox rows in this very transaction, sent
                # after commit (and retried until done), so a rollback sends nothing.
                services.catalog_outbox_add(
                    deltas=increments, reason=reason, reference=reference, actor=actor
                )
        except BaseException:
            self._undo(applied, reference=reference)
            raise
        finally:
            self._end()

    def _take_remote_stock(
        self, decrements: Mapping[int, int], *, reference: str
    ) -> list[_AppliedChange]:
        """Purchase each line on the remote, in product-id order. On any failure the
        purchases already made are undone before the error goes up."""
        applied: list[_AppliedChange] = []
        remote_ids = services.catalog_remote_ids(decrements)
        for product_id, delta in sorted(decrements.items()):
            if product_id not in remote_ids:
                self._undo(applied, reference=reference)
                raise ApplicationError(
                    f"Product {product_id} is a local product: the remote catalog does not "
                    "have it (see sync_catalog --adopt-by-sku).",
                    code="invalid_product",
                )
            try:
                remote = self.client.purchase(remote_ids[product_id], -delta)
            except RemoteInsufficientStockError as exc:
                self._undo(applied, reference=reference)
                metrics.stock_out()  # the remote refused a sale's purchase for stock
                raise services.InsufficientStockError(
                    product=Product.objects.get(pk=product_id),
                    requested=-delta,
                    available=exc.available if exc.available is not None else 0,
                ) from exc
            except RemoteProductNotFoundError as exc:
                self._undo(applied, reference=reference)
                raise ApplicationError(
                    f"Product {product_id} no longer exists in the catalog.",
                    code="invalid_product",
                ) from exc
            except CatalogUnavailableError as exc:
                if exc.maybe_applied:
                    # The purchase was sent but no answer came: it may have been applied.
                    # Giving it back is the safe side (no stock silently lost remotely).
                    logger.warning(
                        "Purchase of %s x product %s for %s got no answer; compensating it",
                        -delta,
                        product_id,
                        reference,
                    )
                    applied.append(_AppliedChange(product_id, delta, remote_stock=-1))
                self._undo(applied, reference=reference)
                raise
            except BaseException:
                self._undo(applied, reference=reference)
                raise
            applied.append(_AppliedChange(product_id, delta, remote.stock_quantity))
        return applied

    def _undo(self, applied: list[_AppliedChange], *, reference: str) -> None:
        """Compensate remote purchases: an outbox entry each, executed now; what fails stays
        pending for the retry task."""
        if not applied:
            return
        entries = services.catalog_outbox_add(
            deltas={change.product_id: -change.delta for change in applied},
            reason=StockMovementReason.COMPENSATION,
            reference=f"compensation {reference}",
            actor=None,
            mirror=False,
        )
        applied.clear()
        entry_ids = [entry.pk for entry in entries]
        left = self.client.time_left()
        if left is not None and left < COMPENSATION_MIN_SECONDS:
            # (Almost) out of time: a compensation squeezed into what is left would likely time
            # out, leaving the remote unsure; the entries are sent by a task instead, with the
            # full timeouts (the worker, or in process where tasks run eagerly), and retried by
            # the beat task until done.
            services.enqueue_outbox_processing(entry_ids)
            return
        services.catalog_outbox_process(entry_ids=entry_ids, client=self.client)


def get_catalog() -> Catalog:
    if settings.CATALOG_BACKEND == "http":
        return HttpCatalog()
    return LocalCatalog()
