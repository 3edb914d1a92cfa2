"""The cache: django-redis with ``REDIS_URL``, local memory otherwise."""

from salesproject.environment import env
from salesproject.environment import env_float as _env_float
from salesproject.environment import env_int as _env_int
from salesproject.environment import redis_db_number as _redis_db_number
from salesproject.environment import with_redis_db as _with_redis_db

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
