"""Batch jobs and tasks on a REAL Celery worker against the local Redis broker.

- An in-process worker (``celery.contrib.testing.worker.start_worker``, solo pool, in a thread
  with its own database connection) runs: a price update of 10,000 products through
  ``POST /api/products/price-update/``, the catalog outbox retry, an import job, and tasks that
  raise (the dead-letter log).
- A worker SUBPROCESS (``celery -A salesproject worker``) is SIGKILLed in the middle of a sales
  bulk job: the job is left ``running`` with a stale heartbeat; it is then marked failed
  (``batch_jobs_fail_stale``) or taken over by the task delivered again, and the end result is
  exact (each sale once, stock taken once).
- With the broker down, creating a job answers 503 ``queue_unavailable`` quickly and nothing
  else is done.

Every test sends its tasks to a queue of its own (``task_default_queue``), so nothing collides
with other runs sharing the broker database; the queue's keys are removed afterwards. The worker
reads what the test wrote, so the tests commit (``django_db(transaction=True)``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from core.jobs import services as jobs_services
from core.jobs.models import BatchJob, FailedTask
from core.jobs.services import (
    batch_job_create,
    batch_job_live_progress,
    batch_jobs_fail_stale,
)
from core.jobs.tasks import run_batch_job_task
from customers.models import Customer
from products.models import (
    CatalogOutboxEntry,
    CatalogOutboxStatus,
    Category,
    Product,
    StockMovement,
)
from sales.models import Sale, SaleItem
from salesproject.celery import app
from tests.api import assert_error
from tests.app_instances import database_url, server_dsn
from tests.catalog.fake_catalog import FakeCatalog
from tests.factories import ensure_role_groups, make_product

pytestmark = [
    pytest.mark.skipif(not django_settings.IS_POSTGRES, reason="needs PostgreSQL and Redis"),
    pytest.mark.skipif(
        not app.conf.broker_url.startswith("redis"), reason="needs a Redis broker (REDIS_URL)"
    ),
    pytest.mark.postgres,
    pytest.mark.usefixtures("fast_password_hasher"),
]

BASE_DIR = Path(__file__).resolve().parents[1]
KOMBU_SEP = "\x06\x16"
JOB_TIMEOUT = 60  # seconds any job or task may take here before the test fails


# --- test-only tasks -----------------------------------------------------------------------------


@app.task(name="tests.jobs_worker.explode")
def explode_task(message: str, *, code: int = 0) -> None:
    raise RuntimeError(f"{message} ({code})")


@app.task(name="tests.jobs_worker.mark")
def mark_task(key: str) -> None:
    """Sent after other tasks: the solo worker runs them in order, so when the mark is there,
    the tasks sent before it have run."""
    redis.Redis.from_url(app.conf.broker_url).set(key, "1", ex=300)


# --- helpers -------------------------------------------------------------------------------------


def wait_for(predicate: Callable[[], object], what: str, timeout: float = JOB_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def finished_job(job_id: int, timeout: float = JOB_TIMEOUT) -> BatchJob:
    return wait_for(
        lambda: BatchJob.objects.filter(
            pk=job_id, status__in=("succeeded", "failed", "cancelled")
        ).first(),
        f"job {job_id} to finish",
        timeout,
    )


def broker() -> redis.Redis:
    return redis.Redis.from_url(app.conf.broker_url)


def forget_queue(queue: str) -> None:
    """Remove what the broker keeps for this test's queue: its lists, its bindings, and the
    unacknowledged messages of a killed worker (they would come back to it much later)."""
    client = broker()
    for key in client.scan_iter(match="_kombu.binding*", count=500, _type="set"):
        for member in client.smembers(key):
            if member.decode(errors="replace").endswith(f"{KOMBU_SEP}{queue}"):
                client.srem(key, member)
    client.delete(queue, *(f"{queue}{KOMBU_SEP}{p}" for p in (3, 6, 9)))
    for tag, raw in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(raw)[-1]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def close_other_connections() -> None:
    """Close the database sessions the worker threads left open on the test database (so it
    can be flushed and dropped)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )


