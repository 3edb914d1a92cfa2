"""The staff dashboard at /dashboard/ and its SVG charts."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from analytics.charts import bar_chart, compact, line_chart, nice_ticks
from tests.factories import make_category, make_customer, make_product, make_sale, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


@pytest.fixture
def shop():
    toys = make_category(name="Toys")
    books = make_category(name="Books")
    robot = make_product(name="Robot <Deluxe>", price="1234.50", cost="1000.00", category=toys)
    novel = make_product(name="Novel", price="12.00", cost="5.00", category=books)
    fr = make_customer(country="FR", segment="corporate")
    de = make_customer(country="DE")
    make_sale(items=[(robot, 2), (novel, 1)], customer=fr)
    make_sale(items=[(novel, 3)], customer=de)
    make_sale(items=[(novel, 1)], customer=de, sold_at=timezone.now() - timedelta(days=40))
    return {"robot": robot, "novel": novel, "toys": toys}


def staff_client(role="analyst", **extra):
    client = Client()
    client.force_login(make_user(role=role, is_staff=True, **extra))
    return client


@pytest.mark.embedded
def test_dashboard_renders_kpis_and_charts_for_staff(shop):
    response = staff_client().get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") >= 3 and "</svg>" in html
    assert "2,517.00" in html  # revenue: 2 x 1234.50 + 12 + 36
    assert "Unique customers" in html and "Average order value" in html
    assert "Robot &lt;Deluxe&gt;" in html and "Robot <Deluxe>" not in html  # escaped
    assert "Revenue by day" in html and "Toys" in html
    assert 'type="date"' in html and "Last 90 days" in html
    assert "▲" in html and "(before: 12.00)" in html  # the 40-day-old sale


def test_dashboard_filters_use_the_same_selectors(shop):
    client = staff_client("manager")
    html = client.get("/dashboard/", {"country": "DE"}).content.decode()
    assert "36.00" in html and "2,517.00" not in html
    html = client.get("/dashboard/", {"category": shop["toys"].pk}).content.decode()
    assert "2,469.00" in html
    assert f'<option value="{shop["toys"].pk}" selected>' in html
    html = client.get("/dashboard/", {"segment": "corporate"}).content.decode()
    assert "2,481.00" in html


def test_presets_and_bad_parameters(shop):
    client = staff_client()
    today = timezone.localdate()
    html = client.get("/dashboard/", {"preset": "90"}).content.decode()
    assert f'value="{(today - timedelta(days=89)).isoformat()}"' in html
    assert "Revenue by week" in html
    assert "2,529.00" in html  # the 40-day-old sale is in
    html = client.get("/dashboard/", {"date_from": "2025-05-02", "date_to": "2025-05-01"})
    assert html.status_code == 200
    assert "Must be on or after date_from" in html.content.decode()


@pytest.mark.embedded
def test_anonymous_and_non_staff_are_sent_to_the_admin_login(shop):
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dashboard/")
    client = Client()
    client.force_login(make_user(role="analyst"))  # a role, but not staff
    assert client.get("/dashboard/").status_code == 302


def test_staff_without_a_role_is_refused():
    assert staff_client(role=None).get("/dashboard/").status_code == 403


def test_superuser_and_admin_index_link(shop):
    client = staff_client(role=None, is_superuser=True)
    assert client.get("/dashboard/").status_code == 200
    index = client.get("/admin/").content.decode()
    assert 'href="/dashboard/"' in index
    assert 'href="/dashboard/"' in staff_client().get("/admin/").content.decode()
    assert 'href="/dashboard/"' not in staff_client(role=None).get("/admin/").content.decode()


def test_nice_ticks_and_compact_labels():
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(87) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert nice_ticks(2_450_000)[-1] >= 2_450_000
    assert [compact(v) for v in (950, 15300, 1_250_000, 12.5)] == ["950", "15.3k", "1.2M", "12.50"]


def test_charts_draw_axes_labels_and_marks():
    points = [(date(2025, 1, 1) + timedelta(days=n), Decimal(n * 10)) for n in range(20)]
    svg = str(line_chart(points, interval="day", title="Revenue & <more>"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<circle") == 20 and "<polyline" in svg
    assert "01 Jan" in svg and "Revenue &amp; &lt;more&gt;" in svg
    assert ">200<" in svg  # the top y tick
    empty = str(line_chart([], title="Nothing"))
    assert "<polyline" not in empty and "<svg" in empty
    bars = str(bar_chart([("A very long product name indeed, truly", Decimal("5")),
                          ("B", Decimal("2.5"))], title="Top"))  # fmt: skip
    assert bars.count("<rect") == 2 and "…" in bars and ">5<" in bars
