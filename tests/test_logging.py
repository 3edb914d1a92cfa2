"""Structured logs (core/ops/request_id.py, LOGGING in settings): the request id accepted or
generated, echoed, on every log record of the request; task ids on a task's records; JSON and
text lines; one log line per catalog call with its latency and outcome."""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import re
import socket

import pytest
from django.conf import settings

from core.ops import health
from core.ops.request_id import HEADER
from products.catalog_client import CatalogUnavailableError, ProductCatalogClient
from salesproject.celery import app as celery_app
from tests.catalog.fake_catalog import FakeCatalog
from tests.probes import python_output

HEX_ID = re.compile(r"[0-9a-f]{32}")


@celery_app.task(name="tests.logging.say_hello")
def say_hello(who):
    logging.getLogger("tests.task").warning("hello %s", who)
    return who


def formatter(name: str) -> logging.Formatter:
    """The formatter ``LOGGING`` configures under ``name`` (``json`` or ``text``)."""
    config = dict(settings.LOGGING["formatters"][name])
    module, _, attribute = config.pop("()").rpartition(".")
    return getattr(importlib.import_module(module), attribute)(**config)


@pytest.fixture
def captured():
    """Every record reaching the root or the ``django`` logger (which does not propagate)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    # Whatever earlier tests of the run did to logging (a library's logging.disable(), a
    # configuration that disabled existing loggers), these records must flow.
    logging.disable(logging.NOTSET)
    for name in ("tests", "tests.task", "tests.after"):
        logging.getLogger(name).disabled = False
    # The probes' own loggers too: a record reaches them whatever happened to the chain of
    # parents above (records are collected once: only where they are handled first).
    loggers = [logging.getLogger(), logging.getLogger("django")]
    for name in ("tests.task", "tests.after"):
        logging.getLogger(name).propagate = False
        loggers.append(logging.getLogger(name))
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)
    for name in ("tests.task", "tests.after"):
        logging.getLogger(name).propagate = True


@pytest.fixture
def logging_check(monkeypatch):
    """The readiness cache check logs a line (it runs in a worker thread of the request)."""

    def check():
        logging.getLogger("tests.probe").warning("probe from the readiness check")

    monkeypatch.setitem(health.CHECKS, "cache", check)


@pytest.mark.embedded
def test_an_incoming_sane_request_id_is_echoed(client):
    response = client.get("/health/live", headers={HEADER: "lb-1.abc_DEF-42"})
    assert response[HEADER] == "lb-1.abc_DEF-42"


def test_a_missing_request_id_is_generated(client):
    first = client.get("/health/live")[HEADER]
    second = client.get("/health/live")[HEADER]
    assert HEX_ID.fullmatch(first) and HEX_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "garbage", ["x" * 129, "has space", "semi;colon", "<script>", "new\\nline", "ümlaut"]
)
def test_a_garbage_request_id_is_replaced(client, garbage):
    response = client.get("/health/live", headers={HEADER: garbage})
    assert HEX_ID.fullmatch(response[HEADER])


def test_the_request_id_is_on_every_record_of_the_request(client, db, captured, logging_check):
    response = client.get("/health/ready", headers={HEADER: "req-123"})
    probe = [r for r in captured if r.name == "tests.probe"]
    assert probe and all(r.request_id == "req-123" for r in probe)
    # And on Django's own line about a 4xx, logged after the middleware chain has returned.
    client.get("/api/no-such-thing/", headers={HEADER: "req-404"})
    not_found = [r for r in captured if r.name == "django.request"]
    assert not_found and all(r.request_id == "req-404" for r in not_found)
    assert response[HEADER] == "req-123"
    # Outside a request: no id.
    logging.getLogger("tests.after").warning("after")
    assert captured[-1].request_id is None


def test_caplog_records_carry_the_request_id(client, db, caplog, logging_check):
    caplog.set_level(logging.INFO)
    client.get("/health/ready", headers={HEADER: "caplog-1"})
    probe = [r for r in caplog.records if r.name == "tests.probe"]
    assert probe and probe[0].request_id == "caplog-1"


def test_json_lines_are_parseable_with_the_request_id(client, db, logging_check):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        client.get("/health/ready", headers={HEADER: "json-7"})
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    probe = [line for line in lines if line["logger"] == "tests.probe"]
    assert probe, lines
    assert probe[0]["request_id"] == "json-7"
    assert probe[0]["message"] == "probe from the readiness check"
    assert probe[0]["level"] == "WARNING"
    assert "time" in probe[0] and "task_id" in probe[0]


def test_text_lines_show_the_request_id_in_brackets(client, db, logging_check):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("text"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        client.get("/health/ready", headers={HEADER: "text-9"})
        logging.getLogger("tests.outside").warning("no request here")
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "WARNING tests.probe [text-9] probe from the readiness check" in text
    assert "WARNING tests.outside [-] no request here" in text


TASK_ID_PROBE = """
import logging, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")
import django
django.setup()
from salesproject.celery import app
from core.ops.request_id import *  # noqa: F403  (installs the record factory)

