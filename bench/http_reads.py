"""HTTP read benchmark: the API's read endpoints under gunicorn, loaded by wrk, on seeded data.

    make bench                                    # seeds, then runs this with every benchmark
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench \\
        .venv/bin/python bench/http_reads.py --connections 16,64 --profile 10

Points gunicorn (``--workers``, default 2 x cores + 1, sync) at DATABASE_URL, which must already
hold a ``seed_demo`` data set (``make bench`` makes one), with a Redis cache (``--redis-url``).
A read-only user of the ``analyst`` role is created (or reset) and a JWT taken for it; wrk sends
it from ``bench/http_reads.lua``.

Scenarios (each a list of paths, built from the data, every one checked to answer 200 first):

- ``products_list``: ``/api/products/`` filtered by category, stock, price range, ordered.
- ``sales_list``: ``/api/sales/`` (cursor pagination, 50 a page) filtered by a week, a customer,
  a product over a month, status and total; a third of them on their second page (``next``).
- ``sale_detail``: ``/api/sales/{id}/`` over random sales.
- ``customer_search``: ``/api/customers/?search=`` a last name, a full name, a city in a country.
- ``analytics_summary``: ``/api/analytics/summary/`` for a dozen periods, cached (warmed first).

Baselines measured in the same run: ``health_live`` (``/health/live``: no database, no cache,
no authentication — what gunicorn and Django alone serve on this machine) and
``analytics_summary_uncached`` (the same summaries from a second instance with
``ANALYTICS_CACHE_ENABLED=false``). Each scenario runs ``--runs`` times ``--duration`` seconds at
each ``--connections`` value after a warm-up; the medians are reported with the CPU used by each
party (gunicorn, PostgreSQL, Redis, wrk, others). ``--profile N`` samples the gunicorn workers
with py-spy during one more N-second run of each scenario and reports where the time goes.
Results: ``bench/results/http_reads.json``. Exit 1 when an answer was not 200, 3 with --strict
when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.error
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from harness import (  # bench/harness.py (bench/ is on sys.path)
    RESULTS_DIR,
    ROOT,
    VENV_BIN,
    AppInstance,
    CpuMeter,
    Postgres,
    app_env,
    code_version,
    get_token,
    gunicorn_args,
    http_json,
    log,
    machine_info,
    run_wrk_measured,
    wait_for_quiet_machine,
)

LUA_SCRIPT = ROOT / "bench" / "http_reads.lua"
RESULT_FILE = RESULTS_DIR / "http_reads.json"
BENCH_USER = "bench_reader"
BENCH_PASSWORD = "bench-reader-password"  # a throwaway benchmark login
SCENARIOS = ("products_list", "sales_list", "sale_detail", "customer_search", "analytics_summary")
BASELINES = ("health_live", "analytics_summary_uncached")
# The targets on the 2-core machine.
TARGETS = [
    {"scenario": "sales_list", "connections": 16, "requests_per_s": 400.0, "p99_ms": 200.0},
    {"scenario": "analytics_summary", "connections": 16, "requests_per_s": 1000.0},
]

SETUP_USER = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

user, _ = get_user_model().objects.get_or_create(username={username!r})
user.set_password({password!r})
user.is_active = True
user.save()
user.groups.set([Group.objects.get(name="analyst")])
print("USER_OK")
"""


# --- the paths of each scenario, from the data -----------------------------------------------


def _query(pg: Postgres, db: str, sql: str, params: tuple = ()) -> list[tuple]:
    return pg.query(db, sql, params)


