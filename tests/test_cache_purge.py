"""Purging stale cache generations (core/ops/caching.py): SCAN + UNLINK on the cache's own
Redis database, only ``<prefix>:analytics:g{N}:…`` keys below the current generation.

The Redis tests share db 0 with other test runs (other key prefixes) and the broker's db with
other workers: they count and touch only keys of this run's prefix, plus a few keys of their own
that they delete afterwards.
"""

from __future__ import annotations

import time
import uuid
from io import StringIO

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.management import CommandError, call_command

from accounts.backends import permission_cache_key
from analytics.management.commands.purge_cache import Command as PurgeCacheCommand
from analytics.services import GENERATION_KEY, fresh_generation
from analytics.tasks import purge_stale_cache_task
from core.ops.caching import (
    CachePurgeRefused,
    _escape_glob,
    _generation_of,
    check_not_broker_db,
    purge_stale_cache_generations,
)

ON_REDIS = settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
redis_only = pytest.mark.skipif(not ON_REDIS, reason="needs the Redis cache (REDIS_URL)")

STALE = 100_000
CHUNK = 10_000


def raw_client():
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def count(client, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))


def own(pattern: str) -> str:
    """``pattern`` (a glob on the cache key) under this run's full key prefix."""
    return _escape_glob(str(cache.make_key(""))) + pattern


def fill_stale(current: int, total: int, generations: int = 4) -> None:
    """``total`` keys spread over ``generations`` older generations (one of them ``g1``: a
    number with fewer digits), written through the cache in chunks, with a TTL as in life."""
    olds = [current - step for step in range(1, generations)] + [1]
    for start in range(0, total, CHUNK):
        cache.set_many(
            {
                f"analytics:g{olds[i % len(olds)]}:{i:032x}": {"revenue": i}
                for i in range(start, min(start + CHUNK, total))
            },
            timeout=600,
        )


@pytest.fixture
def broker_client():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    yield client
    client.close()


@pytest.fixture
def clean_cache():
    yield
    if ON_REDIS:
        cache.delete_pattern("*")


# --- The purge on Redis ------------------------------------------------------------------------


@redis_only
def test_purge_removes_exactly_the_stale_generations(broker_client, clean_cache):
    client = raw_client()
    current = fresh_generation()
    cache.set(GENERATION_KEY, current, timeout=None)
    started = time.perf_counter()
    fill_stale(current, STALE)
    fill_seconds = time.perf_counter() - started
    live = {f"analytics:g{current}:live{i}": i for i in range(50)}
    live[f"analytics:g{current + 1}:bumped-meanwhile"] = "newer"
    cache.set_many(live, timeout=600)
    others = {
        permission_cache_key(1): ["sales.add_sale"],
        "analytics:gx:not-a-generation": 1,
        "analytics:g12": "no colon after the number",
        "analyticsx:g1:other-namespace": 1,
        "imports:g1:x": 1,
    }
    cache.set_many(others, timeout=600)
    # The same names under another prefix (another test run on this db), and in the broker's
    # database: none may go.
    foreign = f"other_{uuid.uuid4().hex[:8]}:1:analytics:g1:x"
    client.set(foreign, "x", ex=600)
    broker_keys = [str(cache.make_key(f"analytics:g1:broker{i}")) for i in range(3)]
    broker_keys.append(f"_kombu.test.{uuid.uuid4().hex}")
    try:
        for key in broker_keys:
            broker_client.set(key, "x", ex=600)
        assert count(client, own("analytics:g*")) == STALE + len(live) + 3  # + counter, gx, g12
        before_total = count(client, own("*"))

        stats = purge_stale_cache_generations()

        assert stats.skipped == ""
        assert stats.generations == {"analytics": current}
        assert stats.deleted == STALE
        assert stats.scanned >= STALE + len(live)
        assert count(client, own("analytics:g*")) == len(live) + 3
        assert count(client, own("*")) == before_total - STALE
        assert cache.get_many(list(live)) == live
        assert cache.get_many(list(others)) == others
        assert cache.get(GENERATION_KEY) == current
        assert cache.ttl(GENERATION_KEY) is None  # the counter keeps no expiry
        assert 0 < cache.ttl(f"analytics:g{current}:live0") <= 600
        assert client.get(foreign) == b"x"
        assert [broker_client.get(key) for key in broker_keys] == [b"x"] * len(broker_keys)

        again = purge_stale_cache_generations()  # idempotent
        assert (again.deleted, again.scanned) == (0, len(live) + 3)
        print(
            f"filled {STALE:,} keys in {fill_seconds:.2f} s; purged in {stats.seconds:.2f} s "
            f"({STALE / stats.seconds:,.0f} keys/s)"
        )
    finally:
        client.delete(foreign)
        broker_client.delete(*broker_keys)


