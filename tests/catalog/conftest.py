"""Fixtures of the HTTP catalog tests: real HTTP servers on loopback, no mock of ``requests``.

- ``remote_catalog`` (session): a second instance of this very app, the catalog "remote": its
  own PostgreSQL database (created here, dropped at the end), migrated, an API key made with
  ``create_api_key``, served by gunicorn on a free port with ``CATALOG_BACKEND=local``. Its
  products are created and read with SQL on its database.
- ``fake_catalog``: :class:`tests.catalog.fake_catalog.FakeCatalog`, for fault cases.
- ``use_catalog(url, key, timeout=...)``: point this process (the "local" side, running the
  tests) at a catalog with ``CATALOG_BACKEND=http``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from tests.app_instances import (
    AppDatabase,
    app_env,
    database_url,
    free_port,
    manage,
    scratch_database,
    start_gunicorn,
    stop_process,
    wait_until_serving,
)
from tests.catalog.fake_catalog import FakeCatalog

REMOTE_FIRST_PRODUCT_ID = 100_000  # far above the ids local tests create


@dataclass
class RemoteCatalog(AppDatabase):
    """Our own app, served by gunicorn, acting as the remote Product Catalog API. Its products
    are created and read with SQL on its database (:class:`AppDatabase`)."""

    url: str = ""  # the contract's {base}, e.g. http://127.0.0.1:PORT/api
    api_key: str = ""

    sku_prefix = "RMT"
    product_name = "Remote product"
    product_cost = "0"
    default_stock = 10


@pytest.fixture(scope="session")
def remote_catalog() -> Iterator[RemoteCatalog]:
    if not django_settings.IS_POSTGRES:
        pytest.skip("the remote catalog needs PostgreSQL")
    import psycopg

    process = None
    log_dir = tempfile.TemporaryDirectory(prefix="remote-catalog-")
    log = Path(log_dir.name) / "gunicorn.log"
    with scratch_database("sales_remote") as (_name, dsn):
        try:
            env = app_env(
                database_url(dsn),
                without=("CATALOG_", "CELERY_", "REDIS_", "CACHE_"),
                CATALOG_BACKEND="local",
            )
            manage(env, "migrate", "--noinput", "-v", "0")
            api_key = manage(env, "create_api_key", "remote-tests").split()[-1]
            with psycopg.connect(**dsn, autocommit=True) as conn:
                conn.execute(
                    "SELECT setval(pg_get_serial_sequence('products_product', 'id'), %s)",
                    (REMOTE_FIRST_PRODUCT_ID,),
                )
            port = free_port()
            process = start_gunicorn(env, port=port, log=log, workers=2)
            url = f"http://127.0.0.1:{port}/api"
            wait_until_serving(
                process, f"{url}/products/", log, lambda response: response.status_code == 200
            )
            remote = RemoteCatalog(dsn=dsn, url=url, api_key=api_key)
            _warm_up(remote)
            yield remote
        finally:
            stop_process(process)
            log_dir.cleanup()


def _warm_up(remote: RemoteCatalog) -> None:
    """Load every worker's URLconf and views before the timed calls of the tests."""
    product_id = remote.create_product(stock=100)
    headers = {"Authorization": f"Api-Key {remote.api_key}"}
    for _ in range(4):
        requests.get(f"{remote.url}/products/{product_id}/", timeout=10)
        requests.post(
            f"{remote.url}/products/{product_id}/purchase/",
            json={"quantity": 1},
            headers=headers,
            timeout=10,
        )
        requests.post(
            f"{remote.url}/products/{product_id}/restock/",
            json={"quantity": 1},
            headers=headers,
            timeout=10,
        )


@pytest.fixture
def fake_catalog() -> Iterator[FakeCatalog]:
    fake = FakeCatalog().start()
    try:
        yield fake
    finally:
        fake.heal()
        fake.stop()


@pytest.fixture
def use_catalog(settings):
    """``use_catalog(url, key, timeout=1.0)``: this process sells through that catalog."""

    def point(url: str, key: str, *, timeout: float = 2.0, connect_timeout: float = 0.5) -> None:
        settings.CATALOG_BACKEND = "http"
        settings.CATALOG_API_URL = url
        settings.CATALOG_API_KEY = key
        settings.CATALOG_TIMEOUT = timeout
        settings.CATALOG_CONNECT_TIMEOUT = connect_timeout

    return point


@pytest.fixture(autouse=True)
def _eager_celery():
    """Outbox tasks run in process (as in the embedded default), whatever broker the run has."""
    from salesproject.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