def build_paths(pg: Postgres, db: str, rng: random.Random) -> dict[str, list[str]]:
    first, last = _query(pg, db, "SELECT MIN(sold_at), MAX(sold_at) FROM sales_sale")[0]
    if first is None:
        raise SystemExit(
            f"database {db} has no sales: seed it first (make bench does: "
            "manage.py seed_demo --reset --sales N)"
        )
    days = max(1, (last.date() - first.date()).days)

    def day(offset: int) -> str:
        return (first.date() + timedelta(days=offset)).isoformat()

    categories = [row[0] for row in _query(pg, db, "SELECT id FROM products_category ORDER BY id")]
    products = [row[0] for row in _query(pg, db, "SELECT id FROM products_product ORDER BY id")]
    customers = [
        row[0]
        for row in _query(
            pg, db, "SELECT id FROM customers_customer TABLESAMPLE SYSTEM (5) REPEATABLE (42)"
        )
    ]
    max_sale = _query(pg, db, "SELECT MAX(id) FROM sales_sale")[0][0]
    people = _query(
        pg,
        db,
        "SELECT name, city, country FROM customers_customer "
        "TABLESAMPLE SYSTEM (5) REPEATABLE (7) LIMIT 200",
    )

    def path(base: str, **params) -> str:
        return f"{base}?{urlencode(params)}" if params else base

    product_paths = []
    for category in categories:
        product_paths += [
            path("/api/products/", category=category, in_stock="true", ordering="-price"),
            path("/api/products/", category=category, price_min=20, price_max=200, ordering="name"),
            path("/api/products/", category=category, is_active="true", ordering="-updated_at"),
        ]
    for low in (0, 10, 50, 100, 250):
        product_paths.append(
            path("/api/products/", price_min=low, price_max=low * 2 + 25, ordering="price")
        )

    sales_paths = []
    for _ in range(40):
        start = rng.randrange(days - 7)
        sales_paths.append(path("/api/sales/", date_from=day(start), date_to=day(start + 6)))
    for customer in rng.sample(customers, min(40, len(customers))):
        sales_paths.append(path("/api/sales/", customer=customer))
    for product in rng.sample(products, min(20, len(products))):
        start = rng.randrange(days - 30)
        sales_paths.append(
            path("/api/sales/", product=product, date_from=day(start), date_to=day(start + 29))
        )
    for _ in range(20):
        start = rng.randrange(days - 30)
        sales_paths.append(
            path(
                "/api/sales/",
                status="completed",
                total_min=500,
                date_from=day(start),
                date_to=day(start + 29),
            )
        )
    sales_paths.append("/api/sales/")

    detail_paths = [f"/api/sales/{rng.randint(1, max_sale)}/" for _ in range(500)]

    search_paths = []
    for name, city, country in people:
        # Words the API searches (3 characters or more; a shorter one is a 400).
        words = [word for word in name.split() if len(word) >= 3]
        if not words:
            continue
        search_paths.append(path("/api/customers/", search=words[-1]))
        search_paths.append(path("/api/customers/", search=" ".join(words)))
        if city:
            search_paths.append(path("/api/customers/", search=city, country=country))

    last_day = last.date()
    summary_paths = []
    for span in (7, 30, 90, 365):
        for back in (0, 30, 180):
            end = last_day - timedelta(days=back)
            summary_paths.append(
                path(
                    "/api/analytics/summary/",
                    date_from=(end - timedelta(days=span - 1)).isoformat(),
                    date_to=end.isoformat(),
                )
            )
    return {
        "products_list": product_paths,
        "sales_list": sales_paths,
        "sale_detail": detail_paths,
        "customer_search": search_paths,
        "analytics_summary": summary_paths,
        "analytics_summary_uncached": summary_paths,
        "health_live": ["/health/live"],
    }


def check_paths(app: AppInstance, token: str, paths: list[str], *, follow_next: int = 0) -> list:
    """GET every path once: each must answer 200 (a benchmark of 400s measures nothing). With
    ``follow_next``, the second page (``next``) of that many paths is added."""

    def get(item: str):
        try:
            return http_json("GET", f"{app.base_url}{item}", token=token)[1]
        except urllib.error.HTTPError as error:
            raise SystemExit(f"GET {item} answered {error.code}: {error.read()[:500]!r}") from None

    added = []
    for index, item in enumerate(paths):
        body = get(item)
        if index < follow_next and isinstance(body, dict) and body.get("next"):
            parts = urlsplit(body["next"])
            added.append(f"{parts.path}?{parts.query}")
    for item in added:
        get(item)
    return paths + added


# --- wrk ---------------------------------------------------------------------------------------


def run_wrk(
    args: argparse.Namespace,
    app: AppInstance,
    token: str,
    paths_file: Path,
    connections: int,
    duration: int,
    meter: CpuMeter,
) -> dict:
    command = [
        args.wrk,
        f"-t{min(args.wrk_threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        app.base_url,
    ]
    env = {**os.environ, "BENCH_TOKEN": token, "BENCH_PATHS_FILE": str(paths_file)}
    busy_before = wait_for_quiet_machine(args.wait_quiet) if args.wait_quiet > 0 else None
    stats, cpu = run_wrk_measured(command, env, meter, "HTTP_READS_JSON")
    ok = stats["status"].get("200", 0)
    stats.update(
        {
            "connections": connections,
            "errors": stats["requests"] - ok + sum(stats["socket_errors"].values()),
            "cpu_cores": cpu,
            "machine_busy_pct_before": busy_before,
            "wrk_command": shlex.join(command),
        }
    )
    return stats


