"""Celery tasks of the sales app: thin, safe to run twice."""

from celery import shared_task

from sales import idempotency


@shared_task(name="sales.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    """Beat: delete Idempotency-Key records past their expiry (kept >= 24 h)."""
    return idempotency.idempotency_keys_purge()
