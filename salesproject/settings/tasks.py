"""Celery: the broker (a Redis database apart from the cache's), how tasks are run and
acknowledged, their time limits, and the beat schedule."""

from celery.schedules import crontab

from salesproject.environment import check_broker_apart_from_cache as _check_broker_apart_from_cache
from salesproject.environment import env
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_int as _env_int
from salesproject.environment import with_redis_db as _with_redis_db
from salesproject.settings.cache import REDIS_URL, _cache_db

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