@redis_only
def test_small_batches_with_a_pause(clean_cache):
    current = 1_000
    cache.set(GENERATION_KEY, current, timeout=None)
    fill_stale(current, 1_050)
    cache.set(f"analytics:g{current}:live", 1)

    stats = purge_stale_cache_generations(batch=100, pause=0.001)

    assert stats.deleted == 1_050
    assert count(raw_client(), own("analytics:g*")) == 2
    assert stats.seconds >= 10 * 0.001  # 11 batches, a pause after each


@redis_only
def test_without_a_counter_nothing_is_deleted(clean_cache):
    fill_stale(50, 200)

    stats = purge_stale_cache_generations()

    assert stats.generations == {"analytics": None}
    assert stats.deleted == 0
    assert count(raw_client(), own("analytics:g*")) == 200


@redis_only
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_refuses_to_run_on_the_brokers_database(settings, host, clean_cache):
    client = raw_client()
    kwargs = client.connection_pool.connection_kwargs
    settings.CELERY_BROKER_URL = f"redis://{host}:{kwargs.get('port', 6379)}/{kwargs['db']}"
    cache.set(GENERATION_KEY, 10, timeout=None)
    fill_stale(10, 20)

    with pytest.raises(CachePurgeRefused, match="broker"):
        purge_stale_cache_generations()
    with pytest.raises(CommandError, match="broker"):
        call_command("purge_cache", stdout=StringIO())
    assert count(client, own("analytics:g*")) == 21


@redis_only
def test_the_broker_check_passes_for_another_database_or_server(settings):
    client = raw_client()
    kwargs = client.connection_pool.connection_kwargs
    port = kwargs.get("port", 6379)
    for url in (
        f"redis://127.0.0.1:{port}/{kwargs['db'] + 1}",
        f"redis://10.0.0.9:{port}/{kwargs['db']}",
        f"redis://127.0.0.1:{port + 1}/{kwargs['db']}",
        "memory://",
    ):
        settings.CELERY_BROKER_URL = url
        check_not_broker_db(client)


@redis_only
def test_redis_down_logs_and_returns(settings, caplog):
    down = dict(settings.CACHES["default"])
    down["LOCATION"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CACHES = {"default": down}

    stats = purge_stale_cache_generations()

    assert stats.skipped.startswith("Redis unavailable")
    assert stats.deleted == 0
    assert "Cache purge stopped" in caplog.text
    assert purge_stale_cache_task.apply().get()["skipped"].startswith("Redis unavailable")
    out = StringIO()
    call_command("purge_cache", stdout=out)
    assert "Nothing purged: Redis unavailable" in out.getvalue()


# --- Command and task --------------------------------------------------------------------------


@redis_only
def test_command_purges_and_summarises(clean_cache):
    cache.set(GENERATION_KEY, 7, timeout=None)
    fill_stale(7, 30)
    cache.set("analytics:g7:live", 1)
    out = StringIO()

    call_command("purge_cache", "--batch", "4", "--pause", "0", stdout=out)

    assert "Deleted 30 stale cache key(s) of 32 scanned" in out.getvalue()
    assert "kept the current generation (analytics g7)" in out.getvalue()


@redis_only
def test_task_purges(clean_cache):
    cache.set(GENERATION_KEY, 7, timeout=None)
    fill_stale(7, 30)

    result = purge_stale_cache_task.apply(kwargs={"batch": 10}).get()

    assert (result["deleted"], result["skipped"]) == (30, "")
    assert result["generations"] == {"analytics": 7}


@pytest.mark.embedded
def test_command_help_explains_itself():
    parser = PurgeCacheCommand().create_parser("manage.py", "purge_cache")
    text = " ".join(parser.format_help().split())
    for words in ("SCAN", "UNLINK", "never KEYS or FLUSHDB", "--batch", "--pause"):
        assert words in text


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--batch", "0"], "at least 1"),
        (["--batch", "x"], "not an integer"),
        (["--pause", "-1"], "negative"),
    ],
)
def test_command_rejects_bad_options(args, problem):
    with pytest.raises(CommandError, match=problem):
        call_command("purge_cache", *args)


