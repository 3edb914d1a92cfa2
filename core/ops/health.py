"""Health endpoints for load balancers and orchestrators (public, never cached, not throttled:
plain Django views, outside DRF).

- ``GET /health/live``: the process answers (no database, no cache): ``{"status": "ok"}``.
- ``GET /health/ready``: the database (``SELECT 1``), the cache (set and read back a probe key)
  and the Celery broker (a connection) are checked concurrently, each within
  ``HEALTH_CHECK_TIMEOUT`` seconds; 200 when all are usable, 503 when one is down, with the
  detail of each::

      {"status": "down", "checks": {
          "database": {"status": "ok", "ok": true, "latency_ms": 1.3},
          "cache": {"status": "down", "ok": false, "latency_ms": 2.0, "error": "..."},
          "broker": {"status": "not used", "ok": true, "latency_ms": 0.0, "detail": "..."}}}

  The embedded default's in-memory broker (``memory://``, tasks run eagerly) is "not used",
  which is not a failure. Error messages never carry credentials (URLs' user:password parts are
  masked).

With read replicas (``DATABASE_REPLICA_URL``), ``/health/ready`` adds ``"replicas"``: each
replica's ``status`` (``ok``, ``lagging``, ``down``) and ``lag_seconds``; they never fail
readiness (the router skips them and the primary answers)::

      "replicas": {"replica_0": {"status": "ok", "lag_seconds": 0.0}}
"""

from __future__ import annotations

import contextvars
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

OK, DOWN, NOT_USED = "ok", "down", "not used"
_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)
_PASSWORD = re.compile(r"(password=)\S+", re.IGNORECASE)
_executor_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


class _NotUsed(Exception):
    pass


def safe_message(exc: BaseException) -> str:
    text = f"{exc.__class__.__name__}: {exc}".strip().splitlines()[0]
    text = _CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _PASSWORD.sub(r"\1***", text)[:300]


def check_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            if cursor.fetchone()[0] != 1:
                raise RuntimeError("SELECT 1 did not answer 1")
    finally:
        connection.close()  # this thread's own connection (a no-op on an in-memory SQLite)


def check_cache() -> None:
    cache = caches["default"]
    key, value = "health:probe", uuid.uuid4().hex
    cache.set(key, value, timeout=30)
    # django-redis ignores a down Redis (IGNORE_EXCEPTIONS): the value is simply not there.
    if cache.get(key) != value:
        raise RuntimeError("the probe key could not be written and read back")


def check_broker() -> None:
    # The project's Celery app (salesproject/celery.py, the current app once the project
    # package is loaded): the core never imports the project package.
    from celery import current_app as app

    url = app.conf.broker_write_url or app.conf.broker_url or ""
    if url.startswith("memory://"):
        raise _NotUsed("in-process memory broker: tasks run eagerly")
    timeout = settings.HEALTH_CHECK_TIMEOUT
    with app.connection_for_write(connect_timeout=timeout) as connection:
        # kombu takes the timeout in seconds as a float (its stubs say int).
        connection.ensure_connection(
            max_retries=1,
            interval_start=0,
            timeout=timeout,  # type: ignore[arg-type]
        )


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any]
    try:
        check()
        result = {"status": OK}
    except _NotUsed as exc:
        result = {"status": NOT_USED, "detail": str(exc)}
    except Exception as exc:
        result = {"status": DOWN, "error": safe_message(exc)}
    result["ok"] = result["status"] != DOWN
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            # Enough threads for a few stuck checks of earlier probes plus a fresh set.
            _executor = ThreadPoolExecutor(max_workers=12, thread_name_prefix="health")
        return _executor


def run_checks() -> dict[str, dict[str, Any]]:
    timeout = settings.HEALTH_CHECK_TIMEOUT
    started = time.perf_counter()
    # Each check runs in the request's context: its log lines carry the request id.
    futures = {
        name: _pool().submit(contextvars.copy_context().run, _timed, check)
        for name, check in CHECKS.items()
    }
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        remaining = max(timeout - (time.perf_counter() - started), 0.0)
        try:
            results[name] = future.result(timeout=remaining)
        except FutureTimeout:
            future.cancel()
            results[name] = {
                "status": DOWN,
                "ok": False,
                "error": f"no answer within {timeout:g} s",
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            }
    return results


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _replica_state(alias: str) -> dict[str, Any]:
    from core.ops import replicas

    try:
        return replicas.replica_state(alias, fresh=True).as_dict()
    finally:
        connections[alias].close()  # this thread's own connection


def start_replica_checks() -> dict[str, Future[dict[str, Any]]]:
    """Each read replica's state and lag (``core/ops/replicas.py``), measured in the pool
    while the other checks run; :func:`replica_results` collects them within
    ``HEALTH_CHECK_TIMEOUT``. Informative: a replica down or lagging is skipped by the router
    (the primary answers), so it never fails readiness."""
    from core.ops import replicas

    return {
        alias: _pool().submit(contextvars.copy_context().run, _replica_state, alias)
        for alias in replicas.replica_aliases()
    }


def replica_results(
    futures: dict[str, Future[dict[str, Any]]], started: float
) -> dict[str, dict[str, Any]]:
    timeout = settings.HEALTH_CHECK_TIMEOUT
    results: dict[str, dict[str, Any]] = {}
    for alias, future in futures.items():
        remaining = max(timeout - (time.perf_counter() - started), 0.0)
        try:
            results[alias] = future.result(timeout=remaining)
        except FutureTimeout:
            future.cancel()
            results[alias] = {
                "status": DOWN,
                "lag_seconds": None,
                "error": f"no answer within {timeout:g} s",
            }
    return results


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    replica_futures = start_replica_checks()  # concurrently with the others
    checks = run_checks()
    healthy = all(result["ok"] for result in checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "down", "checks": checks}
    replica_checks = replica_results(replica_futures, started)
    if replica_checks:
        body["replicas"] = replica_checks
    return JsonResponse(body, status=200 if healthy else 503)