def new_price(price: Decimal, percent: str) -> Decimal:
    return (price * (100 + Decimal(percent)) / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


@pytest.fixture
def queue() -> Iterator[str]:
    """This test's own queue; tasks are sent to it (not run eagerly) while the test runs."""
    name = f"tests.jobs_worker.{secrets.token_hex(6)}"
    previous = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = name
    try:
        yield name
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        forget_queue(name)


@pytest.fixture
def worker(queue) -> Iterator[str]:
    """A real worker in this process (solo pool, its own thread) consuming the test's queue."""
    from celery.contrib.testing.worker import start_worker

    try:
        with start_worker(
            app,
            pool="solo",
            concurrency=1,
            perform_ping_check=False,
            queues=[queue],
            shutdown_timeout=JOB_TIMEOUT,
            loglevel="WARNING",
        ):
            yield queue
    finally:
        close_other_connections()


@pytest.fixture
def manager(client_for):
    ensure_role_groups()  # a transactional test may follow another one's flush
    return client_for("manager")


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def assert_tasks_ran(queue: str) -> None:
    """Wait until every task sent so far to the queue has run (a mark sent after them)."""
    key = f"{queue}.mark.{secrets.token_hex(4)}"
    mark_task.delay(key)
    wait_for(lambda: broker().get(key), "the worker to reach the mark")
    broker().delete(key)


# --- (a) a price update of 10,000 products, end to end -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_price_update_of_ten_thousand_products_on_a_real_worker(worker, manager):
    category = Category.objects.create(name="Worker bulk")
    Product.objects.bulk_create(
        Product(
            sku=f"WP-{i:05d}",
            name=f"Worker product {i}",
            category=category,
            price=Decimal(f"{(i * 37) % 5000}.{(i * 13) % 100:02d}"),
        )
        for i in range(10_000)
    )
    outside = make_product(sku="OUTSIDE", price="10.10")
    before = dict(Product.objects.filter(category=category).values_list("sku", "price"))

    response = manager.post(
        "/api/products/price-update/",
        {"category": [category.pk], "percent": "7.5"},
        format="json",
    )

    assert response.status_code == 202, response.json()
    assert response.json()["job"]["status"] == "queued"  # it is the worker's now
    job = finished_job(response.json()["job"]["id"])
    assert job.status == "succeeded", job.message
    expected_changed = sum(1 for p in before.values() if new_price(p, "7.5") != p)
    assert job.counts == {"matched": 10_000, "changed": expected_changed}
    assert job.started_at is not None and job.heartbeat_at is not None
    after = dict(Product.objects.filter(category=category).values_list("sku", "price"))
    wrong = {sku: (p, after[sku]) for sku, p in before.items() if after[sku] != new_price(p, "7.5")}
    assert wrong == {}
    assert Product.objects.get(pk=outside.pk).price == Decimal("10.10")

    body = manager.get(f"/api/jobs/{job.pk}/").json()
    assert body["status"] == "succeeded"
    assert body["progress"]["done"] == body["progress"]["total"] == 10_000


# --- (b) the catalog outbox retry ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_catalog_outbox_retry_task_runs_on_the_worker(worker, settings):
    from products.catalog import HttpCatalog
    from products.tasks import retry_catalog_outbox_task

    fake = FakeCatalog().start()
    try:
        settings.CATALOG_BACKEND = "http"
        settings.CATALOG_API_URL = fake.url
        settings.CATALOG_API_KEY = fake.api_key
        settings.CATALOG_TIMEOUT = 2.0
        settings.CATALOG_CONNECT_TIMEOUT = 0.5
        restocked = fake.add_product(stock=10)
        purchased = fake.add_product(stock=10)
        HttpCatalog().get_products([restocked, purchased])  # the local mirror rows
        entries = [
            CatalogOutboxEntry.objects.create(
                product_id=restocked, delta=3, reason="compensation", reference="worker"
            ),
            CatalogOutboxEntry.objects.create(
                product_id=purchased, delta=-4, reason="compensation", reference="worker"
            ),
        ]

        retry_catalog_outbox_task.delay()

        wait_for(
            lambda: not CatalogOutboxEntry.objects.filter(status=CatalogOutboxStatus.PENDING),
            "the outbox to be sent",
        )
        for entry in entries:
            entry.refresh_from_db()
            assert (entry.status, entry.attempts, entry.last_error) == ("done", 1, "")
        assert (fake.stock(restocked), fake.stock(purchased)) == (13, 6)
        mirrors = dict(
            Product.objects.filter(pk__in=[restocked, purchased]).values_list(
                "pk", "stock_quantity"
            )
        )
        assert mirrors == {restocked: 13, purchased: 6}

        # Delivered again (the beat's next run): done entries are not sent twice.
        calls = len(fake.calls)
        retry_catalog_outbox_task.delay()
        assert_tasks_ran(worker)
        assert len(fake.calls) == calls
        assert (fake.stock(restocked), fake.stock(purchased)) == (13, 6)
    finally:
        fake.stop()


# --- (c) an import job ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_big_import_runs_as_a_job_on_the_worker(worker, manager, settings, media_root):
    settings.IMPORT_SYNC_MAX_BYTES = 100
    rows = ["email,name,city"] + [f"w{i}@example.com,Worker {i},Town {i % 7}" for i in range(500)]
    upload = SimpleUploadedFile("customers.csv", "\n".join(rows).encode(), content_type="text/csv")

    response = manager.post("/api/customers/import/", {"file": upload}, format="multipart")

    assert response.status_code == 202, response.json()
    job = finished_job(response.json()["job"]["id"])
    assert job.status == "succeeded", job.message
    assert job.kind == "import"
    assert (job.counts["rows"], job.counts["created"], job.counts["rejected"]) == (500, 500, 0)
    assert job.progress_unit == "bytes" and job.progress_done == job.progress_total
    assert Customer.objects.count() == 500
    assert Customer.objects.get(email="w123@example.com").city == "Town 4"


# --- (d) the dead-letter log ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_task_that_raises_lands_in_the_dead_letter_log(worker):
    result = explode_task.delay("boom", code=7)

    failed = wait_for(
        lambda: FailedTask.objects.filter(task_name="tests.jobs_worker.explode").first(),
        "the failed task to be recorded",
    )
    assert failed.task_id == result.id
    assert failed.args == ["boom"] and failed.kwargs == {"code": 7}
    assert failed.exception == "RuntimeError: boom (7)"
    assert "RuntimeError: boom (7)" in failed.traceback
    assert failed.hostname  # the worker's name
    assert failed.resent_at is None


@pytest.mark.django_db(transaction=True)
def test_a_job_failing_unexpectedly_is_failed_and_dead_lettered(worker):
    job = BatchJob.objects.create(
        kind="price_update",
        params={"selection": {"no_such_filter": [1]}, "percent": "5", "amount": None},
    )

    run_batch_job_task.delay(job.pk)

    job = finished_job(job.pk)
    assert job.status == "failed"
    assert job.message.startswith("TypeError:")
    failed = wait_for(
        lambda: FailedTask.objects.filter(task_name="jobs.run_batch_job").first(),
        "the failed job task to be recorded",
    )
    assert failed.args == [job.pk]
    assert failed.exception.startswith("TypeError:")

    # Sent again from the dead-letter log: the job has finished, so nothing runs twice.
    from core.jobs.deadletter import failed_task_resend

    failed_task_resend(failed_task=failed)
    assert_tasks_ran(worker)
    failed.refresh_from_db()
    assert failed.resent_at is not None
    assert FailedTask.objects.count() == 1
    job.refresh_from_db()
    assert job.status == "failed"


# --- (e) a worker killed in the middle of a job --------------------------------------------------

SALES_IN_JOB = 400  # the worker records ~60-100 a second here: a few seconds of work
KILL_AFTER = 60  # sales recorded when the worker is killed
STOCK = 100_000


@contextmanager
def worker_process(queue: str, log: Path) -> Iterator[subprocess.Popen]:
    """``celery worker`` on the test database and this test's queue; always killed at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env.update(
        # the database pytest-django created
        DATABASE_URL=database_url(server_dsn(connection.settings_dict["NAME"])),
        REDIS_URL=django_settings.REDIS_URL,
        CELERY_BROKER_URL=app.conf.broker_url,
        CACHE_KEY_PREFIX=django_settings.CACHES["default"]["KEY_PREFIX"],
        READ_DOT_ENV="false",
        JOB_HEARTBEAT_SECONDS="1",
        JOB_HEARTBEAT_TIMEOUT="10",
        DJANGO_SETTINGS_MODULE="salesproject.settings",
        PYTHONUNBUFFERED="1",
    )
    celery = Path(sys.executable).with_name("celery")
    command = [
        str(celery),
        "-A",
        "salesproject",
        "worker",
        "-Q",
        queue,
        "-P",
        "solo",
        "-c",
        "1",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
        "-n",
        f"killed-{secrets.token_hex(3)}@%h",
        "--loglevel",
        "INFO",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(
            lambda: process.poll() is not None or " ready." in log.read_text(),
            "the worker to start",
            timeout=30,
        )
        assert process.poll() is None, f"the worker exited:\n{log.read_text()}"
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def _sales_bulk_job_killed_midway(manager, queue: str, tmp_path: Path, settings):
    """Post a sales bulk job, let a worker subprocess start it, SIGKILL the worker once
    KILL_AFTER sales are recorded. Returns (job, products, references)."""
    settings.SALES_BULK_SYNC_MAX = 0  # always a job
    products = [make_product(price="1.25", stock=STOCK) for _ in range(3)]
    sales = [
        {
            "items": [
                {"product": products[i % 3].pk, "quantity": 1 + i % 4},
                {"product": products[(i + 1) % 3].pk, "quantity": 1},
            ]
        }
        for i in range(SALES_IN_JOB)
    ]
    log = tmp_path / "worker.log"
    with worker_process(queue, log) as process:
        response = manager.post("/api/sales/bulk/", {"sales": sales}, format="json")
        assert response.status_code == 202, response.json()
        job_id = response.json()["job"]["id"]

        def recorded_enough():
            job = BatchJob.objects.get(pk=job_id)
            done, _ = batch_job_live_progress(job)  # the worker's live figure (cache)
            assert job.status in ("queued", "running"), (job.status, job.message)
            return job.status == "running" and done >= KILL_AFTER

        wait_for(recorded_enough, f"the worker to record {KILL_AFTER} sales")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    job = BatchJob.objects.get(pk=job_id)
    references = [sale["reference"] for sale in job.params["sales"]]
    return job, products, references


def expected_stock(products, references) -> dict[int, int]:
    """What the stock must be: the opening stock minus exactly what the recorded sales hold."""
    sold = dict(
        SaleItem.objects.filter(sale__reference__in=references)
        .values("product_id")
        .annotate(total=Sum("quantity"))
        .values_list("product_id", "total")
    )
    return {p.pk: STOCK - sold.get(p.pk, 0) for p in products}


def assert_books_balance(products, references) -> None:
    stock = dict(
        Product.objects.filter(pk__in=[p.pk for p in products]).values_list("pk", "stock_quantity")
    )
    assert stock == expected_stock(products, references)
    for product in products:
        ledger = StockMovement.objects.filter(product=product).aggregate(total=Sum("delta"))
        assert ledger["total"] == stock[product.pk], product.sku
    # Every recorded sale is whole: its lines and its ledger rows, once.
    assert SaleItem.objects.count() == 2 * Sale.objects.count()
    assert StockMovement.objects.filter(reason="sale").count() == 2 * Sale.objects.count()


@pytest.mark.django_db(transaction=True)
def test_a_killed_job_is_marked_failed_after_the_heartbeat_timeout(
    queue, manager, tmp_path, settings
):
    settings.JOB_HEARTBEAT_TIMEOUT = 3  # the reaper's timeout (the worker beats every second)
    job, products, references = _sales_bulk_job_killed_midway(manager, queue, tmp_path, settings)
    killed_at = time.monotonic()

    assert job.status == "running"
    kept = Sale.objects.count()
    assert KILL_AFTER <= kept < SALES_IN_JOB  # the sales recorded before the kill stay
    assert job.finished_at is None
    assert batch_jobs_fail_stale() == 0  # its heartbeat is still fresh

    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))
    job.refresh_from_db()
    assert job.heartbeat_at < timezone.now() - timedelta(seconds=3)
    assert batch_jobs_fail_stale() == 1

    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert job.message.startswith("The worker stopped (no heartbeat since")
    assert batch_jobs_fail_stale() == 0
    assert Sale.objects.count() == kept
    assert set(Sale.objects.values_list("reference", flat=True)) <= set(references)
    assert_books_balance(products, references)

    # Run again (an operator resets it): the sales already recorded are not recorded twice.
    BatchJob.objects.filter(pk=job.pk).update(status="queued", finished_at=None)
    run_batch_job_task(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert job.counts == {
        "sales": SALES_IN_JOB,
        "created": SALES_IN_JOB - kept,
        "already_recorded": kept,
        "failed": 0,
    }
    assert sorted(Sale.objects.values_list("reference", flat=True)) == sorted(references)
    assert_books_balance(products, references)


@pytest.mark.django_db(transaction=True)
def test_a_killed_job_delivered_again_is_taken_over_and_ends_exact(
    queue, manager, tmp_path, settings
):
    settings.JOB_HEARTBEAT_TIMEOUT = 3
    job, products, references = _sales_bulk_job_killed_midway(manager, queue, tmp_path, settings)
    killed_at = time.monotonic()
    kept = Sale.objects.count()
    assert job.status == "running" and KILL_AFTER <= kept < SALES_IN_JOB

    # Delivered again at once: the job looks alive (fresh heartbeat), so it is left alone.
    run_batch_job_task(job.pk)
    job.refresh_from_db()
    assert job.status == "running" and Sale.objects.count() == kept

    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))
    run_batch_job_task(job.pk)  # now its heartbeat is stale: this delivery takes it over

    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert job.counts == {
        "sales": SALES_IN_JOB,
        "created": SALES_IN_JOB - kept,
        "already_recorded": kept,
        "failed": 0,
    }
    assert Sale.objects.count() == SALES_IN_JOB
    assert sorted(Sale.objects.values_list("reference", flat=True)) == sorted(references)
    assert_books_balance(products, references)
    sold = dict(
        SaleItem.objects.values("product_id")
        .annotate(total=Sum("quantity"))
        .values_list("product_id", "total")
    )
    # Each planned sale once: product i%3 gets 1 + i%4, product (i+1)%3 gets 1.
    planned = {p.pk: 0 for p in products}
    for i in range(SALES_IN_JOB):
        planned[products[i % 3].pk] += 1 + i % 4
        planned[products[(i + 1) % 3].pk] += 1
    assert sold == planned


@pytest.mark.django_db
def test_a_stale_sales_bulk_job_marked_failed_does_not_claim_nothing_was_kept(settings):
    from sales.bulk import sales_bulk_plan, sales_bulk_record

    product = make_product(stock=10)
    planned = sales_bulk_plan(
        [{"items": [{"product": product.pk, "quantity": 1}]} for _ in range(4)]
    )
    stale = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT + 5)
    job = BatchJob.objects.create(
        kind="sales_bulk",
        params={"sales": planned},
        status="running",
        started_at=stale,
        heartbeat_at=stale,
    )
    sales_bulk_record(planned=planned[:2])  # what the killed worker had committed

    assert batch_jobs_fail_stale() == 1

    job.refresh_from_db()
    assert job.status == "failed"
    assert Sale.objects.count() == 2
    assert "nothing it was doing was kept" not in job.message


@pytest.mark.django_db(transaction=True)
def test_a_job_created_inside_a_transaction_is_enqueued_on_commit(worker):
    from django.db import transaction

    product = make_product(sku="ATOMIC-1", price="10.00")
    with transaction.atomic():
        job = batch_job_create(
            kind="price_update",
            params={"selection": {"skus": ["ATOMIC-1"]}, "percent": None, "amount": "1.00"},
        )
        time.sleep(1)  # the worker has had the task for a while
    assert_tasks_ran(worker)  # every task sent so far has run

    job.refresh_from_db()
    assert job.status == "succeeded", (job.status, job.message)
    assert Product.objects.get(pk=product.pk).price == Decimal("11.00")


# --- (f) the broker down -------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def broker_down(queue, monkeypatch) -> Iterator[None]:
    """The app's broker is a port nothing listens on (fresh connection pools, restored after)."""
    # The test's wrapping transaction never commits: enqueue at once, as outside a transaction.
    monkeypatch.setattr(jobs_services, "on_commit", lambda func, using=None, robust=False: func())
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_WRITE_URL", raising=False)
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/1"
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


@pytest.mark.django_db
def test_broker_down_price_update_is_503_and_changes_nothing(broker_down, manager):
    product = make_product(sku="DOWN-1", price="10.00")
    started = time.monotonic()

    response = manager.post(
        "/api/products/price-update/", {"skus": ["DOWN-1"], "percent": "10"}, format="json"
    )

    elapsed = time.monotonic() - started
    error = assert_error(response, 503, "queue_unavailable")
    assert "nothing was started" in error["message"]
    assert response["Retry-After"] == "60"
    assert elapsed < 10, elapsed
    job = BatchJob.objects.get()
    assert (job.kind, job.status) == ("price_update", "failed")
    assert job.message.startswith("Could not be queued:")
    assert job.finished_at is not None and job.started_at is None
    assert Product.objects.get(pk=product.pk).price == Decimal("10.00")


@pytest.mark.django_db
def test_broker_down_sales_bulk_is_503_and_records_nothing(broker_down, manager, settings):
    settings.SALES_BULK_SYNC_MAX = 1
    product = make_product(stock=10)
    body = {"sales": [{"items": [{"product": product.pk, "quantity": 1}]}] * 3}

    error = assert_error(
        manager.post("/api/sales/bulk/", body, format="json"), 503, "queue_unavailable"
    )

    assert error["message"].startswith("The job queue is unavailable")
    assert Sale.objects.count() == 0
    assert Product.objects.get(pk=product.pk).stock_quantity == 10
    assert BatchJob.objects.get().status == "failed"


@pytest.mark.django_db
def test_broker_down_batch_job_create_raises_quickly(broker_down):
    from core.errors import ApplicationError

    started = time.monotonic()
    with pytest.raises(ApplicationError) as raised:
        batch_job_create(kind="sales_bulk", params={"sales": []})
    assert time.monotonic() - started < 10
    assert (raised.value.code, raised.value.status_code) == ("queue_unavailable", 503)
    assert BatchJob.objects.get().status == "failed"
