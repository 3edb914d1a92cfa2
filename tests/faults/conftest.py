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

import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

PASSWORD = "Fault-Tests-pw-123"
USERNAME = "faultboss"


@pytest.fixture(autouse=True)
def _isolated_cache():
    """The suite's cache isolation is for the test process; these tests use their own Redis."""
    yield


# --- the database -----------------------------------------------------------------------------


@dataclass
class FaultDB(AppDatabase):
    name: str = ""
    url: str = ""

    sku_prefix = "FLT"
    product_name = "Fault product"
    product_cost = "1"
    default_stock = 100

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


def _base_env(url: str) -> dict[str, str]:
    return app_env(url, without=("CATALOG_", "CELERY_", "REDIS_", "CACHE_", "DB_", "DEBUG"))


@pytest.fixture(scope="session")
def fault_db() -> Iterator[FaultDB]:
    if not django_settings.IS_POSTGRES:
        pytest.skip("the fault tests need PostgreSQL")
    with scratch_database("sales_fault") as (name, dsn):
        db = FaultDB(dsn=dsn, name=name, url=database_url(dsn))
        env = _base_env(db.url)
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(
            {**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
            "createsuperuser",
            "--noinput",
            "--username",
            USERNAME,
            "--email",
            "boss@example.com",
        )
        yield db


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
        process = start_gunicorn(
            env, port=port, log=log, workers=workers, options=("--graceful-timeout", "2")
        )
        url = f"http://127.0.0.1:{port}"
        app = App(url=url, process=process, log=log)
        apps.append(app)
        wait_until_serving(
            process, f"{url}/health/live", log, lambda response: response.status_code < 500
        )
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
            stop_process(app.process)
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
