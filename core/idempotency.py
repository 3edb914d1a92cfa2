"""Idempotency keys: the one mechanism behind every ``Idempotency-Key`` header of the API.

An app keeps its keys in a model derived from :class:`IdempotencyRecord` (with its owner: a
user, an API key...) and calls the services below:

- :func:`idempotency_claim`: the first request with a key claims it (a row, committed at once).
  A repeat with the same request (same fingerprint) gets the stored answer; one with another
  request is refused with 422. A repeat arriving while the first still runs waits for it a
  little, then gets a 409 ``idempotency_in_progress`` (retry after 1 s): concurrent duplicates
  never run twice. A claim left by a request that died is taken over after a while.
- :func:`idempotency_complete`: stores a successful answer (in the transaction of the write,
  where the caller can); a failure releases the key instead (:func:`idempotency_release`), so a
  retry with the same key runs again.
- :func:`idempotency_purge`: deletes expired keys in batches (``IDEMPOTENCY_KEY_TTL_HOURS``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core.errors import ApplicationError, ConflictError

MAX_KEY_LENGTH = 255
PROCESSING_TAKEOVER_AFTER = timedelta(minutes=5)  # a request that died leaves its key claimable
WAIT_FOR_FIRST_REQUEST_SECONDS = 5.0
IN_PROGRESS_RETRY_AFTER = 1  # seconds


class IdempotencyStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"


class IdempotencyRecord(models.Model):
    """A claimed ``Idempotency-Key`` and, once its request succeeded, the answer to replay.
    Concrete models add the owner the key belongs to (unique with ``key``)."""

    Status = IdempotencyStatus

    key = models.CharField(max_length=MAX_KEY_LENGTH)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the request body.")
    status = models.CharField(
        max_length=12, choices=IdempotencyStatus.choices, default=IdempotencyStatus.PROCESSING
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


Record = TypeVar("Record", bound=IdempotencyRecord)


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def request_fingerprint(data: Any) -> str:
    """SHA-256 of the request as canonical JSON (the order of keys does not matter)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_key_validate(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApplicationError(
            f"The Idempotency-Key header must be 1 to {MAX_KEY_LENGTH} printable characters.",
            code="invalid_idempotency_key",
        )


def idempotency_claim(
    *,
    model: type[Record],
    owner: dict[str, Any],
    key: str,
    fingerprint: str,
    mismatch_message: str,
    values: dict[str, Any] | None = None,
    wait_seconds: float = WAIT_FOR_FIRST_REQUEST_SECONDS,
) -> Record | StoredResponse:
    """Claim ``key`` of ``owner`` (e.g. ``{"user": user}``) for this request: returns the
    claimed row (created with ``values`` too), or the stored answer of an earlier request with
    the same key and fingerprint. Raises 422 ``idempotency_key_mismatch`` (``mismatch_message``)
    for another request, 409 ``idempotency_in_progress`` if the first is still running after
    ``wait_seconds``."""
    idempotency_key_validate(key)
    deadline = time.monotonic() + wait_seconds
    while True:
        now = timezone.now()
        model._default_manager.filter(**owner, key=key, expires_at__lte=now).delete()
        try:
            with transaction.atomic():
                return model._default_manager.create(
                    **owner,
                    **(values or {}),
                    key=key,
                    request_fingerprint=fingerprint,
                    created_at=now,
                    expires_at=now + timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
                )
        except IntegrityError:
            existing = model._default_manager.filter(**owner, key=key).first()
        if existing is None:
            continue  # it expired or was released meanwhile: claim again
        if existing.request_fingerprint != fingerprint:
            raise ApplicationError(
                mismatch_message, code="idempotency_key_mismatch", status_code=422
            )
        if existing.status == IdempotencyStatus.COMPLETED:
            assert existing.response_status is not None  # set with the status (complete)
            return StoredResponse(existing.response_status, existing.response_body)
        if existing.created_at <= now - PROCESSING_TAKEOVER_AFTER:
            taken = model._default_manager.filter(
                pk=existing.pk,
                status=IdempotencyStatus.PROCESSING,
                created_at=existing.created_at,
            ).update(created_at=now)
            if taken:
                existing.created_at = now
                return existing
        if time.monotonic() >= deadline:
            raise ConflictError(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="idempotency_in_progress",
                retry_after=IN_PROGRESS_RETRY_AFTER,
            )
        time.sleep(0.05)


def idempotency_complete(
    *, record: IdempotencyRecord, status: int, body: Any, **values: Any
) -> None:
    """Store a successful answer (and ``values``, e.g. what it created) to replay; a failure
    releases the key instead."""
    if not 200 <= status < 300:
        idempotency_release(record=record)
        return
    type(record)._default_manager.filter(pk=record.pk).update(
        status=IdempotencyStatus.COMPLETED,
        response_status=status,
        response_body=json.loads(json.dumps(body, default=str)),
        **values,
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    type(record)._default_manager.filter(pk=record.pk, status=IdempotencyStatus.PROCESSING).delete()


def idempotency_purge(*, model: type[IdempotencyRecord], batch_size: int = 10_000) -> int:
    """Delete expired keys in batches; returns how many went."""
    deleted = 0
    while True:
        expired = model._default_manager.filter(expires_at__lte=timezone.now())
        ids = list(expired.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += model._default_manager.filter(pk__in=ids).delete()[0]