# --- Local-memory cache (the embedded default) ---------------------------------------------------


@pytest.mark.embedded
def test_local_memory_cache_is_a_noop(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "purge-noop",
        }
    }
    cache.set(GENERATION_KEY, 3, timeout=None)
    cache.set("analytics:g1:old", 1)

    stats = purge_stale_cache_generations()

    assert stats.skipped.startswith("the 'default' cache is LocMemCache, not Redis")
    assert stats.deleted == 0
    assert cache.get("analytics:g1:old") == 1
    out = StringIO()
    call_command("purge_cache", stdout=out)
    assert "Nothing purged: the 'default' cache is LocMemCache" in out.getvalue()
    assert purge_stale_cache_task.apply().get()["deleted"] == 0


@pytest.mark.embedded
def test_generation_parsing_and_glob_escaping():
    prefix = b"p:1:analytics:g"
    assert _generation_of(b"p:1:analytics:g42:abc", prefix) == 42
    assert _generation_of(b"p:1:analytics:generation", prefix) is None
    assert _generation_of(b"p:1:analytics:g42", prefix) is None
    assert _generation_of(b"p:1:analytics:g-1:x", prefix) is None
    assert _escape_glob("a*b?c[d]e\\f") == "a\\*b\\?c\\[d\\]e\\\\f"


@pytest.mark.embedded
def test_arguments_are_checked():
    with pytest.raises(ValueError, match="batch"):
        purge_stale_cache_generations(batch=0)
    with pytest.raises(ValueError, match="pause"):
        purge_stale_cache_generations(pause=-1)


# --- A real Celery worker on the Redis broker ----------------------------------------------------


@redis_only
def test_a_real_worker_runs_the_purge(broker_client, clean_cache):
    from celery.contrib.testing.worker import start_worker

    from salesproject.celery import app

    assert settings.CELERY_BROKER_URL.startswith("redis://")
    client = raw_client()
    cache.set(GENERATION_KEY, 9, timeout=None)
    fill_stale(9, 2_000)
    cache.set("analytics:g9:live", 1)
    # A queue of its own: this worker takes no other run's messages, nor they this one.
    queue = f"test-purge-{uuid.uuid4().hex}"
    queues = app.amqp.queues
    previous = (app.conf.task_always_eager, queues._consume_from)
    app.conf.task_always_eager = False
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, queues=[queue], shutdown_timeout=10
        ):
            purge_stale_cache_task.apply_async(kwargs={"batch": 250}, queue=queue)
            deadline = time.monotonic() + 20
            while count(client, own("analytics:g*")) > 2:  # the live key and the counter stay
                assert time.monotonic() < deadline, "the worker did not purge within 20 s"
                time.sleep(0.05)
    finally:
        app.conf.task_always_eager, queues._consume_from = previous
        queues.pop(queue, None)
        broker_client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    assert count(client, own("analytics:g*")) == 2  # the live key and the counter
    assert cache.get("analytics:g9:live") == 1
