"""Celery tasks of the sales app: thin, safe to run twice."""

from celery import shared_task

from products.services import catalog_request_keys_purge
from sales import idempotency


@shared_task(name="sales.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    """Beat: delete Idempotency-Key answers past their expiry (kept >= 24 h): those of
    POST /api/sales/ and those of the catalog purchase/restock endpoints."""
    return idempotency.idempotency_keys_purge() + catalog_request_keys_purge()
