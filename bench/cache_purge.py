"""Cache purge benchmark: 1,000,000 stale-generation keys purged while a client reads live keys.

    make bench-cache-purge
    .venv/bin/python bench/cache_purge.py [--keys 1000000] [--live 1000] [--batch 500] [--pause 0]

Uses its own Redis database (``--redis-url``, default ``redis://127.0.0.1:6379/5``; the Celery
broker of the settings is moved to ``--broker-db``, default 6) and its own key prefix
(``bench_purge``): never the dev or test keys. It then:

1. fills the database with ``--keys`` analytics keys of four old generations (server-side, by
   a Lua script, ~200-byte pickled values with a TTL as the app writes them) plus ``--live``
   keys of the current generation and the generation counter;
2. starts a reader in another process that GETs live keys in a tight loop and records every
   read's latency (one connection, like a web worker);
3. runs ``core.ops.caching.purge_stale_cache_generations`` (SCAN + UNLINK in batches): the
   purge's duration, keys/s, and the reader's p50 / p99 / max latency during the purge;
4. refills the same keys and deletes them the way we don't: ``KEYS <pattern>`` then ``DEL`` in
   chunks of 10,000, measured the same way, as the baseline;
5. deletes everything under its prefix (unless ``--keep``).

Target (issue 6): the reader's max latency during the purge stays <= 50 ms. Result:
``bench/results/cache_purge.json``; figures in ``docs/celery.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from machine import cpu_model, memory_gib  # bench/machine.py (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent

PREFIX = "bench_purge"
TARGET_MAX_MS = 50.0

FILL_SCRIPT = """
local prefix = ARGV[1]
local first, last = tonumber(ARGV[2]), tonumber(ARGV[3])
local value, ttl = ARGV[4], tonumber(ARGV[5])
local gens = {ARGV[6], ARGV[7], ARGV[8], ARGV[9]}
for i = first, last do
  local key = prefix .. gens[(i % 4) + 1] .. ':' .. string.format('%032x', i)
  redis.call('SET', key, value, 'EX', ttl)
end
return last - first + 1
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--broker-db", type=int, default=6)
    parser.add_argument("--keys", type=int, default=1_000_000, help="stale keys (default 1M)")
    parser.add_argument("--live", type=int, default=1_000, help="live keys the reader reads")
    parser.add_argument("--batch", type=int, default=500, help="keys per UNLINK (default 500)")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    parser.add_argument("--skip-baseline", action="store_true", help="no KEYS+DEL run")
    parser.add_argument("--keep", action="store_true", help="leave the keys in Redis")
    parser.add_argument("--strict", action="store_true", help="exit 3 when the target is missed")
    parser.add_argument("--output", default=str(BENCH_DIR / "results" / "cache_purge.json"))
    return parser.parse_args()


def setup_django(args: argparse.Namespace) -> None:
    parts = urlsplit(args.redis_url)
    db = int(parts.path.strip("/") or 0)
    if db in (0, 1):
        sys.exit(f"Refusing Redis database {db}: the dev/test cache and broker live there.")
    if args.broker_db == db:
        sys.exit("--broker-db must differ from the cache's database.")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "salesproject.settings",
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": urlunsplit(
                (parts.scheme, parts.netloc, f"/{args.broker_db}", "", "")
            ),
            "CACHE_KEY_PREFIX": PREFIX,
            "READ_DOT_ENV": "false",
            "LOG_LEVEL": "warning",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            # KEYS (the baseline) can take longer than the app's 0.5 s socket timeout.
            "REDIS_SOCKET_TIMEOUT": "60",
        }
    )
    os.environ.pop("DATABASE_URL", None)
    # bench/ (on sys.path as the script's folder) holds modules named like packages
    # (bench/import_export.py): the project root goes first, bench/ last (bench/machine.py).
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH_DIR]
    sys.path.insert(0, str(ROOT))
    sys.path.append(str(BENCH_DIR))
    import django

    from core.ops.database import JOBS, set_process_kind

    set_process_kind(JOBS)  # the jobs' statement timeout, not a request's
    django.setup()


