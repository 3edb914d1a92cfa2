"""Purging stale cache generations (docs/architecture.md, "Analytics: rollups and cache").

Cached reads of a *generation namespace* use keys ``<namespace>:g{N}:…``, ``N`` being the
namespace's current generation, a counter kept in the cache (today only ``analytics``, counter
``analytics:generation``, see ``analytics/cache.py``). A write bumps the counter, so the keys
of older generations are never read again; they expire by their TTL, and
:func:`purge_stale_cache_generations` removes them earlier, which keeps Redis's memory for
live entries.

How, on django-redis: with the cache's own connection (so the cache's Redis database, never
the Celery broker's), ``SCAN … MATCH <key prefix>:analytics:g* COUNT 1000`` walks the keyspace a
little at a time, and the keys whose generation is below the current one are removed with
``UNLINK`` in batches (memory is freed off the main thread). Never ``KEYS`` (one blocking walk
of the whole keyspace), never ``FLUSHDB``/``FLUSHALL``, never a key outside the pattern. The
current generation's keys and the counter stay. Generations only grow (a lost counter
restarts at a larger number), so a key below the generation read at the start is stale for
good; a bump during the purge is caught by the next run.

On the local-memory cache (the embedded default) there is nothing to purge: entries of old
generations expire on their own, in process. When Redis is down the purge logs and returns;
the beat runs it again later.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

if TYPE_CHECKING:
    from redis import Redis

logger = logging.getLogger(__name__)

SCAN_COUNT = 1000  # keys Redis examines per SCAN call: short calls, other clients go between


_GENERATION_NAMESPACES: dict[str, str] = {}


def register_generation_namespace(name: str, key: str) -> None:
    """Declare a generation namespace ``name`` whose counter is the cache key ``key`` (an app
    calls it in its ``AppConfig.ready()``; the analytics app registers ``analytics``). The core
    imports no app: the apps tell it. Registering the same pair again is a no-op; another key
    for a registered name is a programming error."""
    if not name or ":" in name or "*" in name:
        raise ValueError(f"bad generation namespace name {name!r}")
    known = _GENERATION_NAMESPACES.get(name)
    if known is not None and known != key:
        raise ValueError(f"generation namespace {name!r} already registered with key {known!r}")
    _GENERATION_NAMESPACES[name] = key


def generation_namespaces() -> dict[str, str]:
    """Namespace -> the cache key of its generation counter (those registered)."""
    return dict(_GENERATION_NAMESPACES)


class CachePurgeRefused(RuntimeError):
    """The purge would run on the Celery broker's database: refused, nothing touched."""


@dataclass
class PurgeStats:
    scanned: int = 0  # keys matching <prefix>:<namespace>:g* seen by SCAN (the counter too)
    deleted: int = 0  # keys of older generations removed (UNLINK's count)
    seconds: float = 0.0
    # namespace -> the generation whose keys (and newer) were kept; None: no counter, skipped
    generations: dict[str, int | None] = field(default_factory=dict)
    skipped: str = ""  # why nothing was done ("" when the purge ran)

    @property
    def ran(self) -> bool:
        return not self.skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "deleted": self.deleted,
            "seconds": round(self.seconds, 3),
            "generations": dict(self.generations),
            "skipped": self.skipped,
        }


def _is_django_redis(cache: BaseCache) -> bool:
    try:
        from django_redis.cache import RedisCache
    except ImportError:  # pragma: no cover - django-redis is a requirement
        return False
    return isinstance(cache, RedisCache)


_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"}


def _host(value: str | None) -> str:
    host = (value or "localhost").strip().lower()
    return "localhost" if host in _LOOPBACK else host


def check_not_broker_db(client: Redis) -> None:
    """Raise :class:`CachePurgeRefused` when ``client`` (a redis-py client) talks to the same
    Redis server and database as the Celery broker."""
    broker_url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    broker = urlsplit(broker_url)
    if broker.scheme not in ("redis", "rediss", "unix", "redis+socket"):
        return  # memory://, amqp://: not a Redis database at all
    kwargs = client.connection_pool.connection_kwargs
    db = int(kwargs.get("db") or 0)
    if broker.scheme in ("unix", "redis+socket"):  # unix:///path?db=N, redis+socket:///path
        query = parse_qs(broker.query)
        number = (query.get("db") or query.get("virtual_host") or ["0"])[0]
        broker_db = int(number) if number.isdigit() else 0
        same_server = kwargs.get("path") == broker.path
    else:
        path = broker.path.strip("/")
        broker_db = int(path) if path.isdigit() else 0
        same_server = (
            "path" not in kwargs
            and _host(kwargs.get("host")) == _host(broker.hostname)
            and int(kwargs.get("port") or 6379) == (broker.port or 6379)
        )
    if same_server and db == broker_db:
        raise CachePurgeRefused(
            f"The cache uses Redis database {db}, the Celery broker's database: refusing to "
            "purge it. Give the broker its own database number (CELERY_BROKER_DB)."
        )


