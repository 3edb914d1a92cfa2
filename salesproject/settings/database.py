"""The database: PostgreSQL from ``DATABASE_URL`` or the embedded SQLite file, the
statement timeouts, and the read replicas (``core/ops/replicas.py``)."""

from salesproject.environment import config_error as _config_error
from salesproject.environment import database_config as _database_config
from salesproject.environment import env
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_float as _env_float
from salesproject.environment import env_int as _env_int
from salesproject.environment import replica_databases as _replica_databases
from salesproject.settings.base import BASE_DIR, MIDDLEWARE

DATABASE_URL = env.str("DATABASE_URL", default="").strip()
_database = _database_config("DATABASE_URL", DATABASE_URL, str(BASE_DIR / "db.sqlite3"))

if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL (readers never wait for the writer) and a busy timeout let the dev server and a
    # management command share the file: a write waits up to SQLITE_BUSY_TIMEOUT seconds for
    # another connection's write lock, then answers 503 database_busy
    # (core/api/exception_handler.py).
    # IMMEDIATE: a transaction takes the write lock when it begins, so it waits for it there
    # (a read transaction turning into a write one would fail at once instead of waiting).
    SQLITE_BUSY_TIMEOUT = _env_float("SQLITE_BUSY_TIMEOUT", 20.0)
    if SQLITE_BUSY_TIMEOUT > 300:
        raise _config_error("SQLITE_BUSY_TIMEOUT", "at most 300 seconds (a request waits it)")
    _database.setdefault("OPTIONS", {}).update(
        {
            "timeout": SQLITE_BUSY_TIMEOUT,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Each worker keeps its connection: with 0, every request opens one (PostgreSQL forks a
    # backend): 2.5x fewer sales-list requests/s in bench/http_reads.py (docs/PERFORMANCE.md).
    _database["CONN_MAX_AGE"] = _env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    # Check a reused connection before each request (recovers from a dropped connection, at
    # the price of a SELECT 1 per request).
    _database["CONN_HEALTH_CHECKS"] = _env_bool("DB_CONN_HEALTH_CHECKS", default=True)
    _database.setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", _env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
    )
_database.setdefault("TEST", {})
DATABASES = {"default": _database}
# PostgreSQL's statement_timeout per connection (core/ops/database.py), in milliseconds,
# 0 = none: web processes (gunicorn, runserver) stop a query after DB_STATEMENT_TIMEOUT_MS
# (the API answers 503 query_timeout); management commands and Celery workers, whose jobs
# read whole tables, after DB_STATEMENT_TIMEOUT_JOBS_MS.
DB_STATEMENT_TIMEOUT_MS = _env_int("DB_STATEMENT_TIMEOUT_MS", 5000, minimum=0)
DB_STATEMENT_TIMEOUT_JOBS_MS = _env_int("DB_STATEMENT_TIMEOUT_JOBS_MS", 600_000, minimum=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

# Read replicas (core/ops/replicas.py, docs/scaling.md): PostgreSQL streaming replicas of the
# primary, one URL or several comma-separated; the heavy reads (analytics, exports, the dashboard,
# the sales and stock ledger lists) go there. Unset: no router, every query on the primary.
MAX_REPLICAS = 16
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="").strip()
# A replica down is skipped within a second: its connection attempt gives up after this.
REPLICA_CONNECT_TIMEOUT = _env_int("REPLICA_CONNECT_TIMEOUT", 1, minimum=1)
# Replicas lagging more than this (seconds behind the primary's commits) are skipped.
REPLICA_MAX_LAG_SECONDS = _env_float("REPLICA_MAX_LAG_SECONDS", 30.0)
# How long a client that wrote reads the primary (seconds; 0 = never: it may not see its write).
REPLICA_READ_YOUR_WRITES_SECONDS = _env_int("REPLICA_READ_YOUR_WRITES_SECONDS", 10, minimum=0)
# How often each process checks a replica's state (one small query per replica and interval).
REPLICA_HEALTH_CHECK_SECONDS = _env_float("REPLICA_HEALTH_CHECK_SECONDS", 1.0)
if REPLICA_CONNECT_TIMEOUT > 30:
    raise _config_error("REPLICA_CONNECT_TIMEOUT", "at most 30 seconds (a request may wait it)")
if REPLICA_MAX_LAG_SECONDS > 86400:
    raise _config_error("REPLICA_MAX_LAG_SECONDS", "at most 86400 seconds (one day)")
if REPLICA_READ_YOUR_WRITES_SECONDS > 3600:
    raise _config_error("REPLICA_READ_YOUR_WRITES_SECONDS", "at most 3600 seconds (one hour)")
if REPLICA_HEALTH_CHECK_SECONDS > 60:
    raise _config_error("REPLICA_HEALTH_CHECK_SECONDS", "at most 60 seconds")
if DATABASE_REPLICA_URL:
    if not IS_POSTGRES:
        raise _config_error("DATABASE_REPLICA_URL", "read replicas need a PostgreSQL DATABASE_URL")
    for _index, _replica in enumerate(
        _replica_databases("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL, MAX_REPLICAS)
    ):
        _replica["CONN_MAX_AGE"] = _database["CONN_MAX_AGE"]
        _replica["CONN_HEALTH_CHECKS"] = _database["CONN_HEALTH_CHECKS"]
        _replica.setdefault("OPTIONS", {})["connect_timeout"] = REPLICA_CONNECT_TIMEOUT
        # The normal test run reads "replicas" through the test database itself.
        _replica["TEST"] = {"MIRROR": "default"}
        DATABASES[f"replica_{_index}"] = _replica
    DATABASE_ROUTERS = ["core.ops.replicas.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "core.ops.replicas.ReadYourWritesMiddleware",
    )
