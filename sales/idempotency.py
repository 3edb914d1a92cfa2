"""Idempotent ``POST /api/sales/`` (the ``Idempotency-Key`` header), through the one
mechanism of ``core/idempotency.py``.

The first request with a key claims it (a row, committed at once); its answer is stored when
done. A repeat with the same key and body replays the stored answer; one with another body is
refused with 422. A repeat that arrives while the first is still running waits for it a little,
then gets a 409 ``idempotency_in_progress`` with ``Retry-After``: concurrent duplicates never make
two sales. Only a success is stored: a request that failed (invalid, out of stock, catalog
down) recorded nothing, so its key is released and a retry with the same key runs again.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from core.idempotency import (
    WAIT_FOR_FIRST_REQUEST_SECONDS,
    StoredResponse,
    idempotency_claim,
    idempotency_complete,
    idempotency_purge,
    idempotency_release,
    request_fingerprint,
)
from sales.models import IdempotencyKey

__all__ = [
    "StoredResponse",
    "idempotency_key_claim",
    "idempotency_key_complete",
    "idempotency_key_release",
    "idempotency_keys_purge",
    "request_fingerprint",
]


def idempotency_key_claim(
    *, user: AbstractBaseUser, key: str, fingerprint: str
) -> IdempotencyKey | StoredResponse:
    """Claim ``key`` for this request: returns the claimed row, or the stored answer of an
    earlier request with the same key and body."""
    return idempotency_claim(
        model=IdempotencyKey,
        owner={"user": user},
        key=key,
        fingerprint=fingerprint,
        mismatch_message="This Idempotency-Key was used with a different request body; use a "
        "new key for a new sale.",
        wait_seconds=WAIT_FOR_FIRST_REQUEST_SECONDS,
    )


def idempotency_key_complete(
    *, record: IdempotencyKey, status: int, body: Any, sale_id: int | None
) -> None:
    """Store a successful answer to replay; a failure releases the key instead."""
    idempotency_complete(record=record, status=status, body=body, sale_id=sale_id)


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    idempotency_release(record=record)


def idempotency_keys_purge(*, batch_size: int = 10_000) -> int:
    """Delete expired keys in batches; returns how many went."""
    return idempotency_purge(model=IdempotencyKey, batch_size=batch_size)
