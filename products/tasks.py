"""Celery tasks of the products app: thin, take ids, safe to run twice."""

from celery import shared_task

from products import services


@shared_task(name="products.process_catalog_outbox")
def process_catalog_outbox_task(entry_ids: list[int]) -> dict[str, int]:
    """Send these outbox entries to the remote catalog now (after the commit that wrote them)."""
    return services.catalog_outbox_process(entry_ids=entry_ids)


@shared_task(name="products.retry_catalog_outbox")
def retry_catalog_outbox_task() -> dict[str, int]:
    """Beat: send every due outbox entry (pending ones whose backoff has passed)."""
    return services.catalog_outbox_process()


@shared_task(name="products.sync_catalog")
def sync_catalog_task(product_ids: list[int] | None = None) -> dict[str, int]:
    """Refresh the local mirrors of remote catalog products (HTTP catalog); ``product_ids``
    are the remote catalog's ids (default: every mirrored product)."""
    result = services.catalog_sync(remote_ids=product_ids)
    return {key: len(ids) for key, ids in result.items()}
