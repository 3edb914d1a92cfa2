"""The one error shape of the API, and the handlers that answer it.

Every API error answers ``{"error": {"code": "...", "message": "...", "fields": {...}}}`` with
the right HTTP status: :func:`api_exception_handler` (DRF's ``EXCEPTION_HANDLER``) maps the
application errors (``core/errors.py``: status, code, ``Retry-After`` from ``retry_after``),
Django's and DRF's; the middlewares and ``handler404``/``handler500`` do the same outside DRF.
Views never build error responses themselves.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, protected_error_message
from core.ops.database import is_query_timeout

logger = logging.getLogger(__name__)


def error_body(
    code: str, message: str, fields: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}, **extra}}


def _drf_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(codes.get("code"), str):
        return str(codes["code"])  # simplejwt's InvalidToken
    return str(exc.default_code)


def _drf_message(exc: exceptions.APIException) -> str:
    detail = exc.detail
    if isinstance(detail, dict) and "detail" in detail:
        return str(detail["detail"])
    if isinstance(detail, list | dict):
        return str(exc.default_detail)
    return str(detail)


def _lines_as_lists(detail: Any) -> Any:
    """DRF reports the errors of a list's items as ``{index: errors}`` for the bad items only;
    the services report ``[{}, {...}]``, one entry per line. Give clients the one shape: a list
    indexed by line, ``{}`` for a line without errors."""
    if isinstance(detail, dict):
        converted = {key: _lines_as_lists(value) for key, value in detail.items()}
        if converted and all(isinstance(key, int) and key >= 0 for key in converted):
            return [converted.get(index, {}) for index in range(max(converted) + 1)]
        return converted
    if isinstance(detail, list):
        return [_lines_as_lists(value) for value in detail]
    return detail


def _validation_fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        fields: dict[str, Any] = _lines_as_lists(detail)
        return fields
    return {"non_field_errors": detail if isinstance(detail, list) else [detail]}


def _django_validation_to_drf(exc: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(exc, "error_dict"):
        fields = dict(exc.message_dict)
        if NON_FIELD_ERRORS in fields:
            fields["non_field_errors"] = fields.pop(NON_FIELD_ERRORS)
        return exceptions.ValidationError(fields)
    return exceptions.ValidationError({"non_field_errors": exc.messages})


QUERY_TIMEOUT_RETRY_AFTER = 5  # seconds


def query_timeout_message() -> str:
    from django.conf import settings

    return (
        f"The query took longer than the {settings.DB_STATEMENT_TIMEOUT_MS} ms the server allows "
        "and was stopped; narrow it (a shorter period, fewer or longer search words, more "
        "filters) or try again later."
    )


def query_timeout_response(
    response_class: Callable[..., HttpResponseBase], request: HttpRequest | None = None
) -> HttpResponseBase:
    """503 ``query_timeout``: a query stopped by PostgreSQL's statement_timeout
    (``core/ops/database.py``)."""
    logger.warning(
        "Query stopped by statement_timeout: %s",
        getattr(request, "get_full_path", lambda: "?")(),
    )
    response = response_class(
        error_body("query_timeout", query_timeout_message()),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    response["Retry-After"] = str(QUERY_TIMEOUT_RETRY_AFTER)
    return response


DATABASE_BUSY_RETRY_AFTER = 2  # seconds
DATABASE_BUSY_MESSAGE = (
    "The database is busy with another write (a rollup rebuild, an import) and the request "
    "gave up waiting for it; nothing was changed. Please try again in a moment."
)


def is_database_busy(exc: BaseException) -> bool:
    """SQLite (the embedded default) gave up waiting for another connection's lock after its
    busy timeout: Django's OperationalError caused by sqlite3's, recognised by its primary
    result code (SQLITE_BUSY, or SQLITE_LOCKED), not by its message."""
    from django.db import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    code = getattr(exc.__cause__, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def database_busy_response(
    request: HttpRequest | None,
    api_response_class: Callable[..., HttpResponseBase] | None = None,
) -> HttpResponseBase:
    """503 ``database_busy``: in the error shape (``api_response_class``, DRF's ``Response`` from
    the API's handler; ``JsonResponse`` under ``/api/``), a short page elsewhere."""
    logger.warning(
        "Database busy (SQLite lock wait timed out): %s",
        getattr(request, "get_full_path", lambda: "?")(),
    )
    if api_response_class is None and (request is None or _is_api_request(request)):
        api_response_class = JsonResponse
    response: HttpResponseBase
    if api_response_class is not None:
        response = api_response_class(
            error_body("database_busy", DATABASE_BUSY_MESSAGE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    else:
        response = HttpResponse(
            "<!doctype html><title>Database busy</title><h1>Database busy (503)</h1>"
            f"<p>{escape(DATABASE_BUSY_MESSAGE)}</p>",
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER)
    return response


class _ExceptionMiddleware:
    """A middleware that only answers for some exceptions (``process_exception``); requests pass
    through unchanged."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)


class DatabaseBusyMiddleware(_ExceptionMiddleware):
    """Outside DRF (the admin, the dashboard, plain views), in debug mode too: a view stopped by
    a locked SQLite database answers 503 instead of a 500 (``handler500`` covers what fails
    outside the views when DEBUG is off)."""

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        return database_busy_response(request) if is_database_busy(exception) else None


class QueryTimeoutMiddleware(_ExceptionMiddleware):
    """Outside DRF (the admin, the dashboard, plain views): a query stopped by the statement
    timeout answers a 503 (JSON under ``/api/``, a short page elsewhere) instead of a 500."""

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if not is_query_timeout(exception):
            return None
        if _is_api_request(request):
            return query_timeout_response(JsonResponse, request)
        return query_timeout_response(
            lambda body, status: HttpResponse(
                "<!doctype html><title>Query too slow</title><h1>Query too slow (503)</h1>"
                f"<p>{escape(body['error']['message'])}</p>",
                status=status,
            ),
            request,
        )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponseBase | None:
    """DRF ``EXCEPTION_HANDLER``: maps every known failure to the one error shape."""
    if isinstance(exc, ApplicationError):
        response = Response(
            error_body(exc.code, exc.message, exc.fields, **exc.extra), status=exc.status_code
        )
        if exc.retry_after is not None:
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, ProtectedError | RestrictedError):
        return Response(
            error_body("protected", protected_error_message(exc)), status=status.HTTP_409_CONFLICT
        )
    if is_query_timeout(exc):
        return query_timeout_response(Response, context.get("request"))
    if is_database_busy(exc):
        return database_busy_response(context.get("request"), Response)
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation_to_drf(exc)
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    drf_response = drf_exception_handler(exc, context)
    if drf_response is None or not isinstance(exc, exceptions.APIException):
        return drf_response
    if isinstance(exc, exceptions.ValidationError):
        fields = _validation_fields(exc.detail)
        message = "Invalid input."
        non_field = fields.get("non_field_errors")
        if isinstance(non_field, list) and non_field and len(fields) == 1:
            message = str(non_field[0])
        drf_response.data = error_body("invalid", message, fields)
    else:
        drf_response.data = error_body(_drf_code(exc), _drf_message(exc))
    return drf_response


def _is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler404``: JSON for API paths, Django's page elsewhere."""
    if _is_api_request(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


@csrf_exempt  # a 404 changes nothing: no CSRF failure page for an unknown path
def json_api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """The last ``/api/`` route: unknown API paths answer the JSON error shape (in debug mode
    too), with a hint when only the trailing slash is missing."""
    from django.urls import Resolver404, resolve

    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not json_api_not_found:
            message += f" Did you mean {request.path}/ (API paths end with a slash)?"
    return JsonResponse(error_body("not_found", message), status=404)


def json_server_error(request: HttpRequest) -> HttpResponseBase:
    """``handler500``: never leaks internals; JSON for API paths."""
    if is_database_busy(sys.exc_info()[1] or Exception()):  # e.g. a session saved by middleware
        return database_busy_response(request)
    if _is_api_request(request):
        return JsonResponse(
            error_body("server_error", "An unexpected error occurred; it has been logged."),
            status=500,
        )
    from django.views.defaults import server_error

    return server_error(request)
