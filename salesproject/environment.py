"""Reading settings from the environment: one parser per kind of value, each validating it.

A bad value raises ``ImproperlyConfigured`` naming the variable and the problem, so a
misconfigured deployment stops at start-up. The settings (``salesproject/settings/``, one
module per concern) import these helpers (under their historical ``_env_*`` names) and read every
variable through them or ``env``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_RATE = re.compile(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)")


def config_error(variable: str, problem: str) -> ImproperlyConfigured:
    """The error for a bad value of ``variable``."""
    return ImproperlyConfigured(f"Invalid environment variable {variable}: {problem}")


def env_bool(variable: str, default: bool) -> bool:
    """true/false, 1/0, yes/no, on/off (any case); unset or empty: ``default``."""
    raw = env.str(variable, default="").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise config_error(variable, f"{raw!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(variable: str, default: int, minimum: int | None = None) -> int:
    """A whole number, at least ``minimum`` when given."""
    raw = env.str(variable, default="").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise config_error(variable, f"{raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise config_error(variable, f"{value} is below the minimum {minimum}")
    return value


def env_float(variable: str, default: float) -> float:
    """A positive number of seconds."""
    raw = env.str(variable, default="").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise config_error(variable, f"{raw!r} is not a number") from None
    if value <= 0:
        raise config_error(variable, f"{raw!r} must be a positive number of seconds")
    return value


def env_list(variable: str, default: list[str]) -> list[str]:
    """A comma-separated list (blank items dropped)."""
    raw = env.str(variable, default="")
    if raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(variable: str, default: str) -> str | None:
    """A DRF throttle rate like ``100/minute``; ``off`` disables that throttle."""
    raw = env.str(variable, default=default).strip().lower() or default
    if raw in {"off", "none"}:
        return None
    if not _RATE.fullmatch(raw):
        raise config_error(variable, f"{raw!r} is not a rate like 100/minute (or off)")
    return raw


def env_choice(variable: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (any case)."""
    value = env.str(variable, default=default).strip().lower() or default
    if value not in choices:
        raise config_error(variable, f"{value!r} is not one of {', '.join(choices)}")
    return value


def env_memory(variable: str, default: str) -> str:
    """A PostgreSQL memory size like ``128MB`` (kB, MB or GB)."""
    raw = env.str(variable, default=default).strip()
    if not re.fullmatch(r"\d+(kB|MB|GB)", raw):
        raise config_error(variable, f"{raw!r} is not a PostgreSQL memory size like 128MB")
    return raw


def redis_db_number(variable: str, url: str) -> int:
    """The database number of a redis:// URL (0 when it has none), the URL checked."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or (
        parts.scheme != "unix" and not parts.hostname
    ):
        raise config_error(variable, f"{url!r} is not a redis://host:port/db URL")
    try:
        _ = parts.port
    except ValueError:
        raise config_error(variable, f"{url!r} has an invalid port") from None
    path = parts.path.strip("/")
    if path == "":
        return 0
    if not path.isdigit():
        raise config_error(variable, f"the database number {path!r} is not an integer")
    return int(path)


def with_redis_db(url: str, db: int) -> str:
    """The redis:// URL with its database number replaced by ``db``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def redis_server(url: str) -> tuple[str, int]:
    """``(host, port)`` of a redis:// URL, whatever its spelling (case, default port,
    credentials, loopback name): what tells whether two URLs reach the same Redis."""
    parts = urlsplit(url)
    host = (parts.hostname or "localhost").lower()
    return ("localhost" if host in ("localhost", "127.0.0.1", "::1") else host), parts.port or 6379


def database_config(variable: str, url: str, default_sqlite: str) -> dict:
    """Django's database dict for ``url`` (postgres://user:pass@host:port/name or
    sqlite:///path), checked; no URL: the SQLite file ``default_sqlite``."""
    if not url:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": default_sqlite}
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql", "pgsql", "psql", "sqlite"):
        raise config_error(
            variable,
            f"scheme {scheme or '(none)'!r} is not supported; use postgres://user:pass@host:port/"
            "name or sqlite:///path",
        )
    try:
        database = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises a variety of errors for a bad URL
        raise config_error(variable, f"cannot be parsed ({exc})") from exc
    if scheme != "sqlite" and not database.get("NAME"):
        raise config_error(variable, "the database name (the URL path) is missing")
    return database


def check_broker_apart_from_cache(
    variable: str, broker_url: str, cache_url: str, cache_db: int | None
) -> None:
    """A Redis broker must not use the cache's Redis database (``variable`` set it)."""
    if urlsplit(broker_url).scheme not in ("redis", "rediss"):
        return
    broker_db = redis_db_number(variable, broker_url)
    if redis_server(broker_url) == redis_server(cache_url) and broker_db == cache_db:
        raise config_error(
            variable,
            f"the broker would use Redis database {broker_db} on "
            f"{':'.join(map(str, redis_server(cache_url)))}, the same as the cache "
            "(REDIS_URL); give the broker its own database number (the default is the "
            "cache's + 1)",
        )


def logging_config(level: str, fmt: str) -> dict:
    """LOGGING: one console handler, ``fmt`` "json" (python-json-logger, one object per line)
    or "text", both carrying the request id and, in a Celery task, the task id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "core.ops.request_id.ContextFilter"}},
        "formatters": {
            "text": {
                "()": "core.ops.request_id.TextFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s [%(ids)s] %(message)s",
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["context"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own "django" logger would print request warnings a second time.
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            "django.db.backends": {"level": "WARNING"},
        },
    }


def replica_databases(variable: str, value: str, most: int) -> list[dict]:
    """Django's database dicts of the comma-separated postgres:// URLs in ``value`` (at most
    ``most``), each checked; the caller adds the connection options."""
    urls = [url.strip() for url in value.split(",")]
    if len(urls) > most:
        raise config_error(variable, f"at most {most} replicas")
    databases = []
    for index, url in enumerate(urls):
        where = f"URL {index + 1}"
        if not url:
            raise config_error(variable, f"{where} is empty (a stray comma?)")
        if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql", "psql"):
            raise config_error(
                variable, f"{where} is not a postgres://user:pass@host:port/name URL"
            )
        try:
            database = environ.Env.db_url_config(url)
        except Exception as exc:
            raise config_error(variable, f"{where} cannot be parsed ({exc})") from exc
        if not database.get("NAME"):
            raise config_error(variable, f"{where} has no database name")
        databases.append(database)
    return databases


def env_origins(variable: str) -> list[str]:
    """A comma-separated list of web origins (``https://host[:port]``), each checked."""
    origins = env_list(variable, [])
    for origin in origins:
        if urlsplit(origin).scheme not in ("http", "https") or not urlsplit(origin).netloc:
            raise config_error(variable, f"{origin!r} is not an origin like https://host")
    return origins
