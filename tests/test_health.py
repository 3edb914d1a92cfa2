"""``/health/live`` and ``/health/ready`` (core/ops/health.py): public, uncached, JSON detail
per check, 503 when the database, the cache or the broker is down."""

from __future__ import annotations

import socket

import pytest
from django.test import override_settings

from salesproject.celery import app as celery_app


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_cache_at(port: int) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://:s3cret-password@127.0.0.1:{port}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }


@pytest.fixture
def broker_at():
    """Point the Celery app's broker somewhere else for one test, then put it back: the URLs
    as they were set (``conf.broker_write_url`` reads back the broker URL when it is not set,
    so it is saved raw) and the connection pools, which keep the URL they were made with."""
    conf = celery_app.conf
    saved = (conf.broker_url, conf.get("broker_write_url"))
    pools = (celery_app._pool, celery_app.amqp._producer_pool)

    def point(url: str) -> None:
        conf.broker_url = url
        conf["broker_write_url"] = url
        celery_app._pool = celery_app.amqp._producer_pool = None

    yield point
    conf.broker_url, conf["broker_write_url"] = saved
    celery_app._pool, celery_app.amqp._producer_pool = pools


@pytest.mark.embedded
def test_live_is_ok_without_touching_anything(client):
    response = client.get("/health/live")  # no database access allowed in this test
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_when_everything_is_up(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    for name in ("database", "cache"):
        assert body["checks"][name]["status"] == "ok"
        assert body["checks"][name]["ok"] is True
        assert isinstance(body["checks"][name]["latency_ms"], float)
    assert body["checks"]["broker"]["status"] in ("ok", "not used")
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_ready_with_the_cache_down_is_503_and_says_so(client):
    with override_settings(CACHES=redis_cache_at(closed_port())):
        response = client.get("/health/ready")
        live = client.get("/health/live")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["cache"]["ok"] is False
    assert body["checks"]["cache"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
    assert "s3cret" not in response.content.decode()
    assert live.status_code == 200  # the process is alive: no restart for a dependency


@pytest.mark.django_db
def test_ready_with_the_broker_down_is_503_and_says_so(client, broker_at, settings):
    settings.HEALTH_CHECK_TIMEOUT = 1.5
    broker_at(f"redis://:s3cret-password@127.0.0.1:{closed_port()}/1")
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert "s3cret" not in response.content.decode()
    assert client.get("/health/live").status_code == 200


@pytest.mark.django_db
def test_ready_with_a_hanging_check_answers_within_the_timeout(client, settings, monkeypatch):
    import time

    from core.ops import health

    settings.HEALTH_CHECK_TIMEOUT = 0.3
    monkeypatch.setitem(health.CHECKS, "database", lambda: time.sleep(2))
    started = time.perf_counter()
    response = client.get("/health/ready")
    assert time.perf_counter() - started < 1.5
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "status": "down",
        "ok": False,
        "error": "no answer within 0.3 s",
        "latency_ms": pytest.approx(300, abs=200),
    }


@pytest.mark.django_db
def test_ready_with_the_database_down_is_503(client, monkeypatch):
    from django.db import OperationalError

    from core.ops import health

    def refused():
        raise OperationalError(
            "connection to postgres://app:hunter2@db:5432/sales failed: password=hunter2 refused"
        )

    monkeypatch.setitem(health.CHECKS, "database", refused)
    response = client.get("/health/ready")
    assert response.status_code == 503
    error = response.json()["checks"]["database"]["error"]
    assert "OperationalError" in error
    assert "hunter2" not in error


@pytest.mark.embedded
def test_the_memory_broker_is_not_used_not_down(client, broker_at, db):
    broker_at("memory://")
    body = client.get("/health/ready").json()
    assert body["checks"]["broker"]["status"] == "not used"
    assert body["checks"]["broker"]["ok"] is True


def test_health_is_public_and_not_throttled(db, settings):
    from rest_framework.test import APIClient

    client = APIClient()
    for _ in range(30):
        assert client.get("/health/live").status_code == 200
    assert client.get("/health/live/").status_code == 200  # with or without the slash


@pytest.mark.embedded
@pytest.mark.django_db
def test_embedded_ready_and_live(client):
    live = client.get("/health/live")
    assert live.status_code == 200
    response = client.get("/health/ready")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["cache"]["status"] == "ok"
    assert checks["broker"]["ok"] is True
