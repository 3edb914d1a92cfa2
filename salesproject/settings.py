"""Settings for the sales analytics backend.

Every setting comes from the environment (see docs/configuration.md and .env.example).
With no environment at all the project runs in its embedded default: a SQLite file, the
local-memory cache and Celery tasks executed eagerly in process.

A misconfigured variable stops start-up with ``ImproperlyConfigured`` naming the variable
(the parsers, ``_env_int`` and the like, are in ``salesproject/environment.py``).
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab

from salesproject.environment import check_broker_apart_from_cache as _check_broker_apart_from_cache
from salesproject.environment import config_error as _config_error
from salesproject.environment import database_config as _database_config
from salesproject.environment import env
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_choice as _env_choice
from salesproject.environment import env_float as _env_float
from salesproject.environment import env_int as _env_int
from salesproject.environment import env_list as _env_list
from salesproject.environment import env_memory as _env_memory
from salesproject.environment import env_origins as _env_origins
from salesproject.environment import env_rate as _env_rate
from salesproject.environment import logging_config as _logging_config
from salesproject.environment import redis_db_number as _redis_db_number
from salesproject.environment import replica_databases as _replica_databases
from salesproject.environment import with_redis_db as _with_redis_db

BASE_DIR = Path(__file__).resolve().parent.parent

if (BASE_DIR / ".env").is_file() and env.bool("READ_DOT_ENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env")


# --- Core -------------------------------------------------------------------------------------

DEBUG = _env_bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise _config_error("SECRET_KEY", "it must be set when DEBUG is off")
    SECRET_KEY = "insecure-embedded-default-key-for-local-development-only"

ALLOWED_HOSTS = _env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise _config_error("ALLOWED_HOSTS", "it must list the served host names when DEBUG is off")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "oauth2_provider",  # OAuth2 for API consumers at /o/ (accounts/oauth, docs/oauth.md)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as our own static files (no CDN)
    "django_countries",
    "accounts",
    "customers",
    "products",
    "sales",
    "analytics",
    "core.dataio",
    "core.jobs",
    "demo",  # seed_demo: demo data (imports every domain app; nothing imports it)
    # After our apps: of two management commands with one name the earlier app's wins, so
    # core.dataio's ``import``/``export`` (which refuse and name import_data and
    # export_data) shadow django-import-export's generic ones, which write around the services.
    "import_export",
]

MIDDLEWARE = [
    # First: the request id is on every log line of the request; every answer is counted.
    "core.ops.request_id.RequestIdMiddleware",
    "core.ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from gunicorn (container), before anything else touches the request.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A session opened before its user's "log out everywhere" is logged out (accounts/middleware).
    "accounts.middleware.SessionGenerationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: the first to see a view's exception; a query stopped by statement_timeout is a 503.
    "core.api.exception_handler.QueryTimeoutMiddleware",
    # A view stopped by a locked SQLite database (embedded default) is a 503, not a 500.
    "core.api.exception_handler.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "salesproject.urls"
WSGI_APPLICATION = "salesproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",  # SITE_NAME and CURRENCY
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

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

# --- Cache (django-redis in real mode, local memory otherwise) and Celery -------------------

REDIS_URL = env.str("REDIS_URL", default="").strip()
CACHE_TIMEOUT = _env_int("CACHE_TIMEOUT", 600, minimum=1)


_cache_db: int | None
if REDIS_URL:
    _cache_db = _redis_db_number("REDIS_URL", REDIS_URL)
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": _with_redis_db(REDIS_URL, _cache_db),
            "TIMEOUT": CACHE_TIMEOUT,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="sales"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Short timeouts: if Redis is down the API keeps working, uncached.
                "SOCKET_CONNECT_TIMEOUT": _env_float("REDIS_SOCKET_TIMEOUT", 0.5),
                "SOCKET_TIMEOUT": _env_float("REDIS_SOCKET_TIMEOUT", 0.5),
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    _cache_db = None
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "sales-embedded",
            "TIMEOUT": CACHE_TIMEOUT,
        }
    }


CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="").strip()
_broker_variable = "CELERY_BROKER_URL"
if not CELERY_BROKER_URL and REDIS_URL:
    # The broker lives in its own Redis database, the cache's + 1, so that deployments sharing a
    # Redis with caches in different databases never share a broker.
    _broker_variable = "CELERY_BROKER_DB"
    CELERY_BROKER_URL = _with_redis_db(
        REDIS_URL, _env_int("CELERY_BROKER_DB", (_cache_db or 0) + 1, minimum=0)
    )
if CELERY_BROKER_URL and REDIS_URL:
    _check_broker_apart_from_cache(_broker_variable, CELERY_BROKER_URL, REDIS_URL, _cache_db)
CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
# JSON only: a message is data (ids and plain values), never a pickled object.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
# A task is acknowledged when it is done, not when it starts: a worker killed midway leaves it to
# be delivered again (every task is idempotent), one message at a time per worker process.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits: SoftTimeLimitExceeded is raised in the task (its transaction rolls back), then the
# process is killed at the hard limit.
CELERY_TASK_TIME_LIMIT = _env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, 5)
# Redis hands an unacknowledged message to another worker after this: longer than any task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
# If the broker is down, enqueueing fails within about two seconds (the API answers 503).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_BEAT_SCHEDULE = {
    # Send the HTTP catalog's pending stock changes (restocks of cancelled sales, compensations
    # of undone purchases) whose backoff has passed; a no-op with the local catalog.
    "retry-catalog-outbox": {"task": "products.retry_catalog_outbox", "schedule": 60.0},
    # Delete Idempotency-Key answers past their expiry (kept at least 24 hours).
    "purge-idempotency-keys": {"task": "sales.purge_idempotency_keys", "schedule": 3600.0},
    # Mark failed the batch jobs whose worker stopped sending heartbeats (killed, machine lost).
    "fail-stale-jobs": {"task": "jobs.fail_stale_jobs", "schedule": 60.0},
    # Delete the uploaded files and error reports of jobs finished more than
    # JOB_FILES_RETENTION_DAYS ago (the job rows stay, noting it), and orphaned job files.
    "purge-job-files": {"task": "jobs.purge_job_files", "schedule": 3600.0},
    # Delete expired OAuth2 tokens and codes (django-oauth-toolkit's cleartokens): a client that
    # asks for a token on every call must not grow the token tables without end.
    "clear-expired-oauth-tokens": {
        "task": "accounts.clear_expired_oauth_tokens",
        "schedule": crontab(hour=3, minute=10),
    },
    # Delete the Redis keys of old cache generations (analytics:g{N}:… below the current N) with
    # SCAN + UNLINK in batches, on the cache's database only; a no-op on the local-memory cache.
    "purge-stale-cache": {"task": "analytics.purge_stale_cache", "schedule": 600.0},
    # Safety net: rebuild the rollups of yesterday (local day in TIME_ZONE, widened to its whole
    # month) from the sales tables, in case sales were written behind the services' back. Runs
    # at 02:30 in TIME_ZONE (CELERY_TIMEZONE), when yesterday is over.
    "refresh-yesterdays-rollups": {
        "task": "analytics.refresh_recent_rollups",
        "schedule": crontab(hour=2, minute=30),
        "kwargs": {"days": 1},
    },
}

# --- Auth, API ---------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = ["accounts.backends.CachedPermissionsModelBackend"]
# Seconds a user's permission set is cached (a role change takes effect within it); 0 = off.
PERMISSION_CACHE_SECONDS = _env_int("PERMISSION_CACHE_SECONDS", 60, minimum=0)
# Seconds each process keeps the user behind a JWT, with their permissions, instead of loading
# them on every request (accounts/authentication.py); 0 = off.
JWT_USER_CACHE_SECONDS = _env_int("JWT_USER_CACHE_SECONDS", 30, minimum=0)
# Login lockout on every login form and the token endpoint, counted in the cache (Redis):
# failures per (username, client IP), per username from anywhere, and per client IP, within
# LOGIN_LOCKOUT_SECONDS; a lock lasts that long (accounts/lockout.py, docs/security.md). 0 = off.
LOGIN_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5, minimum=0)
LOGIN_USERNAME_FAILURE_LIMIT = _env_int("LOGIN_USERNAME_FAILURE_LIMIT", 20, minimum=0)
LOGIN_IP_FAILURE_LIMIT = _env_int("LOGIN_IP_FAILURE_LIMIT", 50, minimum=0)
LOGIN_LOCKOUT_SECONDS = _env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
if 0 < LOGIN_USERNAME_FAILURE_LIMIT <= LOGIN_FAILURE_LIMIT:
    raise _config_error(
        "LOGIN_USERNAME_FAILURE_LIMIT",
        "it must be more than LOGIN_FAILURE_LIMIT (or 0 for off), or one client could lock "
        "anyone's account out",
    )

API_PAGE_SIZE = _env_int("API_PAGE_SIZE", 50, minimum=1)
API_MAX_PAGE_SIZE = _env_int("API_MAX_PAGE_SIZE", 500, minimum=1)
if API_MAX_PAGE_SIZE < API_PAGE_SIZE:
    raise _config_error("API_MAX_PAGE_SIZE", "it must be at least API_PAGE_SIZE")
# Searches (the API's search=, the admin's search box; core/api/filtering.py): at most
# this many different words, each of at least 3 characters, in at most this many characters.
SEARCH_MAX_WORDS = _env_int("SEARCH_MAX_WORDS", 8, minimum=1)
SEARCH_MAX_LENGTH = _env_int("SEARCH_MAX_LENGTH", 200, minimum=3)
# The most nested arrays/objects a JSON request body may hold (core/api/parsers.py).
API_JSON_MAX_DEPTH = _env_int("API_JSON_MAX_DEPTH", 32, minimum=2)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # OAuth2 first: it takes only dotless bearer tokens (no query for a JWT), and checks
        # the scope the view needs (accounts/oauth/authentication.py).
        "accounts.oauth.authentication.OAuth2Authentication",
        "accounts.authentication.CachedUserJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RoleModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.filtering.StrictOrderingFilter",
    ],
    # DRF's parsers, the JSON one with the nesting bounded (API_JSON_MAX_DEPTH).
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ErrorAwareAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.api.renderers.BrowsableAPIRenderer",  # raw-data forms with an example body
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "ORDERING_PARAM": "ordering",
    "SEARCH_PARAM": "search",
    # Throttling (counts in the default cache: Redis in real mode, shared by every process):
    # anonymous clients per IP, authenticated users per user; the token endpoint has its own
    # "login" scope per IP (salesproject/urls.py). Over the rate: 429 with Retry-After.
    # DRF's throttles, failing open when the cache is down (core/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _env_rate("THROTTLE_ANON_RATE", "300/minute"),
        "user": _env_rate("THROTTLE_USER_RATE", "3000/minute"),
        "login": _env_rate("THROTTLE_LOGIN_RATE", "10/minute"),
        # /o/token/, /o/revoke_token/, /o/introspect/ per client IP (each hashes a secret).
        "oauth_token": _env_rate("THROTTLE_OAUTH_TOKEN_RATE", "60/minute"),
    },
    # Client IP for the anonymous and login throttles: 0 = REMOTE_ADDR (a client cannot dodge
    # the limit with its own X-Forwarded-For); behind n proxies, the n-th address from the end.
    "NUM_PROXIES": _env_int("THROTTLE_NUM_PROXIES", 0, minimum=0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=_env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=_env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": _env_bool("JWT_ROTATE_REFRESH_TOKENS", default=False),
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    # Tokens carry a stamp of their user's password and token generation, checked on every
    # use: a password change or "log out everywhere" ends them (accounts/tokens.py).
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.StampedTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.StampedTokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "accounts.tokens.StampedTokenVerifySerializer",
}

# OAuth2 (django-oauth-toolkit; accounts/oauth, docs/oauth.md): authorization code with PKCE,
# client credentials, rotated refresh tokens; tokens stored as hashes only.
OAUTH2_ACCESS_TOKEN_SECONDS = _env_int("OAUTH2_ACCESS_TOKEN_SECONDS", 3600, minimum=60)
OAUTH2_REFRESH_TOKEN_DAYS = _env_int("OAUTH2_REFRESH_TOKEN_DAYS", 30, minimum=1)
OAUTH2_PROVIDER = {
    "SCOPES": {
        "read": "Read everything your role may read (every GET)",
        "write": "Record, edit and cancel sales; create and edit customers and products",
        "import": "Imports, bulk endpoints and price updates",
        "analytics": "The analytics endpoints only",
    },
    "DEFAULT_SCOPES": ["read"],  # a token request naming no scope
    "OAUTH2_SERVER_CLASS": "accounts.oauth.server.OAuth2Server",
    "OAUTH2_VALIDATOR_CLASS": "accounts.oauth.server.OAuth2Validator",
    "APPLICATION_ADMIN_CLASS": "accounts.oauth.admin.ApplicationAdmin",
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH2_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH2_REFRESH_TOKEN_DAYS * 86_400,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    # RFC 9700 (OAuth 2.0 security best current practice), enforced.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Redirect URIs over https only; plain http (a local development client) with DEBUG only.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"] if DEBUG else ["https"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sales analytics API",
    "DESCRIPTION": (
        "Customers, products, sales and analytics. Authenticate with a JWT from "
        "`POST /api/auth/token/` (header `Authorization: Bearer <access>`), a session, or (for "
        "applications) an OAuth2 access token from `/o/token/` with the scopes each operation "
        "lists (client credentials or authorization code with PKCE). "
        'Every error answers `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {
        # analytics rfm/customers' `segment` (RFM segments) vs the customers' segment choices
        "RfmSegmentEnum": "analytics.selectors.RFM_SEGMENT_KEYS",
        "SegmentEnum": "customers.models.CustomerSegment",
    },
    # /api/docs/ and /api/redoc/ load their scripts from our static files (the pinned
    # drf-spectacular-sidecar), never from a CDN: they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The oauth2 security scheme (accounts/oauth/schema.py): Swagger UI's Authorize button.
    "OAUTH2_FLOWS": ["clientCredentials", "authorizationCode"],
    "OAUTH2_AUTHORIZATION_URL": "/o/authorize/",
    "OAUTH2_TOKEN_URL": "/o/token/",
    "OAUTH2_REFRESH_URL": "/o/token/",
    "OAUTH2_SCOPES": OAUTH2_PROVIDER["SCOPES"],
    "SWAGGER_UI_OAUTH2_CONFIG": {"usePkceWithAuthorizationCodeGrant": True},
}

CORS_ALLOWED_ORIGINS = _env_origins("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"

# --- Catalog (see products/catalog.py) ----------------------------------------------------------

CATALOG_BACKEND = _env_choice("CATALOG_BACKEND", "local", ("local", "http"))
CATALOG_API_URL = env.str("CATALOG_API_URL", default="").strip().rstrip("/")
CATALOG_API_KEY = env.str("CATALOG_API_KEY", default="")
CATALOG_TIMEOUT = _env_float("CATALOG_TIMEOUT", 5.0)  # read timeout, seconds
CATALOG_CONNECT_TIMEOUT = _env_float("CATALOG_CONNECT_TIMEOUT", 2.0)
# One sale's total budget for all its catalog calls (reads, their retries, purchases), seconds:
# past it the sale answers 503 and what it took is given back (docs/catalog.md).
CATALOG_SALE_DEADLINE = _env_float("CATALOG_SALE_DEADLINE", 10.0)
if CATALOG_SALE_DEADLINE > 60:
    raise _config_error(
        "CATALOG_SALE_DEADLINE",
        f"{CATALOG_SALE_DEADLINE:g} is over 60 seconds "
        "(a request waiting that long holds a worker)",
    )
if CATALOG_BACKEND == "http":
    _catalog_url = urlsplit(CATALOG_API_URL)
    if _catalog_url.scheme not in ("http", "https") or not _catalog_url.netloc:
        raise _config_error(
            "CATALOG_API_URL",
            f"{CATALOG_API_URL or '(empty)'!r} is not an http(s) URL; with CATALOG_BACKEND=http it "
            "must be the catalog's base, e.g. https://catalog.example.com/api",
        )
    if not CATALOG_API_KEY:
        raise _config_error("CATALOG_API_KEY", "it must be set when CATALOG_BACKEND=http")

# --- Internationalisation, static files, logging ------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
# The currency of every amount (an ISO 4217 code): shown next to money in the admin, the
# dashboard and the analytics answers; the amounts themselves stay plain decimals.
CURRENCY = env.str("CURRENCY", default="USD").strip().upper()
if not (len(CURRENCY) == 3 and CURRENCY.isascii() and CURRENCY.isalpha()):
    raise _config_error("CURRENCY", f"{CURRENCY!r} is not a three-letter ISO 4217 code")
# The site's name in the admin, the browsable API and the dashboard.
SITE_NAME = env.str("SITE_NAME", default="Sales analytics").strip()
if not SITE_NAME or len(SITE_NAME) > 60:
    raise _config_error("SITE_NAME", "it must be 1 to 60 characters")
CELERY_TIMEZONE = TIME_ZONE  # crontab schedules of the beat are in local time
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by WhiteNoise (compressed). The hashed-name manifest storage needs collectstatic to have
# run (the image does it at build), so it is used only with DEBUG off and
# STATIC_FILES_MANIFEST=true (set in the Dockerfile); tests and `make run` keep the plain one.
STATIC_FILES_MANIFEST = _env_bool("STATIC_FILES_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_FILES_MANIFEST and not DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# Frozen from the environment's DEBUG (the test runner forces settings.DEBUG off later).
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded import files waiting for a worker, and jobs' error reports. With separate web and
# worker machines (docker compose), this is a volume both mount.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

LOG_LEVEL = _env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
# json: one JSON object per line (python-json-logger), for log collectors; text: readable lines.
# Both carry the request id (X-Request-ID) and, in a Celery task, the task id.
LOG_FORMAT = _env_choice("LOG_FORMAT", "text" if DEBUG else "json", ("json", "text"))
LOGGING = _logging_config(LOG_LEVEL, LOG_FORMAT)

# --- Health and metrics (core/ops/health.py, core/ops/metrics.py) ----------------------

# Seconds each readiness check (database, cache, broker) may take before it counts as down.
HEALTH_CHECK_TIMEOUT = _env_float("HEALTH_CHECK_TIMEOUT", 2.0)
# /metrics needs "Authorization: Bearer <METRICS_TOKEN>"; unset: staff sessions only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="").strip()
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise _config_error("METRICS_TOKEN", "it must be at least 16 characters (or unset)")
# Gunicorn with several workers: a directory (empty at start) where every process writes its
# metrics; /metrics aggregates them (prometheus_client reads the variable itself too).
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="").strip()
if PROMETHEUS_MULTIPROC_DIR and not Path(PROMETHEUS_MULTIPROC_DIR).is_dir():
    raise _config_error(
        "PROMETHEUS_MULTIPROC_DIR", f"{PROMETHEUS_MULTIPROC_DIR!r} is not a directory"
    )

# --- Security (HTTPS, proxies, upload sizes); `manage.py check --deploy` is clean with the
# production values of .env.example --------------------------------------------------------------

SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = _env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks and metrics scrapes come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics/?$"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if _env_bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = _env_bool("USE_X_FORWARDED_HOST", default=False)
# Request bodies: at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes of non-file form data (Django's
# limit; JSON API bodies are parsed by DRF from the stream); uploaded files bigger than
# FILE_UPLOAD_MAX_MEMORY_SIZE are spooled to a temporary file instead of memory. The size of an
# import file itself is capped by IMPORT_MAX_BYTES / IMPORT_ADMIN_MAX_BYTES (below).
DATA_UPLOAD_MAX_MEMORY_SIZE = _env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = _env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=0)

# --- Sales ---------------------------------------------------------------------------------------

SALE_MAX_LINES = _env_int("SALE_MAX_LINES", 500, minimum=1)
IDEMPOTENCY_KEY_TTL_HOURS = _env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24)

# Imports (CSV/XLSX/JSON). An API upload up to IMPORT_SYNC_MAX_BYTES is imported in the request;
# a bigger one runs as a batch job (202 + job URL). Uploads over IMPORT_MAX_BYTES are refused,
# as are admin imports over IMPORT_ADMIN_MAX_BYTES (the admin previews the file in the request).
IMPORT_SYNC_MAX_BYTES = _env_int("IMPORT_SYNC_MAX_BYTES", 1_000_000, minimum=0)
IMPORT_MAX_BYTES = _env_int("IMPORT_MAX_BYTES", 500_000_000, minimum=1)
IMPORT_ADMIN_MAX_BYTES = _env_int("IMPORT_ADMIN_MAX_BYTES", 20_000_000, minimum=1)
# Bounds on what one import file may cost (docs/security.md, "File imports"): data rows, columns
# (also the widest XLSX sheet read), characters in one CSV line / XLSX row / JSON object (a longer
# one is an error for that row), row errors kept for the report and the errors file (all are
# counted), and the wall-clock limit of an import job (it fails with a message saying so).
IMPORT_MAX_ROWS = _env_int("IMPORT_MAX_ROWS", 5_000_000, minimum=1)
IMPORT_MAX_COLUMNS = _env_int("IMPORT_MAX_COLUMNS", 64, minimum=16)
IMPORT_MAX_LINE_LENGTH = _env_int("IMPORT_MAX_LINE_LENGTH", 65_536, minimum=1024)
IMPORT_ERRORS_KEPT = _env_int("IMPORT_ERRORS_KEPT", 1_000, minimum=1)
IMPORT_JOB_TIME_LIMIT = _env_int("IMPORT_JOB_TIME_LIMIT", 1800, minimum=10)
# PostgreSQL imports: check the foreign keys of imported rows as one set under FOR KEY SHARE
# locks instead of a trigger per row (needs the right to set session_replication_role; falls
# back to the triggers otherwise); the work_mem of the import and export transactions.
IMPORT_SET_BASED_FK_CHECKS = _env_bool("IMPORT_SET_BASED_FK_CHECKS", default=True)
# PostgreSQL imports: the tables an import changed by more than this percentage of their rows
# (inserted + updated + deleted against the rows they held) are ANALYZEd before it commits, so
# the planner knows their new size at once (0: after every import that changes a table).
IMPORT_ANALYZE_PERCENT = _env_int("IMPORT_ANALYZE_PERCENT", 10, minimum=0)
if IMPORT_ANALYZE_PERCENT > 100:
    raise _config_error("IMPORT_ANALYZE_PERCENT", "at most 100 (a percentage of a table's rows)")


# PostgreSQL sales imports of at least 10,000 lines that add at least this percentage of the rows
# the sales tables hold drop their secondary indexes and build them after the inserts (faster;
# readers of the sales wait for the import's commit meanwhile). 0: never.
IMPORT_INDEX_REBUILD_PERCENT = _env_int("IMPORT_INDEX_REBUILD_PERCENT", 50, minimum=0)
IMPORT_WORK_MEM = _env_memory("IMPORT_WORK_MEM", "128MB")
EXPORT_WORK_MEM = _env_memory("EXPORT_WORK_MEM", "64MB")
# POST /api/products/bulk/ and /api/customers/bulk/: items per request (all or nothing).
BULK_MAX_ITEMS = _env_int("BULK_MAX_ITEMS", 10_000, minimum=1)
# POST /api/sales/bulk/: up to SALES_BULK_SYNC_MAX sales are recorded in the request, more (up
# to SALES_BULK_MAX) as a batch job.
SALES_BULK_SYNC_MAX = _env_int("SALES_BULK_SYNC_MAX", 100, minimum=0)
SALES_BULK_MAX = _env_int("SALES_BULK_MAX", 10_000, minimum=1)

# Batch jobs: a running job's worker writes a heartbeat every JOB_HEARTBEAT_SECONDS; a job
# without one for JOB_HEARTBEAT_TIMEOUT is taken over by its redelivered task, or marked failed.
JOB_HEARTBEAT_SECONDS = _env_int("JOB_HEARTBEAT_SECONDS", 5, minimum=1)
JOB_HEARTBEAT_TIMEOUT = _env_int("JOB_HEARTBEAT_TIMEOUT", 120, minimum=10)
if JOB_HEARTBEAT_TIMEOUT <= 2 * JOB_HEARTBEAT_SECONDS:
    raise _config_error("JOB_HEARTBEAT_TIMEOUT", "it must be more than twice JOB_HEARTBEAT_SECONDS")
# A finished job's uploaded file and error report are deleted this many days after it ended
# (beat entry purge-job-files, command purge_job_files); the job row stays and notes it.
JOB_FILES_RETENTION_DAYS = _env_int("JOB_FILES_RETENTION_DAYS", 7, minimum=1)

# --- Analytics -----------------------------------------------------------------------------------

# Analytics answers are cached (keys analytics:g{generation}:..., see analytics/cache.py); a sale
# write starts a new generation. Off: every answer is computed (benchmarks, debugging).
ANALYTICS_CACHE_ENABLED = _env_bool("ANALYTICS_CACHE_ENABLED", default=True)
ANALYTICS_CACHE_SECONDS = _env_int("ANALYTICS_CACHE_SECONDS", CACHE_TIMEOUT, minimum=1)
