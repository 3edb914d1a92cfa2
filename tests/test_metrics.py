"""Prometheus metrics at ``/metrics`` (core/ops/metrics.py): protected (404 for anyone
without the token, or without a staff session when no token is set), request counts per
resolved view, and the domain counters moved by the services and the Celery signals."""

from __future__ import annotations

import os
import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from prometheus_client import REGISTRY

from products.catalog_client import CatalogUnavailableError, ProductCatalogClient
from products.services import InsufficientStockError, product_purchase
from salesproject.celery import app as celery_app
from tests.factories import make_product, make_user
from tests.probes import python_output

TOKEN = "metrics-token-for-the-tests-0123456789"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@celery_app.task(name="tests.metrics.works")
def works():
    return 1


@celery_app.task(name="tests.metrics.breaks")
def breaks():
    raise ValueError("broken on purpose")


@celery_app.task(bind=True, name="tests.metrics.retries_once", max_retries=1)
def retries_once(self):
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "second time"


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.embedded
def test_anonymous_gets_404_with_or_without_a_token_configured(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Token {TOKEN}"}).status_code == 404


@pytest.mark.embedded
def test_the_bearer_token_reads_the_metrics(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    for name in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "sales_recorded_total",
        "stock_outs_total",
        "catalog_errors_total",
        "import_rows_total",
        "task_outcomes_total",
    ):
        assert name in body


def test_without_a_token_only_staff_sessions_read(client, db, settings):
    settings.METRICS_TOKEN = ""
    client.force_login(make_user(role="manager"))
    assert client.get("/metrics").status_code == 404
    client.force_login(make_user(is_staff=True))
    assert client.get("/metrics").status_code == 200


def test_with_a_token_a_staff_session_is_not_enough(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert client.get("/metrics").status_code == 404


# --- Requests -----------------------------------------------------------------------------------


def test_requests_are_counted_by_resolved_view_never_by_raw_path(client_for, settings):
    settings.METRICS_TOKEN = TOKEN
    client = client_for("manager")
    product = make_product(stock=5)
    before = value("http_requests_total", view="product-detail", method="GET", status="200")
    count_before = value("http_request_duration_seconds_count", view="product-detail")
    for _ in range(3):
        assert client.get(f"/api/products/{product.pk}/").status_code == 200
    after = value("http_requests_total", view="product-detail", method="GET", status="200")
    assert after - before == 3
    assert value("http_request_duration_seconds_count", view="product-detail") - count_before == 3
    client.get("/api/no-such-endpoint/123/")
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).content.decode()
    assert f"/api/products/{product.pk}/" not in body
    assert "no-such-endpoint" not in body
    assert 'view="product-detail"' in body


def test_unknown_methods_share_one_label(client):
    before = value("http_requests_total", view="health-live", method="other", status="405")
    client.generic("BREW", "/health/live")
    assert value("http_requests_total", view="health-live", method="other", status="405") > before


# --- Domain counters ----------------------------------------------------------------------------


def test_a_recorded_sale_counts_once_committed(client_for, django_capture_on_commit_callbacks):
    product = make_product(stock=5)
    before = value("sales_recorded_total")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("sales").post(
            "/api/sales/", {"items": [{"product": product.pk, "quantity": 2}]}, format="json"
        )
    assert response.status_code == 201, response.content
    assert value("sales_recorded_total") - before == 1


def test_a_sale_refused_for_stock_is_a_stock_out_and_not_a_sale(
    client_for, django_capture_on_commit_callbacks
):
    product = make_product(stock=1)
    sales_before, outs_before = value("sales_recorded_total"), value("stock_outs_total")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("sales").post(
            "/api/sales/", {"items": [{"product": product.pk, "quantity": 2}]}, format="json"
        )
    assert response.status_code == 409
    assert value("stock_outs_total") - outs_before == 1
    assert value("sales_recorded_total") == sales_before


def test_a_purchase_refused_for_stock_is_a_stock_out(db):
    product = make_product(stock=1)
    before = value("stock_outs_total")
    with pytest.raises(InsufficientStockError):
        product_purchase(product_id=product.pk, quantity=5)
    assert value("stock_outs_total") - before == 1


def test_an_import_counts_rows_read_and_rejected(manager_client):
    content = "sku,name,price\nM-1,Good,1.00\nM-2,Bad,abc\nM-3,Good too,2.00\n"
    upload = SimpleUploadedFile("p.csv", content.encode(), content_type="text/csv")
    read = value("import_rows_total", table="products", outcome="read")
    rejected = value("import_rows_total", table="products", outcome="rejected")
    response = manager_client.post(
        "/api/products/import/", {"file": upload, "on_error": "skip"}, format="multipart"
    )
    assert response.status_code in (200, 201), response.content
    assert value("import_rows_total", table="products", outcome="read") - read == 3
    assert value("import_rows_total", table="products", outcome="rejected") - rejected == 1


def test_catalog_errors_are_counted_by_outcome():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    before = value("catalog_errors_total", outcome="connection_error")
    client = ProductCatalogClient(f"http://127.0.0.1:{port}/api", "key", get_retries=0)
    with pytest.raises(CatalogUnavailableError):
        client.get_product(1)
    assert value("catalog_errors_total", outcome="connection_error") - before == 1


def test_task_outcomes_are_counted(db):
    ok = value("task_outcomes_total", task="tests.metrics.works", outcome="success")
    failed = value("task_outcomes_total", task="tests.metrics.breaks", outcome="failure")
    retried = value("task_outcomes_total", task="tests.metrics.retries_once", outcome="retry")
    works.apply()
    breaks.apply(throw=False)  # as in a worker: the failure is handled (signals), not raised
    assert retries_once.apply(throw=False).get() == "second time"
    assert value("task_outcomes_total", task="tests.metrics.works", outcome="success") - ok == 1
    assert (
        value("task_outcomes_total", task="tests.metrics.breaks", outcome="failure") - failed == 1
    )
    assert (
        value("task_outcomes_total", task="tests.metrics.retries_once", outcome="retry") - retried
        >= 1
    )


# --- Gunicorn multi-process ----------------------------------------------------------------------

MULTIPROCESS_PROBE = """
import django
django.setup()
from django.conf import settings
from django.test import RequestFactory
from core.ops import metrics
metrics.sale_recorded()
metrics.sale_recorded()
request = RequestFactory().get("/metrics", HTTP_AUTHORIZATION="Bearer " + settings.METRICS_TOKEN)
print(metrics.metrics_view(request).content.decode())
"""


def test_multiprocess_mode_aggregates_the_files_of_every_process(tmp_path):
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "METRICS_TOKEN": TOKEN,
        "DJANGO_SETTINGS_MODULE": "salesproject.settings",
        "READ_DOT_ENV": "false",
    }
    for _ in range(2):
        output = python_output(MULTIPROCESS_PROBE, env)
    assert list(tmp_path.glob("counter_*.db"))
    # The second process reads its own two sales and the first process's two.
    assert "sales_recorded_total 4.0" in output


def test_describing_a_refusal_is_not_a_stock_out(db):
    """The counter moves where stock is refused, not wherever the error object is made (e.g.
    to describe a refusal read back from the remote catalog, or in a test)."""
    product = make_product(stock=1)
    before = value("stock_outs_total")

    error = InsufficientStockError(product=product, requested=5, available=1)

    assert error.available == 1
    assert value("stock_outs_total") == before
