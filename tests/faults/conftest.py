"""Fault tests: the app served by gunicorn (a real process, like production), on loopback, with
real services that the tests stop and start.

- ``fault_db`` (session): a PostgreSQL database ``sales_fault_<random>`` of its own (created,
  migrated, dropped ``WITH (FORCE)`` at the end), a superuser and SQL helpers.
- ``redis_server``: a ``redis-server`` of our own on a free port (no persistence), killed at the
  end of the test whatever happens; ``.stop()`` / ``.start()`` it in the test.
- ``start_app(**env)``: a gunicorn instance of the app on that database with extra environment
  (``REDIS_URL``, ``CELERY_BROKER_URL``, ``CATALOG_*``...), stopped at the end of the test;
  returns an :class:`App` with a JWT-authenticated ``requests`` session.

The process running the tests only talks HTTP to the app and SQL to the fault database; it
does not share the app's settings (DEBUG is off in the app: errors are the production ones).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings

from tests.catalog.conftest import _database_url, _manage, _server_dsn, free_port

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30
PASSWORD = "Fault-Tests-pw-123"
USERNAME = "faultboss"


@pytest.fixture(autouse=True)
def _isolated_cache():
    """The suite's cache isolation is for the test process; these tests use their own Redis."""
    yield


# --- the database -----------------------------------------------------------------------------


@dataclass
class FaultDB:
    name: str
    dsn: dict[str, object]
    url: str

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def create_product(self, *, price: str = "10.00", stock: int = 100) -> int:
        token = secrets.token_hex(4)
        return self.sql(
            """
            WITH product AS (
                INSERT INTO products_product
                    (sku, name, price, cost, stock_quantity, is_active, created_at, updated_at)
                VALUES (%s, %s, %s, 1, %s, true, now(), now())
                RETURNING id
            ), opening AS (
                INSERT INTO products_stockmovement (product_id, delta, reason, reference,
                                                    created_at)
                SELECT id, %s, 'restock', 'opening stock', now() FROM product WHERE %s > 0
            )
            SELECT id FROM product
            """,
            (f"FLT-{token}", f"Fault product {token}", Decimal(price), stock, stock, stock),
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

    def count(self, table: str, where: str = "true", params: tuple = ()) -> int:
        return self.sql(f"SELECT count(*) FROM {table} WHERE {where}", params)[0][0]

    def terminate_app_connections(self) -> int:
        """``pg_terminate_backend`` every connection to this database but the caller's."""
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.name,),
            ).fetchall()
        return len(rows)


def _base_env(database_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CATALOG_", "CELERY_", "REDIS_", "CACHE_", "DB_", "DEBUG"))
    }
    env.update(
        DATABASE_URL=database_url,
        READ_DOT_ENV="false",
        DJANGO_SETTINGS_MODULE="salesproject.settings",
        LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="session")
