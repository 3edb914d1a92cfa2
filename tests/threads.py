"""Run work in real threads started together, each with its own database connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import OperationalError, connection

THREAD_TIMEOUT = 20  # seconds; a hung thread fails the test instead of hanging the suite


def _connect_with_retry(attempts: int = 20) -> None:
    """Open this thread's connection; the PostgreSQL server is shared with other test runs, so
    a momentary "too many clients" is waited out rather than failing the test."""
    for attempt in range(attempts):
        try:
            connection.ensure_connection()
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(index)`` in ``count`` threads released together by a barrier. Each thread has
    its own database connection (opened before the barrier, so the race is on the rows, and
    closed at the end). Returns each thread's result, or the exception it raised, by index."""
    barrier = threading.Barrier(count, timeout=THREAD_TIMEOUT)
    results: list[Any] = [None] * count

    def target(index: int) -> None:
        try:
            _connect_with_retry()
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # handed back to the test, which inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (lock wait?)"
    return results
