"""Prometheus metrics (prometheus_client), served at ``/metrics``.

Request metrics come from :class:`MetricsMiddleware`; the domain counters from one-line calls in
the services (:func:`sale_recorded`, :func:`stock_out`, :func:`catalog_error`,
:func:`import_rows`), task outcomes from Celery's ``task_success``/``task_failure``/
``task_retry`` signals (connected here; ``core.jobs`` imports this module in ``ready``).

The ``view`` label is the resolved URL name (``sale-list``, ``health-ready``…), or the view's
dotted path for an unnamed route, ``unresolved`` when no route matched: never the raw path, so
the number of series stays bounded.

Access: ``Authorization: Bearer <METRICS_TOKEN>``; with ``METRICS_TOKEN`` unset, a logged-in
staff session (the admin's). Anyone else gets a 404, exactly what an unknown path answers: the
endpoint does not advertise itself to scanners (a 403 would confirm it exists).

Gunicorn with several workers: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory (wiped at
each start) for every process; the scrape then aggregates the files of every worker with
``multiprocess.MultiProcessCollector`` (and gunicorn's ``child_exit`` hook should call
``prometheus_client.multiprocess.mark_process_dead(worker.pid)``).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from celery.signals import task_failure, task_retry, task_success
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by view, method and status",
    ["view", "method", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by view",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SALES_RECORDED = Counter("sales_recorded_total", "Sales recorded (sale service)")
STOCK_OUTS = Counter("stock_outs_total", "Sales or purchases refused for insufficient stock")
CATALOG_ERRORS = Counter(
    "catalog_errors_total", "Failed calls to the remote catalog, by outcome", ["outcome"]
)
IMPORT_ROWS = Counter(
    "import_rows_total", "Rows of imported files, read and rejected, by table", ["table", "outcome"]
)
TASK_OUTCOMES = Counter(
    "task_outcomes_total",
    "Celery task outcomes (success, failure, retry), by task",
    ["task", "outcome"],
)

# Read replicas (core/ops/replicas.py): set at each state check of a replica, per process (the
# highest of the processes' last values when several report).
REPLICA_LAG = Gauge(
    "db_replica_lag_seconds",
    "Replay lag of a read replica (0 when it has replayed all it received), at its last check",
    ["replica"],
    multiprocess_mode="livemax",
)
REPLICA_UP = Gauge(
    "db_replica_up",
    "1 when a read replica answered its last state check, 0 when it was down",
    ["replica"],
    multiprocess_mode="livemin",
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


# --- Helpers called from the services -------------------------------------------------------


def sale_recorded() -> None:
    SALES_RECORDED.inc()


def stock_out() -> None:
    STOCK_OUTS.inc()


def catalog_error(outcome: str) -> None:
    CATALOG_ERRORS.labels(outcome=outcome).inc()


def import_rows(table: str, *, read: int, rejected: int) -> None:
    IMPORT_ROWS.labels(table=table, outcome="read").inc(read)
    IMPORT_ROWS.labels(table=table, outcome="rejected").inc(rejected)


def replica_lag(alias: str, lag: float | None) -> None:
    """A replica's state check: its lag in seconds, ``None`` when it was down."""
    REPLICA_UP.labels(replica=alias).set(0 if lag is None else 1)
    if lag is not None:
        REPLICA_LAG.labels(replica=alias).set(lag)


# --- Celery task outcomes ---------------------------------------------------------------------


def _task_name(sender: object) -> str:
    return str(getattr(sender, "name", None) or sender or "unknown")


@task_success.connect(weak=False, dispatch_uid="core.ops.metrics.task_success")
def _task_succeeded(sender: object = None, **kwargs: Any) -> None:
    TASK_OUTCOMES.labels(task=_task_name(sender), outcome="success").inc()


@task_failure.connect(weak=False, dispatch_uid="core.ops.metrics.task_failure")
def _task_failed(sender: object = None, **kwargs: Any) -> None:
    TASK_OUTCOMES.labels(task=_task_name(sender), outcome="failure").inc()


@task_retry.connect(weak=False, dispatch_uid="core.ops.metrics.task_retry")
def _task_retried(sender: object = None, **kwargs: Any) -> None:
    TASK_OUTCOMES.labels(task=_task_name(sender), outcome="retry").inc()


# --- HTTP -----------------------------------------------------------------------------------


def view_label(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unresolved"
    return match.view_name or match.route or "unnamed"


class MetricsMiddleware:
    """Counts and times every request by resolved view (near the top of ``MIDDLEWARE``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        view = view_label(request)
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(view=view, method=method, status=str(response.status_code)).inc()
        HTTP_DURATION.labels(view=view).observe(time.perf_counter() - started)
        return response


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        raise Http404  # as for an unknown path: nothing tells a scanner the endpoint exists
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