def reader(url: str, keys: list[bytes], stop, ready, out) -> None:
    """GET live keys in a tight loop; send back (start, latency) pairs, in ns."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    client.ping()
    starts, latencies = [], []
    clock = time.perf_counter_ns
    n = len(keys)
    i = 0
    ready.set()
    while not stop.is_set():
        key = keys[i % n]
        begin = clock()
        value = client.get(key)
        latencies.append(clock() - begin)
        starts.append(begin)
        if value is None:
            out.send(("error", f"live key {key!r} missing"))
            return
        i += 1
    out.send(("ok", (starts, latencies)))


def measure(url: str, live_keys: list[bytes], action) -> dict:
    """Run ``action()`` while a reader process reads ``live_keys``; the reader's latencies
    during the action (and during a quiet second before it)."""
    import redis

    admin = redis.Redis.from_url(url, socket_timeout=60)
    seen = {entry["id"] for entry in admin.slowlog_get(128)}
    context = multiprocessing.get_context("spawn")
    stop, ready = context.Event(), context.Event()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=reader, args=(url, live_keys, stop, ready, send))
    process.start()
    ready.wait(30)
    time.sleep(1.0)  # quiet: the reader alone
    quiet_end = time.perf_counter_ns()
    begin = time.perf_counter_ns()
    result = action()
    end = time.perf_counter_ns()
    time.sleep(0.2)
    stop.set()
    status, payload = receive.recv()
    process.join(30)
    if status != "ok":
        raise SystemExit(f"reader failed: {payload}")
    starts, latencies = payload
    during = [lat for s, lat in zip(starts, latencies, strict=True) if begin <= s < end]
    quiet = [lat for s, lat in zip(starts, latencies, strict=True) if s < quiet_end]
    # Redis's own record of the commands slower than slowlog-log-slower-than (10 ms by
    # default) during the run: how long the server itself was blocked.
    slow = [
        {
            "command": bytes(entry["command"]).split(b" ", 1)[0].decode(errors="replace"),
            "ms": round(entry["duration"] / 1000, 1),
        }
        for entry in admin.slowlog_get(128)
        if entry["id"] not in seen
    ]
    admin.close()
    return {
        "seconds": (end - begin) / 1e9,
        "redis_slow_commands": slow,
        "result": result,
        "reads_during": len(during),
        "during": latency_summary(during),
        "quiet": latency_summary(quiet),
    }


def latency_summary(values_ns: list[int]) -> dict:
    if not values_ns:
        return {"reads": 0}
    ordered = sorted(values_ns)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6  # noqa: E731
    return {
        "reads": len(ordered),
        "p50_ms": round(pick(0.50), 3),
        "p99_ms": round(pick(0.99), 3),
        "max_ms": round(ordered[-1] / 1e6, 3),
        "mean_ms": round(statistics.fmean(ordered) / 1e6, 3),
    }


def main() -> int:
    args = parse_args()
    setup_django(args)
    from django.core.cache import cache
    from django_redis import get_redis_connection

    from analytics.services import GENERATION_KEY, fresh_generation
    from core.ops.caching import _escape_glob, purge_stale_cache_generations

    client = get_redis_connection("default")
    kwargs = client.connection_pool.connection_kwargs
    url = f"redis://{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}/{kwargs['db']}"
    own = _escape_glob(str(cache.make_key(""))) + "*"

    def clear_own() -> None:
        batch = []
        for key in client.scan_iter(match=own, count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)

    current = fresh_generation()
    stale_prefix = str(cache.make_key("analytics:g"))
    generations = [str(current - step) for step in (1, 2, 3)] + ["1"]
    value = cache.client.encode({"revenue": "123456.78", "orders": 4321, "series": list(range(30))})
    fill = client.register_script(FILL_SCRIPT)

    def fill_stale() -> float:
        started = time.perf_counter()
        for first in range(0, args.keys, 50_000):
            last = min(first + 50_000, args.keys) - 1
            fill(args=[stale_prefix, first, last, value, 3600, *generations])
        return time.perf_counter() - started

    def stale_count() -> int:
        return sum(
            1
            for key in client.scan_iter(match=_escape_glob(stale_prefix) + "*", count=5000)
            if not key.endswith(b":generation") and f":g{current}:".encode() not in key
        )

    print(f"Redis {client.info('server')['redis_version']} at {url}, prefix {PREFIX!r}")
    clear_own()
    cache.set(GENERATION_KEY, current, timeout=None)
    live = {f"analytics:g{current}:live{i:05d}": {"live": i} for i in range(args.live)}
    cache.set_many(live, timeout=3600)
    cache.set("auth:perms:u1", ["sales.add_sale"], timeout=3600)
    live_keys = [str(cache.make_key(key)).encode() for key in live]

    fill_seconds = fill_stale()
    dbsize = client.dbsize()
    memory = client.info("memory")["used_memory_human"]
    print(
        f"Filled {args.keys:,} stale keys in {fill_seconds:.1f} s "
        f"(db size {dbsize:,}, used memory {memory})"
    )

    purge = measure(
        url,
        live_keys,
        lambda: purge_stale_cache_generations(batch=args.batch, pause=args.pause).as_dict(),
    )
    deleted = purge["result"]["deleted"]
    purge["keys_per_second"] = round(deleted / purge["seconds"])
    left = stale_count()
    ok = deleted == args.keys and left == 0 and cache.get_many(list(live)) == live
    ok = ok and cache.get(GENERATION_KEY) == current and cache.get("auth:perms:u1") is not None
    print(
        f"SCAN+UNLINK purge (batch {args.batch}, pause {args.pause}): {deleted:,} keys in "
        f"{purge['seconds']:.2f} s = {purge['keys_per_second']:,} keys/s; reader during it: "
        f"{fmt(purge['during'])} ({'ok' if ok else 'WRONG KEYS LEFT'})"
    )
    print(f"  Redis commands > 10 ms during it: {slow_fmt(purge)}")
    print(f"  reader alone before it: {fmt(purge['quiet'])}")

    baseline = None
    if not args.skip_baseline:
        fill_stale()
        pattern = _escape_glob(stale_prefix) + "*"

        def keys_and_del() -> dict:
            # The naive way: client.delete(*client.keys(pattern)): one KEYS walking the whole
            # keyspace, then one DEL freeing every value on Redis's main thread.
            started = time.perf_counter()
            keys = [
                key
                for key in client.keys(pattern)
                if not key.endswith(b":generation") and f":g{current}:".encode() not in key
            ]
            keys_seconds = time.perf_counter() - started
            removed = client.delete(*keys)
            return {"deleted": removed, "keys_seconds": round(keys_seconds, 3)}

        baseline = measure(url, live_keys, keys_and_del)
        baseline["keys_per_second"] = round(baseline["result"]["deleted"] / baseline["seconds"])
        print(
            f"KEYS+DEL baseline: {baseline['result']['deleted']:,} keys in "
            f"{baseline['seconds']:.2f} s (KEYS alone {baseline['result']['keys_seconds']} s) = "
            f"{baseline['keys_per_second']:,} keys/s; reader during it: {fmt(baseline['during'])}"
        )
        print(f"  Redis commands > 10 ms during it: {slow_fmt(baseline)}")

    if not args.keep:
        clear_own()
    met = purge["during"].get("max_ms", 0) <= TARGET_MAX_MS
    print(
        f"Target: reader max latency during the purge <= {TARGET_MAX_MS:.0f} ms: "
        f"{'MET' if met else 'MISSED'} ({purge['during'].get('max_ms')} ms)"
    )
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "redis_url": url,
        "redis_version": client.info("server")["redis_version"],
        "keys": args.keys,
        "live": args.live,
        "batch": args.batch,
        "pause": args.pause,
        "fill_seconds": round(fill_seconds, 2),
        "used_memory_filled": memory,
        "purge": purge,
        "correct": ok,
        "baseline_keys_del": baseline,
        "target_max_ms": TARGET_MAX_MS,
        "target_met": met,
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": memory_gib(),
            "python": platform.python_version(),
            "load_avg": os.getloadavg(),
        },
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str))
    print(f"Written {output}")
    if not ok:
        return 1
    return 3 if args.strict and not met else 0


def slow_fmt(run: dict) -> str:
    return ", ".join(f"{c['command']} {c['ms']} ms" for c in run["redis_slow_commands"]) or "none"


def fmt(summary: dict) -> str:
    if not summary.get("reads"):
        return "no reads"
    return (
        f"{summary['reads']:,} reads, p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"max {summary['max_ms']} ms"
    )


if __name__ == "__main__":
    sys.exit(main())
