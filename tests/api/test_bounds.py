"""The bounds of what one request may cost (issue 13): searches, the statement timeout,
and inputs at the edges (calendar, cursors, JSON nesting) answering 400 rather than 500."""

from __future__ import annotations

import os
import re
from io import StringIO

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from core.ops.database import apply_statement_timeout
from tests.api import assert_error
from tests.factories import make_customer, make_product, make_sale
from tests.probes import python_output

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

SEARCHED = ["/api/sales/", "/api/customers/", "/api/products/", "/api/categories/"]


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


# --- Searches ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", SEARCHED)
def test_more_search_words_than_the_limit_is_a_400_naming_it(analyst, url):
    words = " ".join(f"word{n}" for n in range(9))
    error = assert_error(analyst.get(url, {"search": words}), 400, "invalid")
    assert error["fields"]["search"] == ["The search takes at most 8 different words (9 given)."]


@pytest.mark.parametrize("url", SEARCHED)
def test_fifty_one_letter_words_are_refused(analyst, url):
    words = " ".join("abcdefghijklmnopqrstuvwxyz"[n % 26] * (1 + n // 26) for n in range(50))
    error = assert_error(analyst.get(url, {"search": words}), 400, "invalid")
    assert "at most 8 different words" in error["fields"]["search"][0]


@pytest.mark.parametrize("url", SEARCHED)
def test_short_words_are_refused_naming_them(analyst, url):
    error = assert_error(analyst.get(url, {"search": "a e lovelace"}), 400, "invalid")
    assert error["fields"]["search"] == [
        "Search words must be at least 3 characters long: 'a', 'e' are too short."
    ]


@pytest.mark.parametrize("url", SEARCHED)
def test_a_search_term_over_the_length_limit_is_refused(analyst, url):
    error = assert_error(analyst.get(url, {"search": "x" * 201}), 400, "invalid")
    assert error["fields"]["search"] == ["The search is at most 200 characters long (201 given)."]


def test_repeated_words_count_once_whatever_their_case(analyst):
    ada = make_customer(name="Ada Lovelace", email="ada@math.org")
    make_customer(name="Bob Martin", email="bob@acme.com")
    words = " ".join(["lovelace", "LOVELACE", "Lovelace"] * 4)  # 12 words, 1 different
    response = analyst.get("/api/customers/", {"search": words})
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [ada.pk]


@pytest.mark.parametrize("ordering", [",,,", " , "])
def test_an_ordering_naming_no_field_is_the_default_order(analyst, ordering):
    """``?ordering=,,,`` was an IndexError (a 500)."""
    product = make_product(price="1.00", stock=10)
    sales = [make_sale(items=[(product, 1)]) for _ in range(2)]
    response = analyst.get("/api/sales/", {"ordering": ordering})
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [s.pk for s in sales[::-1]]


def test_the_word_limit_is_a_setting(analyst, settings):
    settings.SEARCH_MAX_WORDS = 2
    error = assert_error(analyst.get("/api/sales/", {"search": "one two three"}), 400)
    assert error["fields"]["search"] == ["The search takes at most 2 different words (3 given)."]


def test_every_admin_search_is_bounded():
    """Every registered ModelAdmin with search fields (ours and django.contrib.auth's) bounds
    its search box."""
    from core.admin_search import BoundedSearchAdminMixin

    unbounded = [
        type(model_admin).__name__
        for model_admin in admin.site._registry.values()
        if model_admin.search_fields and not isinstance(model_admin, BoundedSearchAdminMixin)
    ]
    assert unbounded == []


@pytest.fixture
def admin_client(db):
    from tests.factories import make_user

    client = Client()
    client.force_login(make_user(is_superuser=True, is_staff=True))
    return client


def test_the_admin_search_refuses_many_or_short_words(admin_client):
    customer = make_customer(name="Ada Lovelace", email="ada@math.org")
    make_sale(items=[(make_product(price="1.00", stock=5), 1)], customer=customer)
    many = " ".join(f"word{n}" for n in range(20))
    response = admin_client.get("/admin/sales/sale/", {"q": many})
    assert response.status_code == 200
    assert "Search refused: The search takes at most 8 different words (20 given)." in (
        response.content.decode()
    )
    assert response.context["cl"].result_count == 0
    response = admin_client.get("/admin/customers/customer/", {"q": "a e"})
    assert "at least 3 characters long" in response.content.decode()
    assert response.context["cl"].result_count == 0
    response = admin_client.get("/admin/customers/customer/", {"q": "lovelace"})
    assert response.context["cl"].result_count == 1


@pytest.mark.postgres
def test_the_sales_admin_searches_like_the_api(admin_client):
    """The sales admin's search is the API's (the matching customers' ids, then the sale's
    indexes), not Django's OR of icontains across a join; same rows."""
    ada = make_customer(name="Ada Lovelace", email="ada@math.org")
    bob = make_customer(name="Bob Martin", email="bob@acme.com")
    product = make_product(price="1.00", stock=9)
    found = make_sale(items=[(product, 1)], customer=ada, reference="INV-ADA")
    make_sale(items=[(product, 1)], customer=bob, reference="INV-BOB")
    response = admin_client.get("/admin/sales/sale/", {"q": "lovelace"})
    changelist = response.context["cl"]
    assert [sale.pk for sale in changelist.queryset] == [found.pk]
    where = str(changelist.queryset.query).rpartition(" WHERE ")[2]  # the list's own
    assert '"customer_id" IN (' in where and "customers_customer" not in where, where
    response = admin_client.get("/admin/sales/sale/", {"q": "inv martin"})
    assert [sale.reference for sale in response.context["cl"].queryset] == ["INV-BOB"]


def _date_hierarchy_admins():
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model_admin.date_hierarchy
    ]


@pytest.mark.parametrize(
    "day", [("9999", "12", "31"), ("9999", "12", None), ("1", "1", "1"), ("99999", None, None)]
)
def test_a_date_hierarchy_at_the_calendar_edge_is_a_bad_lookup_not_a_500(admin_client, day):
    assert len(_date_hierarchy_admins()) >= 5
    for model, model_admin in _date_hierarchy_admins():
        field = model_admin.date_hierarchy
        query = {
            f"{field}__{part}": value
            for part, value in zip(("year", "month", "day"), day, strict=True)
            if value is not None
        }
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = admin_client.get(url, query)
        assert response.status_code in (200, 302), (url, query, response.status_code)
        if response.status_code == 302:
            assert response["Location"].endswith("?e=1")


@pytest.mark.parametrize("query", [{"status": "\x00"}, {"q": "abc\x00def"}, {"o": "\x00"}])
def test_a_nul_character_in_an_admin_list_parameter_is_a_bad_lookup(admin_client, query):
    response = admin_client.get("/admin/sales/sale/", query)
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def test_the_admin_keeps_short_numbers_for_exact_fields(admin_client):
    """The catalog outbox searches ``=product__id``: a product id of one digit is searched."""
    response = admin_client.get("/admin/products/catalogoutboxentry/", {"q": "7"})
    assert response.status_code == 200
    assert "Search refused" not in response.content.decode()
    response = admin_client.get("/admin/products/catalogoutboxentry/", {"q": "ab"})
    assert "Search refused" in response.content.decode()


# --- The statement timeout ------------------------------------------------------------------


class SleepView(APIView):
    permission_classes = []
    authentication_classes = []

    def get(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
        return Response({"slept": True})


def sleep_page(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(2)")
    raise AssertionError("the statement timeout did not stop the query")


urlpatterns = [
    path("api/sleep/", SleepView.as_view()),
    path("sleep-page/", sleep_page),
    path("", include("salesproject.urls")),
]


@pytest.mark.postgres
@pytest.mark.urls(__name__)
def test_a_query_over_the_statement_timeout_is_a_503_in_the_error_shape(api_client):
    apply_statement_timeout(connection, 50)  # undone with the test's transaction
    response = api_client.get("/api/sleep/")
    error = assert_error(response, 503, "query_timeout")
    assert "5000 ms" in error["message"]
    assert response["Retry-After"] == "5"


@pytest.mark.postgres
@pytest.mark.urls(__name__)
def test_a_page_stopped_by_the_statement_timeout_is_a_503_page(client):
    apply_statement_timeout(connection, 50)
    response = client.get("/sleep-page/")
    assert response.status_code == 503
    assert b"Query too slow" in response.content


@pytest.mark.postgres
def test_connections_take_the_timeout_of_their_process_kind(settings):
    """Set when Django opens a connection (here the test run's: a job, tests/conftest.py)."""
    from core.ops.database import process_kind, statement_timeout_ms

    assert process_kind() == "jobs"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        shown = cursor.fetchone()[0]
    assert shown == f"{statement_timeout_ms() // 60_000}min"
    assert statement_timeout_ms() == settings.DB_STATEMENT_TIMEOUT_JOBS_MS


def _probe_env(**extra: str) -> dict[str, str]:
    env = {
        key: os.environ[key]
        for key in ("PATH", "DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX", "HOME")
        if key in os.environ
    }
    settings_dict = connection.settings_dict  # the test database
    database_url = (
        f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
        f"{settings_dict['NAME']}"
    )
    return {**env, "DATABASE_URL": database_url, "READ_DOT_ENV": "false", **extra}


SHOW = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'salesproject.settings');"
    "{kind}django.setup(); from django.db import connection; c = connection.cursor();"
    "c.execute('SHOW statement_timeout'); print(c.fetchone()[0])"
)


@pytest.mark.postgres
def test_each_process_kind_takes_its_own_timeout():
    """A web process (the default: gunicorn, runserver) the requests' timeout; a management
    command and a Celery worker (set_process_kind(JOBS) by manage.py and worker_init) the
    jobs' one, each its own setting."""
    env = _probe_env(DB_STATEMENT_TIMEOUT_MS="1234", DB_STATEMENT_TIMEOUT_JOBS_MS="98765")
    assert python_output(SHOW.format(kind=""), env).strip() == "1234ms"
    jobs = "from core.ops.database import set_process_kind; set_process_kind('jobs');"
    assert python_output(SHOW.format(kind=jobs), env).strip() == "98765ms"
    command = (
        "import sys; sys.argv = ['manage.py', 'shell', '-c', "
        "'from django.db import connection; c = connection.cursor(); "
        'c.execute("SHOW statement_timeout"); print(c.fetchone()[0])\']; '
        "import runpy; runpy.run_path('manage.py', run_name='__main__')"
    )
    assert python_output(command, env).strip().splitlines()[-1] == "98765ms"
    celery = (
        "from salesproject.celery import app; from celery import signals;"
        "import django; django.setup(); signals.worker_init.send(sender=None);"
        "from django.db import connection; c = connection.cursor();"
        "c.execute('SHOW statement_timeout'); print(c.fetchone()[0])"
    )
    assert python_output(celery, {**env, "DJANGO_SETTINGS_MODULE": "salesproject.settings"}) == (
        "98765ms\n"
    )


# --- Edges of the calendar, cursors, nesting: 400, not 500 ------------------------------------

EDGE_DATES = [
    "/api/analytics/summary/?date_from=9999-12-31",
    "/api/analytics/summary/?date_to=0001-01-01",
    "/api/analytics/revenue/?date_to=0001-01-01",
    "/api/analytics/top-products/?date_from=9999-12-31",
    "/api/analytics/top-customers/?date_to=0001-01-01",
    "/api/analytics/breakdown/?date_from=9999-12-31",
    "/api/sales/?date_to=9999-12-31",
    "/api/sales/?date_from=0001-01-01",
    "/api/sales/export/?date_to=9999-12-31",
    "/api/sales/?sold_after=9999-12-31T23:00:00-05:00",
    "/api/sales/?sold_before=0001-01-01T00:00:00%2B05:00",
    "/api/customers/?created_after=0001-01-01T00:00:00%2B05:00",
]


@pytest.mark.parametrize("url", EDGE_DATES)
def test_dates_at_the_edges_of_the_calendar_are_a_400(client_for, url):
    error = assert_error(client_for("manager").get(url), 400, "invalid")
    messages = [message for field in error["fields"].values() for message in field]
    assert "Enter a date between 1000-01-01 and 8999-12-31." in messages


@pytest.mark.parametrize("query", ["date_from=9999-12-31", "date_to=0001-01-01"])
def test_the_dashboard_names_a_date_at_the_edge(admin_client, query):
    response = admin_client.get(f"/dashboard/?{query}")
    assert response.status_code == 200
    assert "Enter a date between 1000-01-01 and 8999-12-31." in response.content.decode()


def test_export_data_refuses_a_date_at_the_edge(tmp_path):
    with pytest.raises(CommandError, match=r"date_to: Enter a date between 1000-01-01"):
        call_command(
            "export_data", "sales", "--out", str(tmp_path / "s.csv"),
            "--filter", "date_to=9999-12-31", "--no-progress", stdout=StringIO(),
        )  # fmt: skip


@pytest.mark.parametrize("url", ["/api/sales/", "/api/stock-movements/"])
@pytest.mark.parametrize(
    "cursor",
    [
        "cD1hYmM=",  # p=abc
        "not base64!",
        "cD05OTk5LTEyLTMxVDIzOjAwOjAwLTA1OjAw",  # p=9999-12-31T23:00:00-05:00
    ],
)
def test_a_crafted_cursor_is_a_400_naming_it(analyst, url, cursor):
    error = assert_error(analyst.get(url, {"cursor": cursor}), 400, "invalid")
    assert error["fields"] == {
        "cursor": ["Invalid cursor: use the next or previous link of a page as it is."]
    }


def test_a_real_cursor_still_pages(analyst):
    product = make_product(price="1.00", stock=10)
    for _ in range(3):
        make_sale(items=[(product, 1)])
    first = analyst.get("/api/sales/", {"page_size": 2}).json()
    second = analyst.get(first["next"])
    assert second.status_code == 200
    assert len(second.json()["results"]) == 1


@pytest.mark.parametrize("depth", [100_000, 33])
def test_json_nested_too_deep_is_a_400(client_for, depth):
    body = "[" * depth + "]" * depth
    response = client_for("manager").post("/api/sales/", body, content_type="application/json")
    error = assert_error(response, 400, "parse_error")
    assert re.search(r"more than 32 levels deep", error["message"])


def test_json_nested_within_the_limit_is_parsed(client_for):
    body = "[" * 32 + "]" * 32
    response = client_for("manager").post("/api/sales/", body, content_type="application/json")
    assert response.status_code == 400
    assert "levels deep" not in response.json()["error"]["message"]
