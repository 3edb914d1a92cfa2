"""The remote catalog slow or dead, end to end through gunicorn (``CATALOG_BACKEND=http``).

The fault matrix (timeouts before/after the remote applied, dropped connections, refused
connections, 5xx, garbage, compensations, the outbox) is in tests/catalog/test_http_catalog.py
against this process; here: the configured timeout holds in a served app, and nothing is
half-done."""

from __future__ import annotations

import pytest

from tests.app_instances import free_port
from tests.catalog.fake_catalog import FakeCatalog

pytestmark = pytest.mark.django_db(databases=[])
TIMEOUT = 1.0  # CATALOG_TIMEOUT (read); CATALOG_CONNECT_TIMEOUT 0.5
MARGIN = 1.5


def _catalog_env(url, key):
    return {
        "CATALOG_BACKEND": "http",
        "CATALOG_API_URL": url,
        "CATALOG_API_KEY": key,
        "CATALOG_TIMEOUT": str(TIMEOUT),
        "CATALOG_CONNECT_TIMEOUT": "0.5",
    }


def _assert_catalog_503(response, elapsed, budget=TIMEOUT + MARGIN):
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "catalog_unavailable", response.text
    assert response.headers["Retry-After"]
    assert elapsed < budget, f"the sale took {elapsed:.2f}s"


def test_slow_remote_catalog_sale_ends_within_the_timeout_with_nothing_done(
    fault_db, redis_server, start_app
):
    fake = FakeCatalog().start()
    try:
        app = start_app(REDIS_URL=f"{redis_server.url}/0", **_catalog_env(fake.url, fake.api_key))
        product = fake.add_product(stock=10)
        assert app.sale(product, 1).status_code == 201  # warm: the mirror row exists
        stock, sales = fake.stock(product), fault_db.count("sales_sale")

        # A read (GET, idempotent) is tried 3 times (2 retries), each bounded by the timeout;
        # a purchase is sent once.
        for route, tries in (("get", 3), ("purchase", 1)):
            fake.heal()
            fake.delay(route, TIMEOUT * 4, apply_first=False)  # not applied before the timeout
            response, elapsed = app.timed(
                "POST", "/api/sales/", json={"items": [{"product": product, "quantity": 2}]}
            )
            _assert_catalog_503(response, elapsed, budget=tries * TIMEOUT + MARGIN)
            assert elapsed >= TIMEOUT  # it did wait for the timeout, once per try
            assert fault_db.count("sales_sale") == sales
            if route == "get":
                assert fault_db.stock(product) == stock  # nothing was sent: nothing moved
        fake.heal()
        fake.wait_idle()
        # A purchase that lands after we gave up is compensated (the design's safe side): see
        # tests/catalog/test_http_catalog.py, "timeout before the remote applied".
    finally:
        fake.heal()
        fake.stop()


def test_dead_remote_catalog_sale_is_a_quick_503_with_nothing_done(
    fault_db, redis_server, start_app
):
    app = start_app(
        REDIS_URL=f"{redis_server.url}/0",
        **_catalog_env(f"http://127.0.0.1:{free_port()}/api", "any-key"),
    )
    product = fault_db.create_product(stock=10)
    # A mirror of the (dead) remote's product of the same id: local products are not sold
    # through the remote catalog at all.
    fault_db.sql("UPDATE products_product SET remote_id = id WHERE id = %s", (product,))
    sales = fault_db.count("sales_sale")
    response, elapsed = app.timed(
        "POST", "/api/sales/", json={"items": [{"product": product, "quantity": 1}]}
    )
    _assert_catalog_503(response, elapsed)
    assert fault_db.count("sales_sale") == sales
    assert fault_db.stock(product) == 10 == fault_db.ledger_sum(product)


def test_a_frozen_remote_catalog_holds_a_served_sale_no_longer_than_its_deadline(
    fault_db, redis_server, start_app
):
    """CATALOG_SALE_DEADLINE from the environment of a served app: with a 5 s CATALOG_TIMEOUT
    and a 1 s deadline, a read frozen for 4 s is given up once (not retried: no time left) and
    the sale answers 503 with nothing recorded."""
    fake = FakeCatalog().start()
    try:
        app = start_app(
            REDIS_URL=f"{redis_server.url}/0",
            **{
                **_catalog_env(fake.url, fake.api_key),
                "CATALOG_TIMEOUT": "5",
                "CATALOG_SALE_DEADLINE": "1",
            },
        )
        product = fake.add_product(stock=10)
        sales = fault_db.count("sales_sale")
        fake.delay("get", 4.0)

        response = app.sale(product, 2)

        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "catalog_unavailable"
        assert fake.count("get") == 1
        assert fake.count("purchase") == 0
        assert fault_db.count("sales_sale") == sales
        fake.heal()
        fake.wait_idle()
        assert fake.stock(product) == 10
    finally:
        fake.heal()
        fake.stop()
