"""Idempotent ``POST /api/sales/`` (the ``Idempotency-Key`` header).

The first request with a key claims it (a row, committed at once); its answer is stored when
done. A repeat with the same key and body replays the stored answer; one with another body is
refused with 422. A repeat that arrives while the first is still running waits for it a little,
then gets a 409 ``idempotency_in_progress`` with ``Retry-After``: concurrent duplicates never make
two sales. Only a success is stored: a request that failed (invalid, out of stock, catalog
down) recorded nothing, so its key is released and a retry with the same key runs again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import ApplicationError, ConflictError
from sales.models import IdempotencyKey, IdempotencyKeyStatus

MAX_KEY_LENGTH = 255
PROCESSING_TAKEOVER_AFTER = timedelta(minutes=5)  # a request that died leaves its key claimable
WAIT_FOR_FIRST_REQUEST_SECONDS = 5.0


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def request_fingerprint(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApplicationError(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )


def idempotency_key_claim(
    *, user: AbstractBaseUser, key: str, fingerprint: str
) -> IdempotencyKey | StoredResponse:
    """Claim ``key`` for this request: returns the claimed row, or the stored answer of an
    earlier request with the same key and body."""
    _validate_key(key)
    deadline = time.monotonic() + WAIT_FOR_FIRST_REQUEST_SECONDS
    while True:
        now = timezone.now()
        IdempotencyKey.objects.filter(user=user, key=key, expires_at__lte=now).delete()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    user=user,
                    key=key,
                    request_fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
                )
        except IntegrityError:
            existing = IdempotencyKey.objects.filter(user=user, key=key).first()
        if existing is None:
            continue  # it expired or was released meanwhile: claim again
        if existing.request_fingerprint != fingerprint:
            raise ApplicationError(
                "This Idempotency-Key was used with a different request body; use a new key "
                "for a new sale.",
                code="idempotency_key_mismatch",
                status_code=422,
            )
        if existing.status == IdempotencyKeyStatus.COMPLETED:
            return StoredResponse(existing.response_status, existing.response_body)
        if existing.created_at <= now - PROCESSING_TAKEOVER_AFTER:
            taken = IdempotencyKey.objects.filter(
                pk=existing.pk,
                status=IdempotencyKeyStatus.PROCESSING,
                created_at=existing.created_at,
            ).update(created_at=now)
            if taken:
                existing.created_at = now
                return existing
        if time.monotonic() >= deadline:
            raise ConflictError(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="idempotency_in_progress",
                retry_after=1,
            )
        time.sleep(0.05)


def idempotency_key_complete(
    *, record: IdempotencyKey, status: int, body: Any, sale_id: int | None
) -> None:
    """Store a successful answer to replay; a failure releases the key instead."""
    if not 200 <= status < 300:
        idempotency_key_release(record=record)
        return
    IdempotencyKey.objects.filter(pk=record.pk).update(
        status=IdempotencyKeyStatus.COMPLETED,
        response_status=status,
        response_body=json.loads(json.dumps(body, default=str)),
        sale_id=sale_id,
    )


def idempotency_key_release(*, record: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKeyStatus.PROCESSING).delete()


def idempotency_keys_purge(*, batch_size: int = 10_000) -> int:
    """Delete expired keys in batches; returns how many went."""
    deleted = 0
    while True:
        ids = list(
            IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).values_list(
                "pk", flat=True
            )[:batch_size]
        )
        if not ids:
            return deleted
        deleted += IdempotencyKey.objects.filter(pk__in=ids).delete()[0]