records = []
class Collect(logging.Handler):
    def emit(self, record):
        records.append(record)
logging.getLogger().addHandler(Collect())

@app.task(name="tests.logging.say_hello")
def say_hello(who):
    logging.getLogger("tests.task").warning("hello %s", who)
    return who

assert say_hello.apply(args=["world"], task_id="task-abc-1").get() == "world"
hello = [r for r in records if r.name == "tests.task"]
logging.getLogger("tests.after").warning("after the task")
print(hello[0].task_id if hello else "MISSING", records[-1].task_id)
"""


@pytest.mark.embedded
def test_task_records_carry_the_task_id():
    # In a fresh interpreter: the record factory and the task signals are process-wide state
    # that other tests of a whole run may have changed.
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL",)}
    env.update(READ_DOT_ENV="false", CELERY_TASK_ALWAYS_EAGER="true")
    assert python_output(TASK_ID_PROBE, env, timeout=120).split() == ["task-abc-1", "None"]


@pytest.fixture
def fake_catalog():
    catalog = FakeCatalog().start()
    yield catalog
    catalog.stop()


def catalog_lines(caplog):
    return [r for r in caplog.records if r.name == "catalog"]


def test_a_catalog_call_logs_method_path_status_latency_and_outcome(caplog, fake_catalog):
    caplog.set_level(logging.INFO, logger="catalog")
    product_id = fake_catalog.add_product(stock=3)
    client = ProductCatalogClient(fake_catalog.url, fake_catalog.api_key)
    assert client.get_product(product_id).stock_quantity == 3
    (record,) = catalog_lines(caplog)
    assert record.catalog_method == "GET"
    assert record.catalog_path == f"/api/products/{product_id}/"
    assert record.catalog_status == "200"
    assert record.catalog_outcome == "ok"
    assert record.latency_ms >= 0
    assert f"catalog call GET /api/products/{product_id}/ -> 200 (ok) in " in record.getMessage()
    assert fake_catalog.api_key not in record.getMessage()


def test_catalog_http_errors_timeouts_and_refusals_are_logged(caplog, fake_catalog):
    caplog.set_level(logging.INFO, logger="catalog")
    product_id = fake_catalog.add_product()
    client = ProductCatalogClient(fake_catalog.url, fake_catalog.api_key, get_retries=0)
    fake_catalog.fail("get", 500)
    with pytest.raises(CatalogUnavailableError):
        client.get_product(product_id)
    fake_catalog.heal()
    fake_catalog.delay("get", 1.0)
    slow = ProductCatalogClient(fake_catalog.url, fake_catalog.api_key, timeout=0.2, get_retries=0)
    with pytest.raises(CatalogUnavailableError):
        slow.get_product(product_id)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = ProductCatalogClient(f"http://127.0.0.1:{port}/api", "k", get_retries=0)
    with pytest.raises(CatalogUnavailableError):
        dead.get_product(1)
    fake_catalog.wait_idle()
    outcomes = [(r.catalog_status, r.catalog_outcome, r.levelname) for r in catalog_lines(caplog)]
    assert outcomes == [
        ("500", "http_error", "WARNING"),
        ("read_timeout", "timeout", "WARNING"),
        ("error", "connection_error", "WARNING"),
    ]


LOG_FORMAT_PROBE = (
    "from salesproject import settings as s; "
    "print(s.LOG_FORMAT, s.LOGGING['handlers']['console']['formatter'])"
)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "text text"),
        ({"DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "a.example"}, "json json"),
        ({"LOG_FORMAT": "json"}, "json json"),
        (
            {"LOG_FORMAT": "TEXT", "DEBUG": "false", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "a"},
            "text text",
        ),
    ],
)
def test_log_format_defaults_to_text_in_debug_and_json_otherwise(variables, expected):
    import os

    from tests.test_settings import CONFIG_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    env.update(variables, READ_DOT_ENV="false")
    assert python_output(LOG_FORMAT_PROBE, env).strip() == expected
