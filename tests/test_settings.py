"""Settings come from the environment; a bad variable stops start-up naming the variable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.probes import run_python

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json
from salesproject import settings as s
print(json.dumps({
    "engine": s.DATABASES["default"]["ENGINE"],
    "db_name": str(s.DATABASES["default"]["NAME"]),
    "cache": s.CACHES["default"]["BACKEND"],
    "cache_location": s.CACHES["default"].get("LOCATION"),
    "broker": s.CELERY_BROKER_URL,
    "eager": s.CELERY_TASK_ALWAYS_EAGER,
    "debug": s.DEBUG,
    "cors": s.CORS_ALLOWED_ORIGINS,
    "page_size": s.API_PAGE_SIZE,
    "catalog": [s.CATALOG_BACKEND, s.CATALOG_API_URL, s.CATALOG_TIMEOUT],
}))
"""
CONFIG_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_BROKER_DB",
    "CELERY_TASK_ALWAYS_EAGER",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CORS_ALLOWED_ORIGINS",
    "API_PAGE_SIZE",
    "API_MAX_PAGE_SIZE",
    "CATALOG_BACKEND",
    "CATALOG_API_URL",
    "CATALOG_API_KEY",
    "CATALOG_TIMEOUT",
    "CATALOG_CONNECT_TIMEOUT",
    "CATALOG_SALE_DEADLINE",
    "IDEMPOTENCY_KEY_TTL_HOURS",
    "LOG_LEVEL",
    "IMPORT_SYNC_MAX_BYTES",
    "IMPORT_MAX_BYTES",
    "IMPORT_ADMIN_MAX_BYTES",
    "ANALYTICS_CACHE_ENABLED",
    "ANALYTICS_CACHE_SECONDS",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "TRUST_X_FORWARDED_PROTO",
    "USE_X_FORWARDED_HOST",
    "THROTTLE_ANON_RATE",
    "THROTTLE_USER_RATE",
    "THROTTLE_LOGIN_RATE",
    "THROTTLE_NUM_PROXIES",
    "DATA_UPLOAD_MAX_MEMORY_SIZE",
    "FILE_UPLOAD_MAX_MEMORY_SIZE",
    "STATIC_FILES_MANIFEST",
    "LOG_FORMAT",
    "METRICS_TOKEN",
    "HEALTH_CHECK_TIMEOUT",
    "PROMETHEUS_MULTIPROC_DIR",
    "CURRENCY",
    "SITE_NAME",
)


