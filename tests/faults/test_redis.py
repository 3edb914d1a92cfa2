"""Redis (cache + broker) stopped under a running gunicorn instance of the app.

The cache is django-redis with ``IGNORE_EXCEPTIONS`` and 0.5 s socket timeouts
(``REDIS_SOCKET_TIMEOUT``): with Redis gone the API and the admin answer the same, uncached.
"""

from __future__ import annotations

import pytest

from tests.faults.conftest import assert_ready

pytestmark = pytest.mark.django_db(databases=[])  # the app has its own database; no test DB
QUICK = 3.0  # seconds: a request while Redis is down (a few 0.5 s socket timeouts at most)


def _answers(app, product_id):
    products = app.api("GET", "/api/products/?ordering=id&page_size=500")
    summary = app.api("GET", "/api/analytics/summary/")
    assert products.status_code == 200, products.text
    assert summary.status_code == 200, summary.text
    mine = [p for p in products.json()["results"] if p["id"] == product_id]
    return mine, summary.json()


def test_redis_stopped_the_api_and_admin_keep_working_uncached(fault_db, redis_server, start_app):
    app = start_app(REDIS_URL=f"{redis_server.url}/0", CACHE_KEY_PREFIX="faults")
    product = fault_db.create_product(price="12.50", stock=50)
    assert_ready(app)

    # Warm up: a sale (bumps the analytics generation), answers cached, an admin session.
    assert app.sale(product, 2).status_code == 201
    before_products, before_summary = _answers(app, product)
    assert _answers(app, product) == (before_products, before_summary)
    assert redis_server.dbsize(0) > 0  # the cache really holds keys
    admin = app.admin_session()
    assert admin.get(f"{app.url}/admin/products/product/", timeout=30).status_code == 200

    redis_server.stop()
    assert not redis_server.ping()

    for path in ("/api/products/?ordering=id&page_size=500", "/api/analytics/summary/"):
        response, elapsed = app.timed("GET", path)
        assert response.status_code == 200, response.text
        assert elapsed < QUICK, f"{path} took {elapsed:.2f}s with Redis down"
    # Same answers, computed from the database.
    assert _answers(app, product) == (before_products, before_summary)

    # A write: the sale records (stock and ledger), the analytics cache bump is lost harmlessly.
    response, elapsed = app.timed(
        "POST", "/api/sales/", json={"items": [{"product": product, "quantity": 3}]}
    )
    assert response.status_code == 201, response.text
    assert elapsed < QUICK
    assert fault_db.stock(product) == 45 == fault_db.ledger_sum(product)
    after_products, after_summary = _answers(app, product)
    assert after_products[0]["stock_quantity"] == 45
    assert after_summary != before_summary  # not a stale cached figure

    # The admin: the existing session, and a fresh login, a changelist and a change page.
    for browser in (admin, app.admin_session()):
        for path in (
            "/admin/products/product/",
            f"/admin/products/product/{product}/change/",
            "/admin/sales/sale/",
        ):
            page = browser.get(f"{app.url}{path}", timeout=30)
            assert page.status_code == 200, (path, page.text[:500])
    # Token login (JWT) works too.
    token = app.api(
        "POST", "/api/auth/token/", json={"username": "faultboss", "password": "Fault-Tests-pw-123"}
    )
    assert token.status_code == 200, token.text

    assert_ready(app, down={"cache"})

    redis_server.start()
    assert_ready(app)
    # Back on the cache: the answers are still right (a new generation, no stale figure).
    assert _answers(app, product) == (after_products, after_summary)
