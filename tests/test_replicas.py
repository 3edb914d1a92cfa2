"""Read replicas against a real streaming replica (issue 19; core/ops/replicas.py).

A primary and its replica of their own (tests/replica_pair.py: ``initdb``, ``pg_basebackup -R``,
``pg_ctl``), the app migrated on the primary before the base backup, and gunicorn serving it with
``DATABASE_REPLICA_URL`` pointing at the replica. Where each query ran is read from the servers'
``pg_stat_statements`` (statement texts with their call counts, per server).

Two users: ``writer`` records sales, ``reader`` only reads (so it is never marked as having just
written). Requests carry their JWT in a header and keep no cookies: what marks the writer is
its cache key ``ryw:<user id>``.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.app_instances import (
    app_env,
    free_port,
    manage,
    start_gunicorn,
    stop_process,
    wait_until_serving,
)
from tests.replica_pair import ReplicaPair, replica_pair, unavailable_reason

pytestmark = pytest.mark.postgres

PASSWORD = "Replica-Tests-pw-123"
METRICS_TOKEN = "replica-tests-metrics-token"
USERS = """
from django.contrib.auth import get_user_model
from products.models import Product, StockMovement
User = get_user_model()
for name in ("writer", "reader"):
    User.objects.create_superuser(name, f"{name}@example.com", PASSWORD)
product = Product.objects.create(sku="RPL-1", name="Replica product", price="10.00", cost="1",
                                 stock_quantity=1000)
StockMovement.objects.create(product=product, delta=1000, reason="restock",
                             reference="opening stock")
print(product.id)
""".replace("PASSWORD", repr(PASSWORD))


def _env(pair: ReplicaPair, **extra: str) -> dict[str, str]:
    env = app_env(
        pair.url("primary"),
        without=("CATALOG_", "CELERY_", "CACHE_", "DB_", "DEBUG", "DATABASE_", "REPLICA_"),
        CACHE_KEY_PREFIX=f"replicas_{secrets.token_hex(4)}",
        CELERY_TASK_ALWAYS_EAGER="true",
    )
    env.update(extra)
    return env


@dataclass
class App:
    url: str
    process: subprocess.Popen
    log: Path
    tokens: dict[str, str]

    def api(self, user: str | None, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)


@dataclass
class Setup:
    pair: ReplicaPair
    product: int
    start: object


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    created: dict[str, int] = {}

    def prepare(pair: ReplicaPair) -> None:
        env = _env(pair)
        manage(env, "migrate", "--noinput", "-v", "0")
        created["product"] = int(manage(env, "shell", "-c", USERS).split()[-1])

    apps: list[App] = []
    logs = tempfile.TemporaryDirectory()

    with replica_pair(prepare) as pair:

        def start(**extra: str) -> App:
            env = _env(
                pair,
                DATABASE_REPLICA_URL=pair.url("replica"),
                DEBUG="false",
                SECRET_KEY="replica-tests-" + "x" * 50,
                ALLOWED_HOSTS="127.0.0.1,localhost",
                SESSION_COOKIE_SECURE="false",
                CSRF_COOKIE_SECURE="false",
                SECURE_SSL_REDIRECT="false",
                METRICS_TOKEN=METRICS_TOKEN,
                **{"REPLICA_HEALTH_CHECK_SECONDS": "0.2", **extra},
            )
            port = free_port()
            log = Path(logs.name) / f"gunicorn-{port}.log"
            process = start_gunicorn(
                env, port=port, log=log, workers=1, options=("--graceful-timeout", "2")
            )
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(process, f"{url}/health/live", log, lambda r: r.status_code < 500)
            tokens = {}
            for user in ("writer", "reader"):
                answer = requests.post(
                    f"{url}/api/auth/token/",
                    json={"username": user, "password": PASSWORD},
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
                tokens[user] = answer.json()["access"]
            app = App(url=url, process=process, log=log, tokens=tokens)
            apps.append(app)
            return app

        try:
            yield Setup(pair=pair, product=created["product"], start=start)
        finally:
            for app in apps:
                stop_process(app.process)
            logs.cleanup()


@pytest.fixture(scope="module")
def app(setup: Setup) -> App:
    # Lag never skips the replica here: the tests hold it back on purpose.
    return setup.start(REPLICA_MAX_LAG_SECONDS="300")


@pytest.fixture
def pair(setup: Setup) -> Iterator[ReplicaPair]:
    """The pair, with the replica caught up and replaying at the start and at the end."""
    setup.pair.resume_replay()
    setup.pair.wait_replayed()
    yield setup.pair
    setup.pair.resume_replay()


def statements(pair: ReplicaPair, which: str) -> list[tuple[str, int]]:
    """The app's statements a server ran since the last reset (text, calls)."""
    return pair.sql(
        which,
        "SELECT s.query, s.calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE d.datname = %s",
        (pair.database,),
    )


