"""Application errors: what services raise when a client can act on a failure.

Each carries its HTTP status, a machine-readable code and, for a passing failure, how long to
wait before retrying (``retry_after``); no HTTP headers. The API answers them in its one error
shape (``core/api/exception_handler.py``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError, RestrictedError
from rest_framework import status


class ApplicationError(Exception):
    """A failure a client can act on. Carries its HTTP status and machine-readable code, and
    for a passing failure (``retry_after``) how many seconds to wait before trying again, which
    the API's handler (``core.api.exception_handler``) answers as ``Retry-After``."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        if retry_after is not None:
            self.retry_after = retry_after
        self.fields = fields or {}
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class ConflictError(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


def protected_error_message(exc: ProtectedError | RestrictedError) -> str:
    """What a refused delete (``on_delete=PROTECT``/``RESTRICT``) tells the user."""
    blocking = exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
    blockers = sorted({str(obj._meta.verbose_name_plural) for obj in blocking})
    return f"It cannot be deleted: {', '.join(blockers)} still refer to it."
