"""The HTTP catalog's outbox: remote stock changes written in the local transaction that
needs them, sent after commit and retried with backoff until done."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.users import Actor
from products.catalog_client import (
    ProductCatalogClient,
    RemoteProductNotFoundError,
)
from products.models import (
    CatalogOutboxEntry,
    CatalogOutboxStatus,
    Product,
)
from products.services.mirror import mirror_stock_sync
from products.services.stock import stock_change

logger = logging.getLogger(__name__)


OUTBOX_LEASE = timedelta(seconds=120)  # longer than any catalog call with its timeouts
OUTBOX_MAX_BACKOFF = timedelta(hours=1)


def catalog_outbox_add(
    *,
    deltas: Mapping[int, int],
    reason: str,
    reference: str,
    actor: Actor,
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
    *,
    entry_ids: Iterable[int] | None = None,
    client: ProductCatalogClient | None = None,
    limit: int = 500,
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
            mirror_stock_sync(
                product_id=entry.product_id,
                delta_after_sync=0,
                target=remote.stock_quantity,
                reference=entry.reference,
            )
        counts["done"] += 1
    return counts