def reset_statements(pair: ReplicaPair) -> None:
    for which in ("primary", "replica"):
        pair.sql(which, "SELECT pg_stat_statements_reset()")


def touching(rows: list[tuple[str, int]], table: str) -> list[str]:
    return [query for query, calls in rows if f'"{table}"' in query and calls > 0]


def record_sale(app: App, product: int, quantity: int = 1) -> int:
    answer = app.api(
        "writer",
        "POST",
        "/api/sales/",
        json={"items": [{"product": product, "quantity": quantity}]},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def listed_ids(app: App, user: str) -> set[int]:
    answer = app.api(user, "GET", "/api/sales/?page_size=100")
    assert answer.status_code == 200, answer.text
    return {sale["id"] for sale in answer.json()["results"]}


def test_heavy_reads_run_on_the_replica_and_writes_never_do(app, pair, setup):
    record_sale(app, setup.product)
    pair.wait_replayed()
    # The reader has not written: its list, ledger, export and analytics read the replica.
    reset_statements(pair)
    for path in (
        "/api/sales/",
        "/api/stock-movements/",
        "/api/sales/export/?format=csv",
        "/api/analytics/summary/",
        "/api/analytics/top-products/",
    ):
        answer = app.api("reader", "GET", path)
        assert answer.status_code == 200, (path, app.log.read_text()[-3000:])
    on_replica, on_primary = statements(pair, "replica"), statements(pair, "primary")
    for table in ("sales_sale", "products_stockmovement"):
        assert touching(on_replica, table), f"no read of {table} on the replica"
        assert not touching(on_primary, table), f"{table} read on the primary"
    assert any("analytics_" in query for query, _ in on_replica), "no analytics on the replica"
    assert not any("analytics_" in query for query, _ in on_primary), "analytics on the primary"

    # A write: everything on the primary, nothing on the replica (which would refuse it).
    reset_statements(pair)
    record_sale(app, setup.product)
    on_replica, on_primary = statements(pair, "replica"), statements(pair, "primary")
    assert any(query.lstrip().upper().startswith("INSERT") for query, _ in on_primary)
    assert not touching(on_replica, "sales_sale")
    assert not [
        query
        for query, _ in on_replica
        if query.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_a_writer_reads_its_own_write_while_the_replica_is_held_back(app, pair, setup):
    pair.pause_replay()
    sale = record_sale(app, setup.product)
    # The writer's next read goes to the primary: its sale is there...
    assert sale in listed_ids(app, "writer")
    # ...while the replica has not replayed it: the reader, on the replica, does not see it yet.
    assert sale not in listed_ids(app, "reader")
    pair.resume_replay()
    pair.wait_replayed()
    assert sale in listed_ids(app, "reader")


def test_an_answer_computed_on_a_held_back_replica_is_not_cached(app, pair, setup):
    path = "/api/analytics/summary/"
    before = app.api("reader", "GET", path).json()
    pair.pause_replay()
    record_sale(app, setup.product, quantity=3)  # commits, then bumps the generation
    # The reader's answer comes from the replica, which has not replayed the sale: old figures.
    during = app.api("reader", "GET", path).json()
    assert during == before
    pair.resume_replay()
    pair.wait_replayed()
    # Caught up: the reader must see the sale, not the held-back answer cached under the new
    # generation.
    after = app.api("reader", "GET", path).json()
    assert after != during
    assert after == app.api("writer", "GET", path).json()  # the primary's answer


def test_a_lagging_replica_is_skipped_and_reported(setup, pair):
    strict = setup.start(REPLICA_MAX_LAG_SECONDS="1")
    pair.pause_replay()
    sale = record_sale(strict, setup.product)
    # Within a few seconds the replica is more than a second behind: reported as lagging...
    for _ in range(100):
        ready = strict.api(None, "GET", "/health/ready")
        state = ready.json()["replicas"]["replica_0"]
        if state["status"] == "lagging":
            break
        time.sleep(0.1)
    assert state["status"] == "lagging", state
    assert ready.status_code == 200, ready.text  # a lagging replica never fails readiness
    assert state["lag_seconds"] > 1
    # ...and skipped: the reader's list comes from the primary, the sale in it.
    assert sale in listed_ids(strict, "reader")
    metrics = requests.get(
        f"{strict.url}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=30,
    )
    assert 'db_replica_lag_seconds{replica="replica_0"}' in metrics.text


def test_a_stopped_replica_falls_back_to_the_primary(pair, setup):
    # A process that checked the replica a moment ago and trusts that check for a minute.
    app = setup.start(REPLICA_MAX_LAG_SECONDS="300", REPLICA_HEALTH_CHECK_SECONDS="60")
    listed_ids(app, "reader")  # the replica checked, its connection kept
    sale = record_sale(app, setup.product)
    pair.stop("replica", "immediate")
    try:
        # The reader's list now comes from the primary, sale included: the kept connection to
        # the replica is found dead before the request uses it.
        assert sale in listed_ids(app, "reader")
        answer = app.api("reader", "GET", "/api/analytics/summary/")
        assert answer.status_code == 200, answer.text
        ready = app.api(None, "GET", "/health/ready")
        assert ready.status_code == 200, ready.text
        body = ready.json()
        assert body["status"] == "ok"
        assert body["replicas"]["replica_0"]["status"] == "down"
        metrics = requests.get(
            f"{app.url}/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
            timeout=30,
        )
        assert 'db_replica_up{replica="replica_0"} 0.0' in metrics.text
    finally:
        pair.start("replica")


ROUTING_PROBE = """
import json
import django
django.setup()
from django.db import connections, transaction
from core.ops.replicas import replica_reads, replica_state
from products.models import Product

seen = {"state": replica_state("replica_0").status}
seen["outside"] = Product.objects.all().db
with replica_reads():
    seen["allowed"] = Product.objects.all().db
    product = Product.objects.get(sku="RPL-1")
    seen["read_from"] = product._state.db
    with transaction.atomic():
        seen["in_atomic"] = Product.objects.all().db
        seen["locked"] = Product.objects.select_for_update().filter(pk=product.pk).db
    product.name = "Replica product"
    product.save(update_fields=["name"])  # an object read from the replica is written...
    seen["saved_to"] = product._state.db  # ...to the primary
    seen["replica_server"] = connections["replica_0"].cursor().connection.info.port
with replica_reads(allowed=False):
    seen["refused"] = Product.objects.all().db

# The dashboard (a plain Django view, session login) reads the replica.
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.utils import CaptureQueriesContext

client = Client()
client.force_login(get_user_model().objects.get(username="reader"))
with CaptureQueriesContext(connections["replica_0"]) as on_replica:
    with CaptureQueriesContext(connections["default"]) as on_primary:
        response = client.get("/dashboard/")
seen["dashboard"] = [
    response.status_code,
    any("analytics_" in query["sql"] for query in on_replica.captured_queries),
    any("analytics_" in query["sql"] for query in on_primary.captured_queries),
]
print(json.dumps(seen))
"""


def test_router_rules_in_a_fresh_interpreter(setup, pair):
    """The router itself, against the pair: reads in an allowed scope go to the replica,
    not inside a transaction on the primary (nor under its locks), not outside a scope; an
    object read from the replica is saved to the primary; the dashboard's analytics are read
    on the replica."""
    env = _env(pair, DATABASE_REPLICA_URL=pair.url("replica"), REPLICA_MAX_LAG_SECONDS="300")
    result = subprocess.run(
        [sys.executable, "-c", ROUTING_PROBE],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {
        "state": "ok",
        "outside": "default",
        "allowed": "replica_0",
        "read_from": "replica_0",
        "in_atomic": "default",
        "locked": "default",
        "saved_to": "default",
        "replica_server": pair.replica_port,
        "refused": "default",
        "dashboard": [200, True, False],
    }


def test_settings_with_a_replica_route_through_the_router():
    """In a fresh interpreter: the replica aliases, their 1 s connect timeout, the test mirror,
    the router and the middleware (no server needed)."""
    probe = (
        "import json; from salesproject import settings as s; print(json.dumps({"
        "'replicas': {a: [d['PORT'], d['OPTIONS']['connect_timeout'], d['TEST']] "
        "for a, d in s.DATABASES.items() if a != 'default'}, "
        "'routers': s.DATABASE_ROUTERS, "
        "'ryw': 'core.ops.replicas.ReadYourWritesMiddleware' in s.MIDDLEWARE}))"
    )
    env = app_env(
        "postgres://u@127.0.0.1:5432/db",
        without=("DATABASE_", "REPLICA_"),
        DATABASE_REPLICA_URL="postgres://u@127.0.0.1:5433/db, postgres://u@127.0.0.1:5434/db",
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {
        "replicas": {
            "replica_0": [5433, 1, {"MIRROR": "default"}],
            "replica_1": [5434, 1, {"MIRROR": "default"}],
        },
        "routers": ["core.ops.replicas.ReplicaRouter"],
        "ryw": True,
    }


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        ({"DATABASE_REPLICA_URL": "mysql://u@h/db"}, "not a postgres://"),
        ({"DATABASE_REPLICA_URL": "postgres://u@h:5433/db,"}, "URL 2 is empty"),
        ({"DATABASE_REPLICA_URL": "postgres://u@h:5433/"}, "no database name"),
        ({"REPLICA_MAX_LAG_SECONDS": "0"}, "positive"),
        ({"REPLICA_READ_YOUR_WRITES_SECONDS": "7200"}, "at most 3600"),
        ({"REPLICA_HEALTH_CHECK_SECONDS": "soon"}, "not a number"),
        ({"REPLICA_CONNECT_TIMEOUT": "0"}, "below the minimum 1"),
    ],
)
def test_bad_replica_settings_fail_at_start_up_naming_them(variables, problem):
    env = app_env("postgres://u@127.0.0.1:5432/db", without=("DATABASE_", "REPLICA_"))
    env.update(variables)
    result = subprocess.run(
        [sys.executable, "-c", "import salesproject.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"Invalid environment variable {next(iter(variables))}" in result.stderr
    assert problem in result.stderr


def test_replicas_need_a_postgresql_primary():
    env = app_env("sqlite:///tmp/x.sqlite3", without=("DATABASE_", "REPLICA_"))
    env["DATABASE_REPLICA_URL"] = "postgres://u@127.0.0.1:5433/db"
    result = subprocess.run(
        [sys.executable, "-c", "import salesproject.settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Invalid environment variable DATABASE_REPLICA_URL" in result.stderr
    assert "need a PostgreSQL DATABASE_URL" in result.stderr


def test_commit_position_is_kept_as_the_highest_recorded():
    """The analytics bump's WAL position is an atomic max in the cache (a Lua script on Redis):
    a bump that records an older position after a newer one never lowers it."""
    from core.ops.replicas import _position_get, _position_max

    key = f"test:commit_position:{secrets.token_hex(4)}"
    assert _position_get(key) is None
    _position_max(key, 1_000)
    _position_max(key, 500)  # a slower bumper, with the older position
    assert _position_get(key) == 1_000
    _position_max(key, 2**40)
    assert _position_get(key) == 2**40
