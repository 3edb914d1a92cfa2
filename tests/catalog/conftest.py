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

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.conf import settings as django_settings

from tests.catalog.fake_catalog import FakeCatalog

BASE_DIR = Path(__file__).resolve().parents[2]
REMOTE_FIRST_PRODUCT_ID = 100_000  # far above the ids local tests create
START_TIMEOUT = 30  # seconds for gunicorn to answer


def free_port() -> int:
    """A port with nothing listening on it (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_dsn(database: str) -> dict[str, object]:
    db = django_settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
        "dbname": database,
    }


def _database_url(dsn: dict[str, object]) -> str:
    password = f":{dsn['password']}" if dsn["password"] else ""
    return f"postgres://{dsn['user']}{password}@{dsn['host']}:{dsn['port']}/{dsn['dbname']}"


@dataclass
class RemoteCatalog:
    """Our own app, served by gunicorn, acting as the remote Product Catalog API."""

    url: str  # the contract's {base}, e.g. http://127.0.0.1:PORT/api
    api_key: str
    dsn: dict[str, object]

    def _sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def create_product(self, *, price: str = "10.00", stock: int = 10) -> int:
        """A product on the remote, with its opening stock in the remote's ledger."""
        token = secrets.token_hex(4)
        rows = self._sql(
            """
            WITH product AS (
                INSERT INTO products_product
                    (sku, name, price, cost, stock_quantity, is_active, created_at, updated_at)
                VALUES (%s, %s, %s, 0, %s, true, now(), now())
                RETURNING id
            ), opening AS (
                INSERT INTO products_stockmovement (product_id, delta, reason, reference,
                                                    created_at)
                SELECT id, %s, 'restock', 'opening stock', now() FROM product WHERE %s > 0
            )
            SELECT id FROM product
            """,
            (f"RMT-{token}", f"Remote product {token}", Decimal(price), stock, stock, stock),
        )
        return rows[0][0]

    def stock(self, product_id: int) -> int:
        return self._sql(
            "SELECT stock_quantity FROM products_product WHERE id = %s", (product_id,)
        )[0][0]

    def ledger_sum(self, product_id: int) -> int:
        return self._sql(
            "SELECT COALESCE(SUM(delta), 0) FROM products_stockmovement WHERE product_id = %s",
            (product_id,),
        )[0][0]


def _remote_env(database_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CATALOG_", "CELERY_", "REDIS_", "CACHE_"))
    }
    env.update(
        DATABASE_URL=database_url,
        READ_DOT_ENV="false",
        CATALOG_BACKEND="local",
        DJANGO_SETTINGS_MODULE="salesproject.settings",
        LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
        try:
            if requests.get(f"{url}/products/", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def remote_catalog() -> Iterator[RemoteCatalog]:
    if not django_settings.IS_POSTGRES:
        pytest.skip("the remote catalog needs PostgreSQL")
    import psycopg

    admin_dsn = _server_dsn("postgres")
    name = f"sales_remote_{secrets.token_hex(4)}"
    with psycopg.connect(**admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = _server_dsn(name)
    process = None
    log_dir = tempfile.TemporaryDirectory(prefix="remote-catalog-")
    log = Path(log_dir.name) / "gunicorn.log"
    try:
        env = _remote_env(_database_url(dsn))
        _manage(env, "migrate", "--noinput", "-v", "0")
        api_key = _manage(env, "create_api_key", "remote-tests").split()[-1]
        with psycopg.connect(**dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('products_product', 'id'), %s)",
                (REMOTE_FIRST_PRODUCT_ID,),
            )
        port = free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(gunicorn),
                    "salesproject.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "30",
                    "--log-level",
                    "warning",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}/api"
        _wait_until_serving(process, url, log)
        remote = RemoteCatalog(url=url, api_key=api_key, dsn=dsn)
        _warm_up(remote)
        yield remote
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with psycopg.connect(**admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
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
