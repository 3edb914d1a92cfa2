"""A real browser (Debian's Chromium, driven by Playwright) against a live server: log into the
admin, record a sale in the admin, import a CSV through the admin's import page (preview, then
confirm), open the analytics dashboard. A screenshot of each step goes to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from products.models import Product, StockMovement
from sales.models import Sale
from tests.factories import make_category, make_customer, make_product, make_user

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

# serialized_rollback: the flush after each test would delete the role groups the migrations
# created, which later tests (and files) rely on.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install chromium); "
            ".ci/run does it."
        )
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread: the test's own ORM calls are
    # still synchronous (the documented switch for Django with Playwright).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server, fast_password_hasher):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    make_user(username="boss", is_superuser=True, is_staff=True)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-Secret-123")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield page
    context.close()


def autocomplete(page, field_id: str, text: str) -> None:
    """Choose in one of the admin's autocomplete (select2) fields, as a person does."""
    page.click(f"#{field_id} + .select2 .select2-selection")
    page.fill(".select2-container--open .select2-search__field", text)
    page.click(f".select2-results__option:has-text('{text}')")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_log_in_and_record_a_sale_in_the_admin(page):
    product = make_product(sku="BROWSER-1", name="Browser rake", price="12.50", stock=10)
    customer = make_customer(name="Ann Browser", email="ann.browser@example.com")
    assert page.locator("#site-name").is_visible()
    shot(page, "1-admin-index")

    page.goto("/admin/sales/sale/add/")
    autocomplete(page, "id_customer", "Ann Browser")
    autocomplete(page, "id_items-0-product", "BROWSER-1")
    page.fill("#id_items-0-quantity", "3")
    shot(page, "2-sale-form")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/sales/sale/")
    shot(page, "3-sale-saved")

    sale = Sale.objects.get(customer=customer)
    assert sale.total == 3 * product.price
    assert Product.objects.get(pk=product.pk).stock_quantity == 7
    assert StockMovement.objects.filter(product=product, reason="sale", delta=-3).exists()


def test_import_a_csv_through_the_admin_preview_then_confirm(page, tmp_path):
    make_category(name="Garden")
    data = tmp_path / "products.csv"
    data.write_text(
        "sku,name,category,price\nBR-1,Browser spade,Garden,9.90\nBR-2,Browser hoe,,4.50\n"
    )

    page.goto("/admin/products/product/import/")
    page.set_input_files("#id_import_file", str(data))
    page.select_option("#id_format", label="csv")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Preview")
    assert page.locator("tr.new").count() == 2
    assert not Product.objects.filter(sku__startswith="BR-").exists()  # nothing until confirmed
    shot(page, "4-import-preview")

    page.click("input[name=confirm]")
    page.wait_for_url("**/admin/products/product/")
    shot(page, "5-import-done")
    assert set(Product.objects.filter(sku__startswith="BR-").values_list("sku", flat=True)) == {
        "BR-1",
        "BR-2",
    }
    assert page.locator("text=BR-1").first.is_visible()


def test_open_the_dashboard(page):
    product = make_product(sku="DASH-1", price="20.00", cost="8.00", stock=50)
    from tests.factories import make_sale

    make_sale(items=[(product, 2)], customer=make_customer())
    page.goto("/admin/")
    page.click("a[href='/dashboard/']")
    page.wait_for_url("**/dashboard/**")
    assert page.locator("svg").count() >= 1
    assert "40.00" in page.content()  # the revenue of the one sale
    shot(page, "6-dashboard")