def summarize(runs: list[dict]) -> dict:
    """Median of each figure over the runs."""
    return {
        "requests_per_s": round(statistics.median(run["requests_per_s"] for run in runs), 1),
        **{
            key: round(statistics.median(run["latency_ms"][key] for run in runs), 1)
            for key in ("p50", "p90", "p99", "max")
        },
        "errors": sum(run["errors"] for run in runs),
        "requests": sum(run["requests"] for run in runs),
        "cpu_cores": {
            key: round(statistics.median(run["cpu_cores"].get(key, 0) for run in runs), 2)
            for key in runs[0]["cpu_cores"]
        },
    }


# --- profile -----------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    """``get (rest_framework/generics.py:123)`` -> ``rest_framework/generics.py:get``."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match.group("file")
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{match.group('function')}"


def summarize_profile(raw: str, top: int = 25) -> dict:
    """From py-spy's raw (collapsed) stacks: the share of the samples each function is on
    (inclusive) and at the top of (self), for the worker processes."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame_name(frame) for frame in stack.split(";")]
        frames = [frame for frame in frames if not frame.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += samples
        for name in set(frames):
            inclusive[name] += samples
        self_time[frames[-1]] += samples

    def share(counter: Counter[str]) -> list[list]:
        return [[name, round(100 * value / total, 1)] for name, value in counter.most_common(top)]

    return {"samples": total, "inclusive_pct": share(inclusive), "self_pct": share(self_time)}


def profile_scenario(
    args: argparse.Namespace, app: AppInstance, token: str, paths_file: Path, name: str
) -> dict:
    """py-spy samples every gunicorn worker while wrk loads the scenario for --profile s."""
    raw_file = RESULTS_DIR / f"profile-{name}.txt"
    spy = subprocess.Popen(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "--pid",
            str(app.process.pid),
            "--subprocesses",
            "--rate",
            "250",
            "--duration",
            str(args.profile),
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(raw_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    meter = CpuMeter({"gunicorn": app.process.pid}, [])
    connections = args.connection_list[0]
    run = run_wrk(args, app, token, paths_file, connections, args.profile, meter)
    _, error = spy.communicate(timeout=args.profile + 60)
    if spy.returncode != 0 or not raw_file.is_file():
        log(f"py-spy failed ({spy.returncode}): {error.strip()[-500:]}")
        return {"error": error.strip()[-500:]}
    summary = summarize_profile(raw_file.read_text())
    summary.update(
        {
            "raw": str(raw_file.relative_to(ROOT)),
            "connections": connections,
            "requests_per_s_while_sampled": run["requests_per_s"],
        }
    )
    return summary


# --- main --------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", ""),
        help="the seeded PostgreSQL database (default: env DATABASE_URL)",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the cache, keys prefixed bench_reads (default: env REDIS_URL)",
    )
    parser.add_argument("--connections", default="16,64", help="comma list (default 16,64)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure, median reported")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per scenario")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1) + 1,
        help="gunicorn workers (default 2 x cores + 1 = %(default)s)",
    )
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS + BASELINES),
        help="comma list (default: all): " + ", ".join(SCENARIOS + BASELINES),
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="SECONDS",
        help="sample the workers with py-spy for this many seconds per scenario (0: off)",
    )
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="wrk binary")
    parser.add_argument("--wrk-threads", type=int, default=2, help="default: %(default)s")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=60,
        help="before each run wait up to this many seconds for the machine to be < 25%% busy "
        "(others' work); 0 = never wait. Default: %(default)s",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the app under test, e.g. --env DB_CONN_MAX_AGE=0 (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=1, help="paths chosen (default 1)")
    parser.add_argument("--strict", action="store_true", help="exit 3 when a target is missed")
    parser.add_argument("--output", type=Path, default=RESULT_FILE, help="JSON result file")
    args = parser.parse_args()
    try:
        args.connection_list = [int(v) for v in args.connections.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--connections must be a comma list of numbers, not {args.connections!r}")
    args.scenario_list = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = sorted(set(args.scenario_list) - set(SCENARIOS + BASELINES))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS + BASELINES)}")
    args.app_env = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            parser.error(f"--env takes NAME=VALUE, not {item!r}")
        args.app_env[name.strip()] = value
    if urlsplit(args.database_url).scheme not in ("postgres", "postgresql"):
        parser.error("set DATABASE_URL (or --database-url) to the seeded PostgreSQL database")
    return args


def start_instance(args: argparse.Namespace, name: str, extra: dict[str, str]) -> AppInstance:
    db = urlsplit(args.database_url).path.lstrip("/")
    env = app_env(args.redis_url, args.database_url, "bench_reads", {**args.app_env, **extra})
    app = AppInstance(name, db, env)
    app.start(gunicorn_args(args.workers, args.worker_class, args.threads))
    log(f"{name}: gunicorn on {app.base_url} ({shlex.join(app.gunicorn_args)})")
    return app


def redis_pid() -> int | None:
    try:
        output = subprocess.run(["pgrep", "-o", "redis-server"], capture_output=True, text=True)
    except OSError:
        return None
    return int(output.stdout.split()[0]) if output.stdout.split() else None


def measure(
    args: argparse.Namespace, app: AppInstance, token: str, name: str, paths: list[str]
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(paths) + "\n")
        paths_file = Path(handle.name)
    servers = {"gunicorn": app.process.pid}
    if pid := redis_pid():
        servers["redis"] = pid
    meter = CpuMeter(servers, [app.db])
    try:
        run_wrk(args, app, token, paths_file, args.connection_list[0], args.warmup, meter)
        by_connections = {}
        for connections in args.connection_list:
            runs = []
            for number in range(1, args.runs + 1):
                run = run_wrk(args, app, token, paths_file, connections, args.duration, meter)
                runs.append(run)
                log(
                    f"{name} c={connections} run {number}/{args.runs}: "
                    f"{run['requests_per_s']:.0f} req/s, p50 {run['latency_ms']['p50']:.1f} ms, "
                    f"p99 {run['latency_ms']['p99']:.1f} ms, errors {run['errors']} "
                    f"{run['status']}, cpu {run['cpu_cores']}"
                )
            by_connections[str(connections)] = {"median": summarize(runs), "runs": runs}
        result = {"paths": len(paths), "example": paths[0], "connections": by_connections}
        if args.profile:
            result["profile"] = profile_scenario(args, app, token, paths_file, name)
        return result
    finally:
        paths_file.unlink(missing_ok=True)


def table(results: dict) -> str:
    lines = [
        "| scenario | connections | req/s | p50 ms | p99 ms | errors | CPU cores (gunicorn, "
        "postgres, redis, wrk, others) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, result in results.items():
        for connections, data in result["connections"].items():
            median = data["median"]
            cpu = median["cpu_cores"]
            parts = ", ".join(
                f"{cpu.get(key, 0):.2f}" for key in ("gunicorn", "postgres", "redis", "wrk")
            )
            lines.append(
                f"| {name} | {connections} | {median['requests_per_s']:.0f} | "
                f"{median['p50']:.1f} | {median['p99']:.1f} | {median['errors']} | "
                f"{parts}, {cpu.get('others', 0):.2f} |"
            )
    return "\n".join(lines)


def check_targets(results: dict) -> list[dict]:
    checked = []
    for target in TARGETS:
        data = results.get(target["scenario"], {}).get("connections", {})
        median = data.get(str(target["connections"]), {}).get("median")
        if median is None:
            continue
        met = median["requests_per_s"] >= target["requests_per_s"] and (
            "p99_ms" not in target or median["p99"] <= target["p99_ms"]
        )
        checked.append({**target, "measured": median, "met": met})
    return checked


def ratios(results: dict) -> list[dict]:
    """Each scenario against its baseline of the same run, at each connection count."""
    out = []
    pairs = [(name, "health_live") for name in SCENARIOS] + [
        ("analytics_summary", "analytics_summary_uncached")
    ]
    for name, baseline in pairs:
        if name not in results or baseline not in results:
            continue
        for connections, data in results[name]["connections"].items():
            base = results[baseline]["connections"].get(connections)
            if base and base["median"]["requests_per_s"]:
                out.append(
                    {
                        "scenario": name,
                        "baseline": baseline,
                        "connections": int(connections),
                        "ratio": round(
                            data["median"]["requests_per_s"] / base["median"]["requests_per_s"], 3
                        ),
                    }
                )
    return out


def main() -> int:
    args = parse_args()
    if not shutil.which(args.wrk):
        print("wrk is missing: apt-get install -y wrk (make bench installs it)", file=sys.stderr)
        return 2
    db = urlsplit(args.database_url).path.lstrip("/")
    server = args.database_url.rsplit("/", 1)[0] + "/postgres"
    pg = Postgres(server)
    rng = random.Random(args.seed)
    paths = build_paths(pg, db, rng)
    started = datetime.now(UTC)
    apps: list[AppInstance] = []
    results: dict[str, dict] = {}
    try:
        app = start_instance(args, "reads", {})
        apps.append(app)
        app.manage("shell", "-c", SETUP_USER.format(username=BENCH_USER, password=BENCH_PASSWORD))
        token = get_token(app, BENCH_USER, BENCH_PASSWORD)
        for name in [n for n in args.scenario_list if n != "analytics_summary_uncached"]:
            checked = (
                check_paths(app, token, paths[name], follow_next=len(paths[name]) // 3)
                if name == "sales_list"
                else check_paths(app, token, paths[name])
            )
            log(f"{name}: {len(checked)} paths, e.g. {checked[0]}")
            results[name] = measure(args, app, token, name, checked)
        if "analytics_summary_uncached" in args.scenario_list:
            app.stop()
            uncached = start_instance(args, "uncached", {"ANALYTICS_CACHE_ENABLED": "false"})
            apps.append(uncached)
            name = "analytics_summary_uncached"
            checked = check_paths(uncached, token, paths[name])
            results[name] = measure(args, uncached, token, name, checked)
    finally:
        for instance in apps:
            instance.stop()

    pg_version = pg.query("postgres", "SHOW server_version")[0][0]
    counts = dict(
        zip(
            ("sales", "sale_lines", "customers", "products"),
            pg.query(
                db,
                "SELECT (SELECT COUNT(*) FROM sales_sale), "
                "(SELECT COUNT(*) FROM sales_saleitem), "
                "(SELECT COUNT(*) FROM customers_customer), "
                "(SELECT COUNT(*) FROM products_product)",
            )[0],
            strict=True,
        )
    )
    targets = check_targets(results)
    report = {
        "benchmark": "http_reads",
        "date": started.isoformat(timespec="seconds"),
        "command": shlex.join([".venv/bin/python", "bench/http_reads.py", *sys.argv[1:]]),
        "code": code_version(),
        "machine": machine_info(pg_version),
        "data": counts,
        "settings": {
            key: getattr(args, key)
            for key in (
                "connection_list",
                "duration",
                "runs",
                "warmup",
                "workers",
                "worker_class",
                "threads",
                "wrk_threads",
                "profile",
                "app_env",
            )
        },
        "gunicorn": {a.name: shlex.join(["gunicorn", *a.gunicorn_args]) for a in apps},
        "results": results,
        "ratios": ratios(results),
        "targets": targets,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")

    print()
    print(f"HTTP reads, {started:%Y-%m-%d}, {counts}, median of {args.runs} x {args.duration} s")
    print(table(results))
    for ratio in report["ratios"]:
        print(
            f"{ratio['scenario']} / {ratio['baseline']} at {ratio['connections']}: "
            f"{ratio['ratio']:.3f}"
        )
    for target in targets:
        print(
            f"target {target['scenario']} at {target['connections']}: "
            f">= {target['requests_per_s']:.0f} req/s"
            + (f", p99 <= {target['p99_ms']:.0f} ms" if "p99_ms" in target else "")
            + f": {'MET' if target['met'] else 'NOT MET'}"
        )
    for name, result in results.items():
        profile = result.get("profile")
        if profile and "inclusive_pct" in profile:
            print(f"\nprofile {name} ({profile['samples']} samples), inclusive %:")
            for frame, pct in profile["inclusive_pct"][:15]:
                print(f"  {pct:5.1f}  {frame}")
    print(f"Written to {args.output}")
    if any(
        data["median"]["errors"] for r in results.values() for data in r["connections"].values()
    ):
        return 1
    if args.strict and not all(target["met"] for target in targets):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
