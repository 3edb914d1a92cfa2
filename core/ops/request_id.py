"""Request ids and task ids on every log line.

- :class:`RequestIdMiddleware` (first in ``MIDDLEWARE``): takes the incoming ``X-Request-ID``
  when it is a sane token (1 to 128 characters of ``[A-Za-z0-9._-]``), else generates a uuid4 hex;
  keeps it in a context variable for the whole request (cleared when the response is closed, so
  Django's own ``django.request`` line about a 4xx/5xx carries it too) and echoes it in the
  response's ``X-Request-ID`` header.
- Celery: ``task_prerun`` puts the task id in a context variable, ``task_postrun`` clears it.
- An OAuth2 request names its application (``set_request_client``, called by its
  authentication): every later record of the request gets it as ``client`` (text lines:
  ``[<request id> app=<name>]``).
- Every log record gets ``request_id`` and ``task_id`` attributes (``None`` outside a request /
  a task) from a log record factory installed when this module is imported (``LOGGING``
  imports it), so every handler sees them, pytest's ``caplog`` included;
  :class:`ContextFilter` does the same for records made elsewhere (``makeLogRecord``).
- :class:`TextFormatter`: ``time LEVEL logger [request id] message`` (``[task <id>]`` in a task,
  ``[-]`` outside both); JSON lines come from python-json-logger (``LOG_FORMAT=json``), which
  writes both ids as fields.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponseBase

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,128}")

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("client", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def current_task_id() -> str | None:
    return _task_id.get()


def set_request_client(name: str | None) -> None:
    """Name the API client of the current request (an OAuth2 application, set by its
    authentication) on every later log record of the request (``client``)."""
    _client.set(name)


def accept_or_generate(incoming: str | None) -> str:
    """The client's id when it is a sane token, else a new one (never log garbage)."""
    if incoming and _SANE.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = accept_or_generate(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]  # ours, for the views
        _request_id.set(request_id)
        _client.set(None)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _clear_request_id(**kwargs: Any) -> None:
    _request_id.set(None)
    _client.set(None)


# After the response is closed: Django logs a 4xx/5xx answer after the middleware chain.
request_finished.connect(_clear_request_id, dispatch_uid="core.ops.request_id.clear")


@task_prerun.connect(weak=False, dispatch_uid="core.ops.request_id.task_prerun")
def _set_task_id(task_id: str | None = None, **kwargs: Any) -> None:
    _task_id.set(task_id)


@task_postrun.connect(weak=False, dispatch_uid="core.ops.request_id.task_postrun")
def _clear_task_id(**kwargs: Any) -> None:
    _task_id.set(None)


def _add_context(record: logging.LogRecord) -> None:
    if not hasattr(record, "request_id"):
        record.request_id = _request_id.get()
    if not hasattr(record, "task_id"):
        record.task_id = _task_id.get()
    if not hasattr(record, "client"):
        record.client = _client.get()


_previous_factory = logging.getLogRecordFactory()
if not getattr(_previous_factory, "adds_request_context", False):

    def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = _previous_factory(*args, **kwargs)
        _add_context(record)
        return record

    _record_factory.adds_request_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(_record_factory)


class ContextFilter(logging.Filter):
    """Puts ``request_id`` and ``task_id`` on a record that has not got them."""

    def filter(self, record: logging.LogRecord) -> bool:
        _add_context(record)
        return True


class TextFormatter(logging.Formatter):
    """Readable lines: ``%(ids)s`` is the request id, ``task <id>`` in a task, or ``-``."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        task_id = getattr(record, "task_id", None)
        ids = request_id or (f"task {task_id}" if task_id else "-")
        if request_id and task_id:
            ids = f"{request_id} task {task_id}"
        client = getattr(record, "client", None)
        if client:
            ids = f"{ids} app={client}"
        return self._style._fmt % {**record.__dict__, "ids": ids}