def load_settings(**variables: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(variables, READ_DOT_ENV="false")
    return run_python(PROBE, env)


def loaded(**variables: str) -> dict:
    result = load_settings(**variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.embedded
def test_no_environment_is_the_embedded_default():
    values = loaded()
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"].endswith("db.sqlite3")
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["eager"] is True
    assert values["broker"] == "memory://"
    assert values["debug"] is True


def test_real_services_from_urls():
    values = loaded(
        DATABASE_URL="postgres://app:secret@db.example:5433/sales",
        REDIS_URL="redis://cache.example:6379/3",
    )
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "sales"
    assert values["cache"] == "django_redis.cache.RedisCache"
    assert values["cache_location"] == "redis://cache.example:6379/3"
    # The broker gets its own Redis database number: the cache's + 1.
    assert values["broker"] == "redis://cache.example:6379/4"
    assert values["eager"] is False


@pytest.mark.parametrize("cache_db", [0, 1, 7])
def test_broker_default_is_the_cache_db_plus_one(cache_db):
    """Two deployments on one Redis (caches in db 0 and db 2) get two brokers (db 1 and 3),
    never one shared broker; the rest of the URL (credentials, options) is kept."""
    values = loaded(REDIS_URL=f"redis://:pw@127.0.0.1:6380/{cache_db}?health_check_interval=5")
    assert values["broker"] == f"redis://:pw@127.0.0.1:6380/{cache_db + 1}?health_check_interval=5"


def test_broker_db_setting_still_chooses_the_db():
    values = loaded(REDIS_URL="redis://127.0.0.1:6379/3", CELERY_BROKER_DB="9")
    assert values["broker"] == "redis://127.0.0.1:6379/9"


def test_broker_on_another_redis_server_may_use_the_same_db_number():
    values = loaded(
        REDIS_URL="redis://cache.example:6379/0", CELERY_BROKER_URL="redis://broker.example:6379/0"
    )
    assert values["broker"] == "redis://broker.example:6379/0"


@pytest.mark.parametrize(
    ("redis_url", "broker"),
    [
        ("redis://127.0.0.1:6379/0", {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}),
        # The same server and db spelled differently: default port, no db (= 0), credentials,
        # upper-case host, TLS scheme, options.
        ("redis://localhost:6379/0", {"CELERY_BROKER_URL": "redis://localhost"}),
        ("redis://localhost:6379/1", {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/1"}),
        ("redis://Cache.Example/2", {"CELERY_BROKER_URL": "redis://:secret@cache.example:6379/2"}),
        (
            "rediss://cache.example:6379/4",
            {"CELERY_BROKER_URL": "redis://cache.example:6379/4?x=1"},
        ),
        ("redis://127.0.0.1:6379/3", {"CELERY_BROKER_DB": "3"}),
    ],
)
def test_broker_in_the_cache_db_is_refused(redis_url, broker):
    result = load_settings(REDIS_URL=redis_url, **broker)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Invalid environment variable CELERY_BROKER_" in result.stderr
    assert "the same as the cache (REDIS_URL)" in result.stderr


@pytest.mark.parametrize(
    ("variables", "named", "problem"),
    [
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL", "not supported"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL", "not supported"),
        ({"DATABASE_URL": "postgres://u@host:5432/"}, "DATABASE_URL", "database name"),
        ({"REDIS_URL": "http://127.0.0.1:6379/0"}, "REDIS_URL", "redis://"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/zero"}, "REDIS_URL", "not an integer"),
        ({"REDIS_URL": "redis://127.0.0.1:notaport/0"}, "REDIS_URL", "port"),
        (
            {
                "REDIS_URL": "redis://127.0.0.1:6379/0",
                "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            },
            "CELERY_BROKER_URL",
            "same as the cache",
        ),
        ({"DEBUG": "false", "ALLOWED_HOSTS": "example.com"}, "SECRET_KEY", "DEBUG is off"),
        ({"DEBUG": "maybe"}, "DEBUG", "not a boolean"),
        ({"API_PAGE_SIZE": "ten"}, "API_PAGE_SIZE", "not an integer"),
        ({"API_PAGE_SIZE": "100", "API_MAX_PAGE_SIZE": "50"}, "API_MAX_PAGE_SIZE", "at least"),
        ({"CORS_ALLOWED_ORIGINS": "example.com"}, "CORS_ALLOWED_ORIGINS", "not an origin"),
        ({"CATALOG_BACKEND": "ftp"}, "CATALOG_BACKEND", "not one of"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL", "not one of"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "not one of"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN", "at least 16"),
        ({"HEALTH_CHECK_TIMEOUT": "0"}, "HEALTH_CHECK_TIMEOUT", "positive"),
        ({"HEALTH_CHECK_TIMEOUT": "soon"}, "HEALTH_CHECK_TIMEOUT", "not a number"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/nonexistent/x"}, "PROMETHEUS_MULTIPROC_DIR", "directory"),
        ({"CATALOG_BACKEND": "http"}, "CATALOG_API_URL", "not an http(s) URL"),
        (
            {"CATALOG_BACKEND": "http", "CATALOG_API_URL": "catalog.example.com/api"},
            "CATALOG_API_URL",
            "not an http(s) URL",
        ),
        (
            {"CATALOG_BACKEND": "http", "CATALOG_API_URL": "http://catalog.example/api"},
            "CATALOG_API_KEY",
            "must be set",
        ),
        ({"CATALOG_TIMEOUT": "0"}, "CATALOG_TIMEOUT", "positive"),
        ({"CATALOG_CONNECT_TIMEOUT": "soon"}, "CATALOG_CONNECT_TIMEOUT", "not a number"),
        ({"CATALOG_SALE_DEADLINE": "0"}, "CATALOG_SALE_DEADLINE", "positive"),
        ({"CATALOG_SALE_DEADLINE": "61"}, "CATALOG_SALE_DEADLINE", "over 60 seconds"),
        ({"IDEMPOTENCY_KEY_TTL_HOURS": "1"}, "IDEMPOTENCY_KEY_TTL_HOURS", "below the minimum 24"),
        ({"ANALYTICS_CACHE_ENABLED": "sometimes"}, "ANALYTICS_CACHE_ENABLED", "not a boolean"),
        ({"ANALYTICS_CACHE_SECONDS": "0"}, "ANALYTICS_CACHE_SECONDS", "below the minimum 1"),
        ({"ANALYTICS_CACHE_SECONDS": "10m"}, "ANALYTICS_CACHE_SECONDS", "not an integer"),
        ({"IMPORT_SYNC_MAX_BYTES": "-1"}, "IMPORT_SYNC_MAX_BYTES", "below the minimum 0"),
        ({"IMPORT_MAX_BYTES": "big"}, "IMPORT_MAX_BYTES", "not an integer"),
        ({"IMPORT_ADMIN_MAX_BYTES": "0"}, "IMPORT_ADMIN_MAX_BYTES", "below the minimum 1"),
        ({"IMPORT_SET_BASED_FK_CHECKS": "perhaps"}, "IMPORT_SET_BASED_FK_CHECKS", "boolean"),
        ({"IMPORT_WORK_MEM": "lots"}, "IMPORT_WORK_MEM", "memory size"),
        ({"IMPORT_ANALYZE_PERCENT": "101"}, "IMPORT_ANALYZE_PERCENT", "at most 100"),
        ({"IMPORT_ANALYZE_PERCENT": "-1"}, "IMPORT_ANALYZE_PERCENT", "below the minimum 0"),
        ({"IMPORT_INDEX_REBUILD_PERCENT": "half"}, "IMPORT_INDEX_REBUILD_PERCENT", "integer"),
        ({"EXPORT_WORK_MEM": "64"}, "EXPORT_WORK_MEM", "memory size"),
        ({"BULK_MAX_ITEMS": "0"}, "BULK_MAX_ITEMS", "below the minimum 1"),
        ({"SALES_BULK_MAX": "many"}, "SALES_BULK_MAX", "not an integer"),
        ({"CELERY_TASK_TIME_LIMIT": "5"}, "CELERY_TASK_TIME_LIMIT", "below the minimum 10"),
        (
            {"JOB_HEARTBEAT_SECONDS": "60", "JOB_HEARTBEAT_TIMEOUT": "100"},
            "JOB_HEARTBEAT_TIMEOUT",
            "twice JOB_HEARTBEAT_SECONDS",
        ),
        ({"JOB_FILES_RETENTION_DAYS": "0"}, "JOB_FILES_RETENTION_DAYS", "below the minimum 1"),
        ({"JOB_FILES_RETENTION_DAYS": "1w"}, "JOB_FILES_RETENTION_DAYS", "not an integer"),
        ({"SECURE_HSTS_SECONDS": "-1"}, "SECURE_HSTS_SECONDS", "below the minimum 0"),
        ({"SECURE_HSTS_SECONDS": "1y"}, "SECURE_HSTS_SECONDS", "not an integer"),
        ({"SECURE_HSTS_INCLUDE_SUBDOMAINS": "all"}, "SECURE_HSTS_INCLUDE_SUBDOMAINS", "boolean"),
        ({"SECURE_HSTS_PRELOAD": "later"}, "SECURE_HSTS_PRELOAD", "not a boolean"),
        ({"SECURE_SSL_REDIRECT": "https"}, "SECURE_SSL_REDIRECT", "not a boolean"),
        ({"SESSION_COOKIE_SECURE": "secure"}, "SESSION_COOKIE_SECURE", "not a boolean"),
        ({"TRUST_X_FORWARDED_PROTO": "proxy"}, "TRUST_X_FORWARDED_PROTO", "not a boolean"),
        ({"USE_X_FORWARDED_HOST": "2"}, "USE_X_FORWARDED_HOST", "not a boolean"),
        ({"THROTTLE_ANON_RATE": "100"}, "THROTTLE_ANON_RATE", "not a rate"),
        ({"THROTTLE_USER_RATE": "lots/minute"}, "THROTTLE_USER_RATE", "not a rate"),
        ({"THROTTLE_LOGIN_RATE": "10/fortnight"}, "THROTTLE_LOGIN_RATE", "not a rate"),
        ({"THROTTLE_NUM_PROXIES": "-1"}, "THROTTLE_NUM_PROXIES", "below the minimum 0"),
        ({"DATA_UPLOAD_MAX_MEMORY_SIZE": "10"}, "DATA_UPLOAD_MAX_MEMORY_SIZE", "below the minimum"),
        ({"FILE_UPLOAD_MAX_MEMORY_SIZE": "2MB"}, "FILE_UPLOAD_MAX_MEMORY_SIZE", "not an integer"),
        ({"STATIC_FILES_MANIFEST": "hashed"}, "STATIC_FILES_MANIFEST", "not a boolean"),
        ({"SEARCH_MAX_WORDS": "0"}, "SEARCH_MAX_WORDS", "below the minimum 1"),
        ({"SEARCH_MAX_LENGTH": "2"}, "SEARCH_MAX_LENGTH", "below the minimum 3"),
        ({"API_JSON_MAX_DEPTH": "deep"}, "API_JSON_MAX_DEPTH", "not an integer"),
        ({"DB_STATEMENT_TIMEOUT_MS": "-1"}, "DB_STATEMENT_TIMEOUT_MS", "below the minimum 0"),
        ({"DB_STATEMENT_TIMEOUT_JOBS_MS": "10min"}, "DB_STATEMENT_TIMEOUT_JOBS_MS", "integer"),
        ({"CURRENCY": "EURO"}, "CURRENCY", "not a three-letter ISO 4217 code"),
        ({"CURRENCY": "E1R"}, "CURRENCY", "not a three-letter ISO 4217 code"),
        ({"SITE_NAME": " "}, "SITE_NAME", "1 to 60 characters"),
    ],
)
def test_bad_variable_fails_at_start_up_naming_it(variables, named, problem):
    result = load_settings(**variables)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Invalid environment variable {named}" in result.stderr
    assert problem in result.stderr


def test_production_settings_accepted_with_secret_key():
    values = loaded(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="sales.example.com")
    assert values["debug"] is False


def test_cors_allow_list_from_environment():
    values = loaded(CORS_ALLOWED_ORIGINS="https://a.example.com, https://b.example.com")
    assert values["cors"] == ["https://a.example.com", "https://b.example.com"]


def test_manage_py_check_reports_the_variable():
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(DATABASE_URL="oracle://x/y", READ_DOT_ENV="false")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Invalid environment variable DATABASE_URL" in result.stderr


def test_http_catalog_from_environment():
    values = loaded(
        CATALOG_BACKEND="http",
        CATALOG_API_URL="https://catalog.example.com/api/",
        CATALOG_API_KEY="abc.def",
        CATALOG_TIMEOUT="2.5",
    )
    assert values["catalog"] == ["http", "https://catalog.example.com/api", 2.5]
