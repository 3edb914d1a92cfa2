"""The Celery broker unreachable (``CELERY_BROKER_URL`` on a loopback port nothing listens on),
the cache (our own Redis) up, under gunicorn.

What a sale defers, and where it goes when the broker is down:
- the analytics cache bump is a cache write after commit (no broker involved);
- with the local catalog nothing else: the sale, its stock and its ledger are one transaction;
- with the HTTP catalog, remote stock changes still to make (compensations, restocks) are rows
  of the outbox table, written in the request's transaction; the task that sends them at once
  cannot be queued, so they stay pending until the beat's ``retry_catalog_outbox`` sends them.
Endpoints that only enqueue (price update, big imports) answer 503 ``queue_unavailable`` with
``Retry-After`` and change nothing (the job row is kept, failed, saying why).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests.app_instances import free_port, manage
from tests.catalog.fake_catalog import FakeCatalog
from tests.faults.conftest import _base_env, assert_ready

pytestmark = pytest.mark.django_db(databases=[])
# CELERY_BROKER_CONNECTION_TIMEOUT is 2 s and publishing retries twice: a 503 comes well within.
ENQUEUE_BUDGET = 8.0


@pytest.fixture
def dead_broker() -> str:
    return f"redis://127.0.0.1:{free_port()}/1"


def _assert_queue_unavailable(response, elapsed):
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "queue_unavailable", response.text
    assert int(response.headers["Retry-After"]) > 0
    assert elapsed < ENQUEUE_BUDGET, f"the 503 took {elapsed:.2f}s"


def test_broker_down_sales_record_and_enqueue_only_endpoints_answer_503(
    fault_db, redis_server, start_app, dead_broker
):
    app = start_app(
        REDIS_URL=f"{redis_server.url}/0",
        CELERY_BROKER_URL=dead_broker,
        IMPORT_SYNC_MAX_BYTES="10",  # any real file goes to a batch job
    )
    product = fault_db.create_product(price="20.00", stock=30)
    jobs_before = fault_db.count("jobs_batchjob")

    # A sale records in full: nothing of it waits on the broker.
    response, elapsed = app.timed(
        "POST", "/api/sales/", json={"items": [{"product": product, "quantity": 4}]}
    )
    assert response.status_code == 201, app.log_text()[-6000:]
    assert elapsed < 3.0
    sale = response.json()
    assert fault_db.stock(product) == 26 == fault_db.ledger_sum(product)
    assert fault_db.count("sales_sale", "id = %s AND status = 'completed'", (sale["id"],)) == 1
    assert app.api("GET", f"/api/sales/{sale['id']}/").json()["total"] == "80.00"

    # A price update runs only as a job: 503, no price changed.
    response, elapsed = app.timed(
        "POST",
        "/api/products/price-update/",
        json={
            "skus": [
                fault_db.sql("SELECT sku FROM products_product WHERE id = %s", (product,))[0][0]
            ],
            "percent": "10",
        },
    )
    _assert_queue_unavailable(response, elapsed)
    assert fault_db.sql("SELECT price FROM products_product WHERE id = %s", (product,))[0][0] == (
        Decimal("20.00")
    )

    # An import over IMPORT_SYNC_MAX_BYTES: 503, nothing imported.
    products_before = fault_db.count("products_product")
    csv = b"sku,name,price\r\nFLT-IMPORTED,Imported while the broker is down,5.00\r\n"
    response, elapsed = app.timed(
        "POST", "/api/products/import/", files={"file": ("products.csv", csv, "text/csv")}
    )
    _assert_queue_unavailable(response, elapsed)
    assert fault_db.count("products_product") == products_before

    # The two jobs are kept, failed, saying why (and can be retried from the API later).
    failed = fault_db.sql(
        "SELECT kind, status, message FROM jobs_batchjob WHERE id > "
        "(SELECT COALESCE(MAX(id), 0) FROM jobs_batchjob) - %s ORDER BY id",
        (fault_db.count("jobs_batchjob") - jobs_before,),
    )
    assert [(kind, status) for kind, status, _ in failed] == [
        ("price_update", "failed"),
        ("import", "failed"),
    ]
    assert all(message.startswith("Could not be queued") for _, _, message in failed)

    assert_ready(app, down={"broker"})


def test_broker_down_a_catalog_compensation_waits_in_the_outbox_until_the_beat_retry(
    fault_db, redis_server, start_app, dead_broker
):
    fake = FakeCatalog().start()
    try:
        catalog_env = {
            "CATALOG_BACKEND": "http",
            "CATALOG_API_URL": fake.url,
            "CATALOG_API_KEY": fake.api_key,
            "CATALOG_TIMEOUT": "1",
            "CATALOG_CONNECT_TIMEOUT": "0.5",
            "CELERY_BROKER_URL": dead_broker,
        }
        app = start_app(REDIS_URL=f"{redis_server.url}/0", **catalog_env)
        product = fake.add_product(stock=10)
        outbox_before = fault_db.count("products_catalogoutboxentry")

        # A sale goes through the remote (no broker needed): recorded, remote stock taken.
        response = app.sale(product, 3)
        assert response.status_code == 201, app.log_text()[-6000:]
        assert fake.stock(product) == 7

        # Cancelling it: the remote restock is an outbox row written with the cancel; the task
        # that would send it at once cannot be queued, so it stays pending (not lost).
        started = time.monotonic()
        response = app.api("POST", f"/api/sales/{response.json()['id']}/cancel/")
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert elapsed < ENQUEUE_BUDGET
        assert fake.count("restock") == 0
        assert fake.stock(product) == 7
        assert fault_db.stock(product) == 10  # the local mirror already moved
        rows = fault_db.sql(
            "SELECT product_id, delta, reason, status FROM products_catalogoutboxentry "
            "ORDER BY id OFFSET %s",
            (outbox_before,),
        )
        assert rows == [(product, 3, "sale_cancel", "pending")]

        # What the beat runs every minute (the broker is still down: run here, like a worker).
        env = _base_env(fault_db.url)
        env.update(catalog_env, REDIS_URL=f"{redis_server.url}/0")
        manage(env, "retry_catalog_outbox")
        assert fake.stock(product) == 10
        assert fault_db.sql(
            "SELECT status FROM products_catalogoutboxentry ORDER BY id OFFSET %s",
            (outbox_before,),
        ) == [("done",)]
    finally:
        fake.heal()
        fake.stop()
