"""The embedded default (SQLite) under a concurrent writer: WAL, a busy timeout, transactions
that take the write lock when they begin, and a locked database answered as a 503 (the API's
JSON error shape; a short page elsewhere), never an HTML 500.

Each test runs the app in a fresh interpreter on a real database file (the embedded test run's
database is in memory, where no other connection can hold a lock), with another ``sqlite3``
connection holding the write lock (``BEGIN IMMEDIATE``) as a long write such as
``rebuild_rollups`` does."""

from __future__ import annotations

import json
import os

import pytest

from tests.probes import python_output

pytestmark = pytest.mark.embedded


def embedded_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_KEY_PREFIX")
    }
    env.update(READ_DOT_ENV="false", DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}")
    env.update(extra)
    return env


SETUP = """
import json, sqlite3
import django
django.setup()
from django.conf import settings
from django.db import connection
"""


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions(tmp_path):
    code = SETUP + (
        "cursor = connection.cursor()\n"
        "print(json.dumps({\n"
        "    'journal_mode': cursor.execute('PRAGMA journal_mode').fetchone()[0],\n"
        "    'busy_timeout': cursor.execute('PRAGMA busy_timeout').fetchone()[0],\n"
        "    'transaction_mode': connection.transaction_mode,\n"
        "}))\n"
    )
    configured = json.loads(python_output(code, embedded_env(tmp_path, SQLITE_BUSY_TIMEOUT="7")))
    assert configured == {
        "journal_mode": "wal",
        "busy_timeout": 7000,  # milliseconds
        "transaction_mode": "IMMEDIATE",
    }
    default = json.loads(python_output(code, embedded_env(tmp_path)))
    assert default["busy_timeout"] == 20_000


def test_a_bad_busy_timeout_is_refused_by_name(tmp_path):
    from tests.probes import run_python

    result = run_python(SETUP, embedded_env(tmp_path, SQLITE_BUSY_TIMEOUT="soon"))
    assert result.returncode != 0
    assert "SQLITE_BUSY_TIMEOUT" in result.stderr and "ImproperlyConfigured" in result.stderr


LOCKED = (
    SETUP
    + """
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
get_user_model().objects.create_superuser("boss", "boss@example.com", "a-long-password-1")
client = Client(raise_request_exception=False)
client.login(username="boss", password="a-long-password-1")
connection.close()

holder = sqlite3.connect(settings.DATABASES["default"]["NAME"], isolation_level=None)
holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
answers = {}
for name, path, body in [
    ("token", "/api/auth/token/", {"username": "boss", "password": "a-long-password-1"}),
    ("customer", "/api/customers/", {"name": "Locked", "email": "locked@example.com"}),
]:
    response = client.post(path, body, content_type="application/json")
    answers[name] = [response.status_code, response["Content-Type"], response.content.decode()]
response = client.post("/admin/logout/")  # the admin: deleting the session is a write
answers["admin"] = [response.status_code, response["Content-Type"], response.content.decode()]
holder.execute("ROLLBACK")
after = {"name": "After", "email": "after@example.com"}
response = client.post("/api/customers/", after, content_type="application/json")
answers["after"] = [response.status_code, response["Content-Type"], ""]
print(json.dumps(answers))
"""
)


@pytest.mark.parametrize("debug", ["true", "false"])
def test_a_locked_database_answers_503_in_the_error_shape_never_an_html_500(tmp_path, debug):
    env = embedded_env(
        tmp_path,
        SQLITE_BUSY_TIMEOUT="0.2",
        DEBUG=debug,
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="*",
        SECURE_SSL_REDIRECT="false",
    )
    answers = json.loads(python_output(LOCKED, env, timeout=120))
    for name in ("token", "customer"):
        status, content_type, body = answers[name]
        assert (status, content_type) == (503, "application/json"), answers[name]
        error = json.loads(body)["error"]
        assert error["code"] == "database_busy"
        assert "try again" in error["message"]
    status, content_type, body = answers["admin"]
    assert status == 503, answers["admin"]
    assert "Traceback" not in body and "OperationalError" not in body
    assert answers["after"][0] == 201  # the lock gone, writes go through again
