"""What staff see, in a real browser at a laptop's 1366 x 768 (issue 16): the batch job admin,
a sale's lines, the admin's import options, the changelists' width, and the dashboard with
today's partial day and over a whole year. With UPDATE_DOC_SCREENSHOTS=1 the screenshots the
docs show (README.md, docs/) are written to docs/images/ as well as test-artifacts/."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from core.jobs.models import BatchJob
from sales.models import Sale
from tests.browser.test_admin_browser import ARTIFACTS, browser  # noqa: F401  (the fixture)
from tests.factories import make_user

DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
LAPTOP = {"width": 1366, "height": 768}

# serialized_rollback: the flush after each test would delete the role groups the migrations
# created, which later tests (and files) rely on.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def demo(settings, tmp_path):
    """A small, deterministic demo shop: a year and a half of sales up to today."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command(
        "seed_demo",
        seed=7,
        customers=300,
        products=80,
        sales=4000,
        days=540,
        no_progress=True,
        stdout=open(os.devnull, "w"),  # noqa: SIM115
    )


@pytest.fixture
def staff_page(browser, live_server, fast_password_hasher, demo):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    make_user(username="boss", is_superuser=True, is_staff=True)
    context = browser.new_context(base_url=live_server.url, viewport=LAPTOP, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-Secret-123")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield page
    context.close()


def shot(page, name: str, *, doc: bool = False, full_page: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
    if doc and os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_IMAGES / f"{name}.png"), full_page=full_page)


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_the_changelists_fit_a_laptop_screen(staff_page):
    for path in ("/admin/sales/sale/", "/admin/products/product/", "/admin/customers/customer/"):
        staff_page.goto(path)
        assert page_width(staff_page) <= LAPTOP["width"], path
    staff_page.goto("/admin/sales/sale/")
    reference = staff_page.locator(
        "#result_list td.field-reference, #result_list th.field-reference"
    )
    height = reference.first.evaluate("cell => cell.getBoundingClientRect().height")
    shot(staff_page, "admin-sales-list", doc=True)
    assert height < 40  # one line, not three


def test_a_sales_lines_show_sku_and_name(staff_page):
    sale = Sale.objects.filter(status="completed").order_by("-sold_at").first()
    item = sale.items.select_related("product").first()
    staff_page.goto(f"/admin/sales/sale/{sale.pk}/change/")
    text = staff_page.locator("#items-group").inner_text()
    assert item.product.sku in text and item.product.name in text
    assert f"x {item.product_id} @" not in text
    staff_page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the lines
    shot(staff_page, "admin-sale", doc=True)


def test_the_import_page_offers_options_and_lists_bad_rows(staff_page, tmp_path):
    data = tmp_path / "products.csv"
    data.write_text(
        "sku,name,category,price\nTOUR-1,Tour mug,,9.90\nTOUR-2,Tour poster,,-1\n"
        "TOUR-3,Tour cap,,abc\n"
    )
    staff_page.goto("/admin/products/product/import/")
    assert staff_page.locator("#id_on_error").is_visible()
    assert staff_page.locator("#id_dry_run").is_visible()
    assert staff_page.locator("#id_apply_stock").count() == 0  # sales only
    staff_page.set_input_files("#id_import_file", str(data))
    staff_page.select_option("#id_format", label="csv")
    staff_page.select_option("#id_on_error", "skip")
    staff_page.click("input[type=submit]")
    staff_page.wait_for_selector("#import-row-errors")
    errors = staff_page.locator("#import-row-errors").inner_text()
    assert "Row 3, column price" in errors and "Row 4, column price" in errors
    shot(staff_page, "admin-import", doc=True, full_page=True)
    staff_page.click("input[name=confirm]")
    staff_page.wait_for_url("**/admin/products/product/")
    assert "rejected 2" in staff_page.locator(".messagelist").inner_text()

    staff_page.goto("/admin/sales/sale/import/")
    assert staff_page.locator("#id_apply_stock").is_visible()


def test_the_job_admin_shows_tables_and_downloads_files(staff_page):
    now = timezone.now()
    job = BatchJob.objects.create(
        kind="import",
        status="succeeded",
        params={"table": "sales", "format": "csv", "file_name": "march-sales.csv",
                "dry_run": False, "on_error": "skip", "apply_stock": False},
        counts={"rows_read": 12480, "sales_created": 4950, "rows_rejected": 3},
        error_count=3,
        error_report=[
            {"row": 18, "column": "sku", "message": "unknown sku 'XX-404'"},
            {"row": 911, "column": "quantity", "message": "quantity 0 must be at least 1"},
            {"row": 7310, "column": "customer_email", "message": "unknown customer "
             "'nobody@example.com' (no customer with this email)"},
        ],
        message="Imported with 3 rows rejected (on_error=skip).",
        created_by=make_user(username="importer"),
        started_at=now - timedelta(seconds=95),
        finished_at=now - timedelta(seconds=12),
    )  # fmt: skip
    job.input_file.save("march-sales.csv", ContentFile(b"reference,sold_at\n"), save=False)
    job.error_file.save("errors.csv", ContentFile(b"reference,_error\n"), save=False)
    job.save()

    staff_page.goto("/admin/jobs/batchjob/")
    row = staff_page.locator("#result_list tbody tr").first.inner_text()
    assert "march-sales.csv" in row and "importer" in row and "1 min 23 s" in row
    assert page_width(staff_page) <= LAPTOP["width"]
    staff_page.goto(f"/admin/jobs/batchjob/{job.pk}/change/")
    assert staff_page.locator("input[name=_save]").count() == 0
    assert "12,480" in staff_page.locator(".field-counts_table").inner_text()
    assert "nobody@example.com" in staff_page.locator(".field-errors").inner_text()
    with staff_page.expect_download() as download:
        staff_page.click("text=Download march-sales.csv")
    assert download.value.suggested_filename == "march-sales.csv"
    shot(staff_page, "admin-job", doc=True, full_page=True)


def kpis_fit(page) -> bool:
    return page.evaluate(
        "[...document.querySelectorAll('.kpi .value')]"
        ".every(v => v.scrollWidth <= v.clientWidth + 1)"
    )


def test_the_dashboard_marks_todays_partial_day(staff_page):
    staff_page.goto("/dashboard/")
    assert staff_page.locator("svg circle.partial").count() >= 1
    assert "today is not over" in staff_page.locator("#partial-caption").inner_text()
    assert kpis_fit(staff_page)
    shot(staff_page, "dashboard", doc=True)


def test_the_dashboard_over_a_year(staff_page):
    staff_page.goto("/dashboard/?preset=365")
    shot(staff_page, "dashboard-year", doc=True)
    assert "Revenue by week" in staff_page.content()
    assert staff_page.locator("svg circle.partial").count() >= 1
    assert kpis_fit(staff_page)  # a year's revenue fits its card
