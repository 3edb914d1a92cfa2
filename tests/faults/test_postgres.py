"""PostgreSQL connections killed under a gunicorn instance (``DB_CONN_MAX_AGE=600``: the
workers keep their connections; ``DB_CONN_HEALTH_CHECKS=true``: a reused connection is checked
at the start of each request and reopened when dead)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.faults.conftest import assert_ready

pytestmark = pytest.mark.django_db(databases=[])


def _all_ok(app, product, n=6):
    for _ in range(n):
        response = app.api("GET", f"/api/products/{product}/")
        assert response.status_code == 200, app.log_text()[-4000:]
        assert response.json()["id"] == product


def test_connections_terminated_between_requests_are_reopened(fault_db, redis_server, start_app):
    app = start_app(REDIS_URL=f"{redis_server.url}/0", workers=2)
    product = fault_db.create_product(stock=20)
    _all_ok(app, product)
    assert app.sale(product, 1).status_code == 201

    assert fault_db.terminate_app_connections() >= 1  # the workers' persistent connections

    # Every following request succeeds, reads and writes, on a fresh connection.
    _all_ok(app, product)
    response = app.sale(product, 2)
    assert response.status_code == 201, response.text
    assert fault_db.stock(product) == 17 == fault_db.ledger_sum(product)
    assert_ready(app)


def test_connection_terminated_during_a_request_fails_it_cleanly(fault_db, redis_server, start_app):
    app = start_app(REDIS_URL=f"{redis_server.url}/0", workers=1)
    product = fault_db.create_product(stock=20)
    _all_ok(app, product, n=2)

    # A slow request: the product list waits on a lock this test holds.
    locker = psycopg.connect(**fault_db.dsn)
    outcome: dict = {}
    try:
        locker.execute("LOCK TABLE products_product IN ACCESS EXCLUSIVE MODE")

        def request():
            started = time.monotonic()
            try:
                outcome["response"] = app.api("GET", "/api/products/", timeout=20)
            except Exception as error:  # a broken connection is an acceptable outcome too
                outcome["error"] = error
            outcome["elapsed"] = time.monotonic() - started

        thread = threading.Thread(target=request)
        thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            waiting = fault_db.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND wait_event_type = 'Lock'",
                (fault_db.name,),
            )[0][0]
            if waiting:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the request never waited on the lock")
        # Kill the app's connections (not the lock holder's, nor the helper's own).
        holder = locker.info.backend_pid
        fault_db.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND pid <> %s",
            (fault_db.name, holder),
        )
        thread.join(15)
        assert not thread.is_alive(), "the request hung after its connection was killed"
    finally:
        locker.rollback()
        locker.close()

    assert outcome["elapsed"] < 5
    if "response" in outcome:
        response = outcome["response"]
        assert response.status_code == 500, response.text
        assert response.json() == {
            "error": {
                "code": "server_error",
                "message": "An unexpected error occurred; it has been logged.",
                "fields": {},
            }
        }
    # The next requests, on the same single worker, succeed.
    _all_ok(app, product)
    assert app.sale(product, 1).status_code == 201
    assert_ready(app)
