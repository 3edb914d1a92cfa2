"""PostgreSQL's ``statement_timeout`` for every connection, by the kind of process.

A web process (gunicorn, ``runserver``, the test run) answers requests: no query may hold a
worker longer than ``DB_STATEMENT_TIMEOUT_MS``. Management commands and Celery workers run the
long jobs (imports, exports, rollups) under ``DB_STATEMENT_TIMEOUT_JOBS_MS``. The entry points
say which kind they are (``manage.py``, ``salesproject/celery.py``); any other process is a web
one, the tighter bound.

The timeout is set once per connection, when Django opens it (``connection_created``): with
``CONN_MAX_AGE`` a connection serves many requests, and a session setting outlives them all.
A query stopped by it raises :class:`django.db.OperationalError` caused by psycopg's
``QueryCanceled`` (SQLSTATE 57014): :func:`is_query_timeout` recognises it, and the API's
exception handler answers 503 ``query_timeout`` (``core/api/exception_handler.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.backends.signals import connection_created

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

WEB, JOBS = "web", "jobs"
QUERY_CANCELED = "57014"  # SQLSTATE query_canceled: statement_timeout or a cancel request

_process_kind = WEB


def set_process_kind(kind: str) -> None:
    """Called by an entry point before its first query; connections already open keep the
    timeout they were opened with, so they are closed."""
    global _process_kind
    if kind not in (WEB, JOBS):
        raise ValueError(f"process kind must be {WEB!r} or {JOBS!r}, not {kind!r}")
    if kind != _process_kind:
        _process_kind = kind
        from django.conf import settings
        from django.db import connections

        if settings.configured:
            connections.close_all()


def process_kind() -> str:
    return _process_kind


def statement_timeout_ms(kind: str | None = None) -> int:
    """The timeout of this process's kind, in milliseconds (0 = none)."""
    from django.conf import settings

    if (kind or _process_kind) == JOBS:
        return settings.DB_STATEMENT_TIMEOUT_JOBS_MS
    return settings.DB_STATEMENT_TIMEOUT_MS


def apply_statement_timeout(
    connection: BaseDatabaseWrapper, milliseconds: int | None = None
) -> None:
    """``SET statement_timeout`` for this session (a PostgreSQL connection only)."""
    if connection.vendor != "postgresql":
        return
    if milliseconds is None:
        milliseconds = statement_timeout_ms()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{milliseconds}ms"])


def _on_connection_created(
    sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    apply_statement_timeout(connection)


connection_created.connect(_on_connection_created, dispatch_uid="salesproject.statement_timeout")


def is_query_timeout(exc: BaseException) -> bool:
    """A query stopped by ``statement_timeout`` (or cancelled): Django's OperationalError
    caused by psycopg's QueryCanceled, recognised by its SQLSTATE."""
    from django.db import OperationalError

    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == QUERY_CANCELED
