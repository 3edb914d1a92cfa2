"""What the tests that run this app as a real server share: the remote catalog of
``tests/catalog`` and the app under faults of ``tests/faults``.

A PostgreSQL database of their own (created, then dropped ``WITH (FORCE)``), SQL on it (products
with their opening stock in the ledger, stock and ledger reads), ``manage.py`` in a subprocess,
and gunicorn processes started on a free port, waited for and stopped.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import requests
from django.conf import settings as django_settings

BASE_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30  # seconds for gunicorn to answer


def free_port() -> int:
    """A port with nothing listening on it (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_dsn(database: str) -> dict[str, object]:
    """Connection parameters for ``database`` on the test run's PostgreSQL server."""
    db = django_settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
        "dbname": database,
    }


def database_url(dsn: dict[str, object]) -> str:
    password = f":{dsn['password']}" if dsn["password"] else ""
    return f"postgres://{dsn['user']}{password}@{dsn['host']}:{dsn['port']}/{dsn['dbname']}"


@contextmanager
def scratch_database(prefix: str) -> Iterator[tuple[str, dict[str, object]]]:
    """``(name, dsn)`` of a new database ``<prefix>_<random>``, dropped at the end."""
    import psycopg

    admin_dsn = server_dsn("postgres")
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(**admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, server_dsn(name)
    finally:
        with psycopg.connect(**admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_env(url: str, *, without: tuple[str, ...], **settings: str) -> dict[str, str]:
    """This process's environment without the variables starting with ``without`` (the test
    run's own settings), pointed at the database ``url``, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(without)}
    env.update(
        DATABASE_URL=url,
        READ_DOT_ENV="false",
        DJANGO_SETTINGS_MODULE="salesproject.settings",
        LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
        **settings,
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """``manage.py <args>`` in a subprocess with ``env``; its stdout (fails the test if it
    fails)."""
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


@dataclass
class AppDatabase:
    """SQL on the database of an app instance the tests run (not the test run's database)."""

    dsn: dict[str, object]

    sku_prefix: ClassVar[str] = "TST"
    product_name: ClassVar[str] = "Test product"
    product_cost: ClassVar[str] = "0"
    default_stock: ClassVar[int] = 10

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def create_product(self, *, price: str = "10.00", stock: int | None = None) -> int:
        """A product, with its opening stock in the ledger (as ``product_create`` does)."""
        stock = self.default_stock if stock is None else stock
        token = secrets.token_hex(4)
        return self.sql(
            """
            WITH product AS (
                INSERT INTO products_product
                    (sku, name, price, cost, stock_quantity, is_active, created_at, updated_at)
                VALUES (%s, %s, %s, %s, %s, true, now(), now())
                RETURNING id
            ), opening AS (
                INSERT INTO products_stockmovement (product_id, delta, reason, reference,
                                                    created_at)
                SELECT id, %s, 'restock', 'opening stock', now() FROM product WHERE %s > 0
            )
            SELECT id FROM product
            """,
            (
                f"{self.sku_prefix}-{token}",
                f"{self.product_name} {token}",
                Decimal(price),
                Decimal(self.product_cost),
                stock,
                stock,
                stock,
            ),
        )[0][0]

    def stock(self, product_id: int) -> int:
        return self.sql("SELECT stock_quantity FROM products_product WHERE id = %s", (product_id,))[
            0
        ][0]

    def ledger_sum(self, product_id: int) -> int:
        return self.sql(
            "SELECT COALESCE(SUM(delta), 0) FROM products_stockmovement WHERE product_id = %s",
            (product_id,),
        )[0][0]


def start_gunicorn(
    env: dict[str, str], *, port: int, log: Path, workers: int, options: tuple[str, ...] = ()
) -> subprocess.Popen:
    """gunicorn serving the app on ``127.0.0.1:port`` with ``env``, its output in ``log``."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with log.open("w") as out:
        return subprocess.Popen(
            [
                str(gunicorn),
                "salesproject.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                *options,
                "--log-level",
                "warning",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_until_serving(
    process: subprocess.Popen,
    url: str,
    log: Path,
    ready: Callable[[requests.Response], bool],
) -> None:
    """Until ``ready(GET url)`` (gunicorn and the app are up), or fail with gunicorn's log."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
        try:
            if ready(requests.get(url, timeout=1)):
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT}s:\n{log.read_text()}")


def stop_process(process: subprocess.Popen | None) -> None:
    """SIGTERM (requests in progress finish), SIGKILL after 10 s."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