def fault_db() -> Iterator[FaultDB]:
    if not django_settings.IS_POSTGRES:
        pytest.skip("the fault tests need PostgreSQL")
    import psycopg

    admin_dsn = _server_dsn("postgres")
    name = f"sales_fault_{secrets.token_hex(4)}"
    with psycopg.connect(**admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = _server_dsn(name)
        db = FaultDB(name=name, dsn=dsn, url=_database_url(dsn))
        env = _base_env(db.url)
        _manage(env, "migrate", "--noinput", "-v", "0")
        _manage(
            {**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
            "createsuperuser",
            "--noinput",
            "--username",
            USERNAME,
            "--email",
            "boss@example.com",
        )
        yield db
    finally:
        with psycopg.connect(**admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- redis ------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ping():
                return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def dbsize(self, db: int) -> int:
        import redis

        return redis.Redis(port=self.port, db=db, socket_timeout=1).dbsize()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(port=free_port()).start()
    try:
        yield server
    finally:
        server.stop()


# --- the app under gunicorn -------------------------------------------------------------------


@dataclass
class App:
    url: str
    process: subprocess.Popen
    log: Path
    session: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.url}{path}", **kwargs)

    def timed(self, method: str, path: str, **kwargs: Any) -> tuple[requests.Response, float]:
        started = time.monotonic()
        response = self.api(method, path, **kwargs)
        return response, time.monotonic() - started

    def sale(self, product_id: int, quantity: int = 1, **kwargs: Any) -> requests.Response:
        return self.api(
            "POST",
            "/api/sales/",
            json={"items": [{"product": product_id, "quantity": quantity}]},
            **kwargs,
        )

    def admin_session(self) -> requests.Session:
        """A browser-like session logged into the admin (CSRF token from the login form)."""
        browser = requests.Session()
        page = browser.get(f"{self.url}/admin/login/", timeout=30)
        assert page.status_code == 200, page.text[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = browser.post(
            f"{self.url}/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": USERNAME, "password": PASSWORD},
            headers={"Referer": f"{self.url}/admin/login/"},
            timeout=30,
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.text[:2000]
        return browser

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log.read_text()}")
        try:
            if requests.get(f"{url}/health/live", timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer within {START_TIMEOUT}s:\n{log.read_text()}")


@pytest.fixture
def start_app(fault_db) -> Iterator:
    apps: list[App] = []
    log_dir = tempfile.TemporaryDirectory(prefix="fault-app-")

    def start(workers: int = 2, **extra: str) -> App:
        env = _base_env(fault_db.url)
        env.update(
            DEBUG="false",
            SECRET_KEY="fault-tests-" + "x" * 50,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            SECURE_SSL_REDIRECT="false",
            DB_CONN_MAX_AGE="600",
            DB_CONN_HEALTH_CHECKS="true",
            MEDIA_ROOT=log_dir.name,
        )
        env.update(extra)
        port = free_port()
        log = Path(log_dir.name) / f"gunicorn-{port}.log"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        with log.open("w") as out:
            process = subprocess.Popen(
                [
                    str(gunicorn),
                    "salesproject.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers),
                    "--timeout",
                    "30",
                    "--graceful-timeout",
                    "2",
                    "--log-level",
                    "warning",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        app = App(url=url, process=process, log=log)
        apps.append(app)
        _wait_until_serving(process, url, log)
        token = requests.post(
            f"{url}/api/auth/token/",
            json={"username": USERNAME, "password": PASSWORD},
            timeout=30,
        )
        assert token.status_code == 200, token.text
        app.session.headers["Authorization"] = f"Bearer {token.json()['access']}"
        return app

    try:
        yield start
    finally:
        for app in apps:
            if app.process.poll() is None:
                app.process.terminate()
                try:
                    app.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    app.process.kill()
                    app.process.wait()
        log_dir.cleanup()


# --- readiness --------------------------------------------------------------------------------


def failing_checks(body: Any) -> set[str]:
    """The names of the checks a readiness answer reports as down, whatever its exact layout:
    ``{"checks": {"cache": {"ok": false}}}``, ``{"cache": "down"}``, ``{"checks": [{"name":
    "cache", "status": "error"}]}``..."""
    checks = body.get("checks", body) if isinstance(body, dict) else body
    if isinstance(checks, list):
        checks = {item.get("name"): item for item in checks if isinstance(item, dict)}
    down = set()
    for name, value in checks.items():
        if isinstance(value, dict):
            ok = value.get("ok", value.get("healthy"))
            status = str(value.get("status", "")).lower()
            if ok is False or (ok is None and status not in ("ok", "up", "healthy", "pass")):
                down.add(name)
        elif isinstance(value, bool):
            if not value:
                down.add(name)
        elif (
            isinstance(value, str)
            and value.lower() not in ("ok", "up", "healthy", "pass")
            and name != "status"
        ):
            down.add(name)
    return down


def assert_ready(app: App, *, down: set[str] | None = None, budget: float = 5.0) -> dict:
    """``/health/ready`` is 200 (``down`` empty) or 503 with exactly the named checks down, and
    answers within ``budget`` seconds."""
    response, elapsed = app.timed("GET", "/health/ready", timeout=budget + 5)
    assert elapsed < budget, f"/health/ready took {elapsed:.2f}s"
    if not down:
        assert response.status_code == 200, response.text
        return response.json()
    assert response.status_code == 503, response.text
    body = response.json()
    failing = failing_checks(body)
    for name in down:
        aliases = {"cache": {"cache", "redis"}, "broker": {"broker", "celery", "queue"}}
        assert failing & aliases.get(name, {name}), f"{name} not reported down: {body}"
    assert "database" not in failing or "database" in down, body
    return body