def _escape_glob(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _generation_of(key: bytes, prefix: bytes) -> int | None:
    """``N`` of ``<prefix>N:…`` (``prefix`` ends with ``:g``); ``None`` for other keys, such as
    the counter ``…:generation``."""
    rest = key[len(prefix) :]
    digits, colon, _ = rest.partition(b":")
    if not colon or not digits.isdigit():
        return None
    return int(digits)


def purge_stale_cache_generations(
    *, batch: int = 500, pause: float = 0.0, alias: str = "default"
) -> PurgeStats:
    """Remove the cache keys of every generation older than the current one, in every
    generation namespace (see the module docstring). ``batch`` keys per ``UNLINK``; ``pause``
    seconds of sleep after each batch (keeps Redis responsive under a huge purge). Safe to run
    at any time and twice; a no-op on a cache other than django-redis, and when Redis is down
    (logged). Raises :class:`CachePurgeRefused` when the cache shares the broker's database."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if pause < 0:
        raise ValueError("pause must not be negative")
    started = time.perf_counter()
    stats = PurgeStats()
    cache = caches[alias]
    if not _is_django_redis(cache):
        stats.skipped = (
            f"the {alias!r} cache is {type(cache).__name__}, not Redis: nothing to purge "
            "(old generations expire on their own)"
        )
        logger.info("Cache purge: %s", stats.skipped)
        return stats

    from django_redis import get_redis_connection
    from redis.exceptions import RedisError

    client = get_redis_connection(alias)
    check_not_broker_db(client)
    try:
        for namespace, counter_key in generation_namespaces().items():
            _purge_namespace(cache, client, namespace, counter_key, batch, pause, stats)
    except (RedisError, OSError) as exc:
        stats.skipped = f"Redis unavailable ({exc.__class__.__name__}: {exc})"
        logger.warning("Cache purge stopped: %s; the next run will go on", stats.skipped)
    stats.seconds = time.perf_counter() - started
    if stats.ran:
        logger.info(
            "Cache purge: %d stale keys deleted (%d scanned) in %.2f s; current generations %s",
            stats.deleted,
            stats.scanned,
            stats.seconds,
            stats.generations,
        )
    return stats


def _purge_namespace(
    cache: Any,  # django-redis's RedisCache (untyped)
    client: Redis,
    namespace: str,
    counter_key: str,
    batch: int,
    pause: float,
    stats: PurgeStats,
) -> None:
    raw = client.get(cache.make_key(counter_key))
    if raw is None:
        # No counter: the next read starts one, larger than any older number; the old keys
        # simply expire. Nothing is deleted without knowing the current generation.
        stats.generations[namespace] = None
        return
    current = int(cache.client.decode(raw))
    stats.generations[namespace] = current
    marker = f"{namespace}:g"
    full = str(cache.make_key(marker))
    if not full.endswith(marker):
        raise CachePurgeRefused(
            f"The cache's KEY_FUNCTION does not end keys with the key ({full!r}): the "
            "generation keys cannot be matched by prefix."
        )
    prefix = full.encode()
    pattern = _escape_glob(full) + "*"
    pending: list[bytes] = []

    def unlink(keys: list[bytes]) -> None:
        # One UNLINK of the whole batch: one round trip; Redis frees the values off its main
        # thread and answers how many keys existed (a key that expired meanwhile counts 0).
        stats.deleted += client.unlink(*keys)
        if pause:
            time.sleep(pause)

    for key in client.scan_iter(match=pattern, count=SCAN_COUNT):
        stats.scanned += 1
        generation = _generation_of(key, prefix)
        if generation is not None and generation < current:
            pending.append(key)
            if len(pending) >= batch:
                unlink(pending)
                pending = []
    if pending:
        unlink(pending)
