"""The HTTP doors of import/export: ``GET /api/<resource>/export/?format=csv|xlsx|json`` and
``POST /api/<resource>/import/`` (in the request, or over IMPORT_SYNC_MAX_BYTES as a batch job).

The engine itself (every bad input, natural keys, round trips) is tested in tests/dataio/; here:
status codes, headers, error shapes, permissions, filters and what reaches the database.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from core.jobs.models import BatchJob
from customers.models import Customer
from products.models import Category, Product, StockMovement
from sales.models import Sale, SaleItem
from sales.services import sale_cancel
from tests.api import assert_error, assert_ledger_matches_stock, stock_of
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

RESOURCES = ("customers", "categories", "products", "sales")
FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
HEADERS = {
    "customers": ["email", "name", "phone", "city", "country", "segment"],
    "categories": ["name", "description"],
    "products": ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"],
    "sales": ["reference", "sold_at", "customer_email", "sku", "quantity", "unit_price", "status"],
}


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _jobs_in_process(jobs_in_process):
    """Batch jobs run in process (see tests/conftest.py)."""


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded job files and error reports go to a temporary directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


def export_url(resource: str, fmt: str | None = None, **query: str) -> str:
    params = {**({"format": fmt} if fmt else {}), **query}
    return f"/api/{resource}/export/" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()))


def body_of(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def parse_export(data: bytes, fmt: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of an exported file, every cell as text."""
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
        return rows[0], rows[1:]
    if fmt == "xlsx":
        workbook = load_workbook(io.BytesIO(data), read_only=True)
        rows = [
            ["" if cell is None else str(cell) for cell in row]
            for row in workbook.worksheets[0].iter_rows(values_only=True)
        ]
        workbook.close()
        return rows[0], rows[1:]
    records = json.loads(data)
    assert isinstance(records, list)
    header = list(records[0]) if records else []
    return header, [[record[name] for name in header] for record in records]


def csv_file(rows, name: str = "data.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def xlsx_file(rows, name: str = "data.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=CONTENT_TYPES["xlsx"])


def post_import(client, resource: str, upload: SimpleUploadedFile, **fields):
    return client.post(f"/api/{resource}/import/", {"file": upload, **fields}, format="multipart")


def report_of(response) -> dict:
    assert response.status_code == 200, response.json()
    return response.json()["report"]


class Shop:
    """A small shop: two categories, three products, two customers, three sales."""

    def __init__(self) -> None:
        self.tools = make_category(name="Tools")
        self.garden = make_category(name="Garden")
        self.hammer = make_product(
            sku="HAM-1", name="Hammer", category=self.tools, price="12.50", cost="7.25", stock=10
        )
        self.saw = make_product(
            sku="SAW-1", name="Saw", category=self.tools, price="30.00", cost="18.00", stock=4
        )
        self.rake = make_product(
            sku="RAKE-1", name="Rake", category=self.garden, price="20.00", cost="9.00", stock=5
        )
        self.alice = make_customer(name="Alice Martin", email="alice@example.com", city="Lyon")
        self.bob = make_customer(name="Bob Stone", email="bob@example.com", country="DE")
        self.s1 = make_sale(
            items=[(self.hammer, 2), (self.saw, 1)],
            customer=self.alice,
            reference="S-1",
            sold_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        )
        self.s2 = make_sale(
            items=[(self.rake, 1)],
            reference="S-2",
            sold_at=datetime(2025, 3, 5, 9, 30, tzinfo=UTC),
        )
        self.s3 = sale_cancel(
            sale=make_sale(
                items=[(self.hammer, 1)],
                customer=self.bob,
                reference="S-3",
                sold_at=datetime(2025, 3, 1, 15, 0, tzinfo=UTC),
            )
        )


@pytest.fixture
def shop() -> Shop:
    return Shop()


EXPECTED_ROWS = {
    "customers": [
        ["alice@example.com", "Alice Martin", "", "Lyon", "", "consumer"],
        ["bob@example.com", "Bob Stone", "", "", "DE", "consumer"],
    ],
    "categories": [["Garden", ""], ["Tools", ""]],
    "products": [
        ["HAM-1", "Hammer", "Tools", "12.50", "7.25", "8", "true"],
        ["RAKE-1", "Rake", "Garden", "20.00", "9.00", "4", "true"],
        ["SAW-1", "Saw", "Tools", "30.00", "18.00", "3", "true"],
    ],
    "sales": [
        ["S-1", "2025-03-01T10:00:00Z", "alice@example.com", "HAM-1", "2", "12.50", "completed"],
        ["S-1", "2025-03-01T10:00:00Z", "alice@example.com", "SAW-1", "1", "30.00", "completed"],
        ["S-3", "2025-03-01T15:00:00Z", "bob@example.com", "HAM-1", "1", "12.50", "cancelled"],
        ["S-2", "2025-03-05T09:30:00Z", "", "RAKE-1", "1", "20.00", "completed"],
    ],
}


# --- export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("resource", RESOURCES)
def test_export_every_resource_in_every_format(client_for, shop, resource, fmt):
    response = client_for("analyst").get(export_url(resource, fmt))

    assert response.status_code == 200
    assert response.streaming is True
    assert response["Content-Type"] == CONTENT_TYPES[fmt]
    assert re.fullmatch(
        rf'attachment; filename="{resource}-\d{{8}}-\d{{6}}\.{fmt}"',
        response["Content-Disposition"],
    ), response["Content-Disposition"]
    header, rows = parse_export(body_of(response), fmt)
    assert header == HEADERS[resource]
    assert rows == EXPECTED_ROWS[resource]


def test_export_defaults_to_csv(client_for, shop):
    response = client_for("manager").get("/api/categories/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPES["csv"]
    assert parse_export(body_of(response), "csv") == (
        HEADERS["categories"],
        EXPECTED_ROWS["categories"],
    )


def test_export_of_an_empty_table_has_the_header_only(client_for, db):
    for fmt in FORMATS:
        response = client_for("manager").get(export_url("customers", fmt))
        assert response.status_code == 200
        data = body_of(response)
        if fmt == "json":
            assert json.loads(data) == []
        else:
            assert parse_export(data, fmt) == (HEADERS["customers"], [])


def test_export_products_applies_the_category_filter(client_for, shop):
    response = client_for("analyst").get(export_url("products", "csv", category=shop.tools.pk))
    _, rows = parse_export(body_of(response), "csv")
    assert [row[0] for row in rows] == ["HAM-1", "SAW-1"]

    by_search = client_for("analyst").get(export_url("products", "json", search="rake"))
    _, rows = parse_export(body_of(by_search), "json")
    assert [row[0] for row in rows] == ["RAKE-1"]


def test_export_sales_applies_the_date_range_and_status_filters(client_for, shop):
    client = client_for("analyst")

    in_range = client.get(export_url("sales", "csv", date_from="2025-03-01", date_to="2025-03-02"))
    _, rows = parse_export(body_of(in_range), "csv")
    assert sorted({row[0] for row in rows}) == ["S-1", "S-3"]

    completed = client.get(
        export_url("sales", "csv", date_from="2025-03-01", date_to="2025-03-02", status="completed")
    )
    _, rows = parse_export(body_of(completed), "csv")
    assert rows == EXPECTED_ROWS["sales"][:2]  # both lines of S-1, and nothing else

    cancelled = client.get(export_url("sales", "xlsx", status="cancelled"))
    _, rows = parse_export(body_of(cancelled), "xlsx")
    assert rows == [EXPECTED_ROWS["sales"][2]]


def test_export_customers_applies_search(client_for, shop):
    response = client_for("analyst").get(export_url("customers", "csv", search="alice"))
    _, rows = parse_export(body_of(response), "csv")
    assert rows == [EXPECTED_ROWS["customers"][0]]

    by_country = client_for("analyst").get(export_url("customers", "csv", country="DE"))
    _, rows = parse_export(body_of(by_country), "csv")
    assert rows == [EXPECTED_ROWS["customers"][1]]


def test_export_with_an_invalid_filter_value_is_a_400(client_for, shop):
    response = client_for("analyst").get(export_url("sales", "csv", status="lost"))
    error = assert_error(response, 400, "invalid")
    assert "status" in error["fields"]


@pytest.mark.parametrize("resource", RESOURCES)
def test_export_unknown_format_is_a_400_naming_the_formats(client_for, shop, resource):
    response = client_for("manager").get(export_url(resource, "pdf"))
    error = assert_error(response, 400, "invalid")
    assert "'pdf'" in error["message"]
    assert "csv, xlsx, json" in error["message"]
    assert error["fields"] == {"format": ["Use one of csv, xlsx, json."]}


@pytest.mark.parametrize("resource", RESOURCES)
def test_export_needs_authentication_even_where_the_list_is_public(client_for, shop, resource):
    anonymous = client_for(None)
    response = anonymous.get(export_url(resource, "csv"))
    assert_error(response, 401)
    if resource in ("products", "categories"):
        assert anonymous.get(f"/api/{resource}/").status_code == 200  # the list is public


@pytest.mark.parametrize("resource", RESOURCES)
def test_export_needs_the_view_permission(client_for, shop, resource):
    assert_error(client_for("norole").get(export_url(resource, "csv")), 403)
    for role in ("analyst", "sales", "manager", "superuser"):
        assert client_for(role).get(export_url(resource, "csv")).status_code == 200, role


def test_export_includes_cost_only_for_users_who_may_see_it(client_for, shop):
    """The public list hides cost; the export shows it, so it needs the view permission."""
    public = client_for("norole").get("/api/products/")
    assert public.status_code == 200
    assert all("cost" not in row for row in public.json()["results"])
    assert_error(client_for("norole").get(export_url("products", "csv")), 403)

    response = client_for("analyst").get(export_url("products", "csv"))
    header, rows = parse_export(body_of(response), "csv")
    costs = {row[0]: row[header.index("cost")] for row in rows}
    assert costs == {"HAM-1": "7.25", "RAKE-1": "9.00", "SAW-1": "18.00"}


def test_export_escapes_formula_cells(client_for, db):
    make_customer(name='=HYPERLINK("http://x")', email="f@example.com")
    response = client_for("analyst").get(export_url("customers", "csv"))
    _, rows = parse_export(body_of(response), "csv")
    assert rows[0][1] == '\'=HYPERLINK("http://x")'


# --- import: in the request --------------------------------------------------------------------


def test_import_small_csv_reports_counts_and_writes_rows(manager_client, db):
    make_customer(name="Old Name", email="old@example.com")
    make_customer(name="Same", email="same@example.com", city="Nice")
    upload = csv_file(
        [
            ["email", "name", "city", "segment"],
            ["new@example.com", "New Customer", "Paris", "corporate"],
            ["OLD@example.com", "New Name", "", ""],
            ["same@example.com", "Same", "Nice", "consumer"],
        ]
    )

    report = report_of(post_import(manager_client, "customers", upload))

    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 1)
    assert (report["rows"], report["rejected"], report["error_count"]) == (3, 0, 0)
    assert report["errors"] == []
    assert report["table"] == "customers"
    assert report["format"] == "csv"
    assert report["dry_run"] is False and report["aborted"] is False
    new = Customer.objects.get(email="new@example.com")
    assert (new.name, new.city, new.segment) == ("New Customer", "Paris", "corporate")
    assert Customer.objects.get(email__iexact="old@example.com").name == "New Name"
    assert Customer.objects.count() == 3


def test_import_products_xlsx_with_explicit_format(manager_client, db):
    make_category(name="Tools")
    upload = xlsx_file(
        [
            ["sku", "name", "category", "price", "cost", "stock_quantity"],
            ["X-1", "Widget", "tools", "3.50", "1.25", 7],
        ],
        name="upload.bin",
    )

    report = report_of(post_import(manager_client, "products", upload, format="xlsx"))

    assert report["format"] == "xlsx"
    assert report["created"] == 1
    product = Product.objects.get(sku="X-1")
    assert (product.category.name, product.price, product.cost, product.stock_quantity) == (
        "Tools",
        Decimal("3.50"),
        Decimal("1.25"),
        7,
    )
    assert_ledger_matches_stock(product)


def test_import_categories_json(manager_client, db):
    upload = SimpleUploadedFile(
        "cats.json",
        json.dumps([{"name": "Garden", "description": "Outside"}, {"name": "Kitchen"}]).encode(),
        content_type="application/json",
    )
    report = report_of(post_import(manager_client, "categories", upload))
    assert report["created"] == 2
    assert sorted(Category.objects.values_list("name", "description")) == [
        ("Garden", "Outside"),
        ("Kitchen", ""),
    ]


def test_import_with_bad_rows_is_rejected_with_row_and_column_and_writes_nothing(
    manager_client, db
):
    upload = csv_file(
        [
            ["email", "name"],
            ["good@example.com", "Good"],
            ["not-an-email", "Bad"],
            ["other@example.com", ""],
        ]
    )

    response = post_import(manager_client, "customers", upload)

    error = assert_error(response, 400, "import_rejected")
    report = error["report"]
    assert report["aborted"] is True
    assert (report["created"], report["updated"], report["rejected"]) == (0, 0, 2)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "email"), (4, "name")]
    assert "not a valid email" in report["errors"][0]["message"]
    assert "required" in report["errors"][1]["message"]
    assert "Nothing was written" in error["message"]
    assert not Customer.objects.exists()


def test_import_dry_run_writes_nothing(manager_client, db):
    upload = csv_file([["name", "description"], ["Garden", ""], ["Tools", "Hand tools"]])

    report = report_of(post_import(manager_client, "categories", upload, dry_run="true"))

    assert report["dry_run"] is True
    assert report["created"] == 2
    assert not Category.objects.exists()


def test_import_on_error_skip_imports_the_good_rows(manager_client, db):
    upload = csv_file(
        [
            ["sku", "name", "price"],
            ["A-1", "Good", "1.00"],
            ["A-2", "Bad price", "abc"],
            ["A-3", "Negative", "-2"],
            ["A-4", "Also good", "2.50"],
        ]
    )

    report = report_of(post_import(manager_client, "products", upload, on_error="skip"))

    assert (report["created"], report["rejected"], report["aborted"]) == (2, 2, False)
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(3, "price"), (4, "price")]
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["A-1", "A-4"]


def test_import_header_problems_are_invalid_file_with_the_expected_columns(manager_client, db):
    upload = csv_file([["mail", "name", "colour"], ["a@example.com", "A", "red"]])

    response = post_import(manager_client, "customers", upload)

    error = assert_error(response, 400, "invalid_file")
    assert "missing column(s): email" in error["message"]
    assert "unknown column(s): mail, colour" in error["message"]
    assert (
        "Expected columns: email, name (optional: phone, city, country, segment)"
        in error["message"]
    )
    assert error["expected_columns"] == HEADERS["customers"]
    assert error["found_columns"] == ["mail", "name", "colour"]
    assert not Customer.objects.exists()


def test_import_empty_file_and_non_utf8_file_are_invalid_file(manager_client, db):
    empty = SimpleUploadedFile("empty.csv", b"", content_type="text/csv")
    error = assert_error(post_import(manager_client, "categories", empty), 400, "invalid")
    assert error["fields"] == {"file": ["The submitted file is empty."]}

    blank = SimpleUploadedFile("blank.csv", b"\r\n", content_type="text/csv")
    error = assert_error(post_import(manager_client, "categories", blank), 400, "invalid_file")
    assert "empty" in error["message"] and "name, description" in error["message"]

    latin1 = SimpleUploadedFile(
        "latin1.csv", "name\nÉlectroménager\n".encode("latin-1"), content_type="text/csv"
    )
    error = assert_error(post_import(manager_client, "categories", latin1), 400, "invalid_file")
    assert "not UTF-8" in error["message"]
    assert not Category.objects.exists()


def test_import_wrong_format_values_are_400(manager_client, db):
    upload = csv_file([["name"], ["Tools"]])
    error = assert_error(post_import(manager_client, "categories", upload, format="pdf"), 400)
    assert "format" in error["fields"]

    unnamed = SimpleUploadedFile("categories.txt", b"name\nTools\n", content_type="text/plain")
    error = assert_error(post_import(manager_client, "categories", unnamed), 400, "invalid_file")
    assert "csv" in error["message"] and "format" in error["fields"]

    # A CSV announced as XLSX is not a workbook.
    upload = csv_file([["name"], ["Tools"]])
    error = assert_error(
        post_import(manager_client, "categories", upload, format="xlsx"), 400, "invalid_file"
    )
    assert "XLSX" in error["message"]
    assert not Category.objects.exists()


def test_import_bad_options_are_400(manager_client, db):
    upload = csv_file([["name"], ["Tools"]])
    error = assert_error(post_import(manager_client, "categories", upload, on_error="ignore"), 400)
    assert "on_error" in error["fields"]

    error = assert_error(
        manager_client.post("/api/categories/import/", {}, format="multipart"), 400
    )
    assert "file" in error["fields"]
    assert not Category.objects.exists()


@pytest.mark.parametrize("resource", ["customers", "categories", "products"])
def test_apply_stock_is_for_sales_only(manager_client, db, resource):
    upload = csv_file([HEADERS[resource][:2], ["x", "y"]])
    error = assert_error(post_import(manager_client, resource, upload, apply_stock="true"), 400)
    assert error["fields"] == {"apply_stock": ["Only for sales."]}


SALES_FILE = [
    ["reference", "sold_at", "customer_email", "sku", "quantity", "unit_price"],
    ["IMP-1", "2025-04-01T10:00:00Z", "alice@example.com", "HAM-1", "3", "12.00"],
    ["IMP-1", "2025-04-01T10:00:00Z", "alice@example.com", "RAKE-1", "1", "19.00"],
    ["IMP-2", "2025-04-02T11:00:00Z", "", "SAW-1", "2", "30.00"],
]


def test_sales_import_without_apply_stock_records_history_only(manager_client, shop):
    movements = StockMovement.objects.count()

    report = report_of(post_import(manager_client, "sales", csv_file(SALES_FILE)))

    assert (report["counted"], report["created"], report["rows"]) == ("sales", 2, 3)
    sale = Sale.objects.get(reference="IMP-1")
    assert sale.customer == shop.alice
    assert sale.total == Decimal("55.00")
    assert sorted(sale.items.values_list("product__sku", "quantity", "unit_price")) == [
        ("HAM-1", 3, Decimal("12.00")),
        ("RAKE-1", 1, Decimal("19.00")),
    ]
    assert (stock_of(shop.hammer), stock_of(shop.rake), stock_of(shop.saw)) == (8, 4, 3)
    assert StockMovement.objects.count() == movements


def test_sales_import_with_apply_stock_takes_stock_through_the_ledger(manager_client, shop):
    report = report_of(
        post_import(manager_client, "sales", csv_file(SALES_FILE), apply_stock="true")
    )

    assert report["created"] == 2
    assert (stock_of(shop.hammer), stock_of(shop.rake), stock_of(shop.saw)) == (5, 3, 1)
    sales = Sale.objects.filter(reference__in=["IMP-1", "IMP-2"])
    moved = sorted(
        StockMovement.objects.filter(reason="sale", product__in=[shop.hammer, shop.rake, shop.saw])
        .exclude(reference__in=["S-1", "S-2", "S-3"])
        .values_list("product__sku", "delta", "actor")
    )
    assert moved == [
        ("HAM-1", -3, manager_client.user.pk),
        ("RAKE-1", -1, manager_client.user.pk),
        ("SAW-1", -2, manager_client.user.pk),
    ]
    assert sorted(s.created_by_id for s in sales) == [manager_client.user.pk] * 2
    assert_ledger_matches_stock(shop.hammer, shop.rake, shop.saw)


def test_sales_import_with_apply_stock_refuses_an_oversell_and_writes_nothing(manager_client, shop):
    rows = [*SALES_FILE[:3], ["IMP-2", "2025-04-02T11:00:00Z", "", "SAW-1", "50", "30.00"]]
    sales_before, movements_before = Sale.objects.count(), StockMovement.objects.count()

    response = post_import(manager_client, "sales", csv_file(rows), apply_stock="true")

    error = assert_error(response, 400, "import_rejected")
    report = error["report"]
    assert report["aborted"] is True
    assert {(e["row"], e["column"]) for e in report["errors"]} == {(4, "reference")}
    assert "IMP-2" in report["errors"][0]["message"]
    assert "stock" in report["errors"][0]["message"].lower()
    assert (Sale.objects.count(), StockMovement.objects.count()) == (
        sales_before,
        movements_before,
    )
    assert (stock_of(shop.hammer), stock_of(shop.rake), stock_of(shop.saw)) == (8, 4, 3)


def test_sales_import_with_apply_stock_and_skip_keeps_the_sales_that_fit(manager_client, shop):
    rows = [*SALES_FILE[:3], ["IMP-2", "2025-04-02T11:00:00Z", "", "SAW-1", "50", "30.00"]]

    response = post_import(
        manager_client, "sales", csv_file(rows), apply_stock="true", on_error="skip"
    )

    report = report_of(response)
    assert (report["created"], report["rejected"]) == (1, 1)
    assert Sale.objects.filter(reference="IMP-1").exists()
    assert not Sale.objects.filter(reference="IMP-2").exists()
    assert (stock_of(shop.hammer), stock_of(shop.rake), stock_of(shop.saw)) == (5, 3, 3)
    assert_ledger_matches_stock(shop.hammer, shop.rake, shop.saw)


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("norole", 403), ("analyst", 403), ("sales", 403), ("manager", 200)],
)
@pytest.mark.parametrize("resource", ["customers", "sales"])
def test_import_needs_add_and_change(client_for, shop, role, status, resource):
    """The sales role may add sales and customers, but an import also changes them: 403."""
    rows = (
        [["email", "name"], ["new@example.com", "New"]] if resource == "customers" else SALES_FILE
    )
    counts = (Customer.objects.count(), Sale.objects.count())

    response = post_import(client_for(role), resource, csv_file(rows))

    if status == 200:
        assert response.status_code == 200, response.json()
        assert (Customer.objects.count(), Sale.objects.count()) != counts
    else:
        assert_error(response, status)
        assert (Customer.objects.count(), Sale.objects.count()) == counts


def test_superuser_may_import(client_for, db):
    report = report_of(
        post_import(client_for("superuser"), "categories", csv_file([["name"], ["A"]]))
    )
    assert report["created"] == 1


def test_import_over_import_max_bytes_is_413(manager_client, settings, db):
    settings.IMPORT_MAX_BYTES = 50
    upload = csv_file([["name", "description"], *[[f"Category {i}", "x" * 10] for i in range(5)]])
    assert upload.size > 50

    error = assert_error(post_import(manager_client, "categories", upload), 413, "file_too_large")
    assert f"{upload.size:,} bytes" in error["message"]
    assert error["fields"] == {"file": ["Too large."]}
    assert not Category.objects.exists()
    assert not BatchJob.objects.exists()


# --- import: as a batch job --------------------------------------------------------------------


def test_import_over_the_sync_limit_runs_as_a_job(manager_client, settings, db):
    settings.IMPORT_SYNC_MAX_BYTES = 10
    upload = csv_file([["name", "description"], ["Garden", "Outside"], ["Tools", ""]])

    response = post_import(manager_client, "categories", upload)

    assert response.status_code == 202, response.json()
    job = BatchJob.objects.get()
    url = f"http://testserver/api/jobs/{job.pk}/"
    assert response["Location"] == url
    body = response.json()["job"]
    assert body["url"] == url
    assert body["id"] == job.pk
    assert body["kind"] == "import"
    assert body["params"] == {
        "table": "categories",
        "format": "csv",
        "file_name": "data.csv",
        "dry_run": False,
        "on_error": "abort",
        "apply_stock": False,
    }
    assert body["created_by"] == manager_client.user.username

    polled = manager_client.get(url)
    assert polled.status_code == 200
    job_body = polled.json()
    assert job_body["status"] == "succeeded"
    assert job_body["counts"]["created"] == 2
    assert job_body["counts"]["rows"] == 2
    assert job_body["error_count"] == 0
    assert job_body["error_report"] == []
    assert job_body["errors_url"] is None
    assert job_body["progress"]["done"] == job_body["progress"]["total"] == upload.size
    assert job_body["progress"]["unit"] == "bytes"
    assert job_body["progress"]["percent"] == 100.0
    assert job_body["finished_at"]
    assert sorted(Category.objects.values_list("name", flat=True)) == ["Garden", "Tools"]


def test_a_job_keeps_the_import_options(manager_client, settings, db):
    settings.IMPORT_SYNC_MAX_BYTES = 10
    upload = csv_file([["name"], ["Garden"]])

    response = post_import(manager_client, "categories", upload, dry_run="true")

    assert response.status_code == 202
    job = BatchJob.objects.get()
    assert job.params["dry_run"] is True
    assert job.status == "succeeded"
    assert job.counts["created"] == 1 and job.counts["dry_run"] is True
    assert not Category.objects.exists()


def test_a_job_with_bad_rows_fails_with_an_error_report_and_a_csv(manager_client, settings, db):
    settings.IMPORT_SYNC_MAX_BYTES = 10
    upload = csv_file(
        [
            ["email", "name", "phone", "city", "country", "segment"],
            ["good@example.com", "Good", "", "", "", ""],
            ["bad-email", "Bad", "", "", "FR", ""],
            ["other@example.com", "Other", "", "", "XX", ""],
        ]
    )

    response = post_import(manager_client, "customers", upload)

    assert response.status_code == 202
    job = manager_client.get(response["Location"]).json()
    assert job["status"] == "failed"
    assert job["error_count"] == 2
    assert [(e["row"], e["column"]) for e in job["error_report"]] == [
        (3, "email"),
        (4, "country"),
    ]
    assert job["counts"]["aborted"] is True
    assert "Nothing was written" in job["message"]
    assert job["errors_url"] == f"{response['Location']}errors/"
    assert not Customer.objects.exists()

    errors = manager_client.get(job["errors_url"])
    assert errors.status_code == 200
    assert errors["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="job-{job["id"]}-errors.csv"' in errors["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode())))
    assert rows[0] == [*HEADERS["customers"], "_error_row", "_error_column", "_error"]
    assert [row[:2] + row[6:8] for row in rows[1:]] == [
        ["bad-email", "Bad", "3", "email"],
        ["other@example.com", "Other", "4", "country"],
    ]


def test_the_errors_csv_keeps_the_files_own_columns(manager_client, settings, db):
    """Rejected rows come back as the file has them (its columns, in its order), so they can be
    fixed and imported again; a row error and a whole-file check (duplicate key) alike."""
    settings.IMPORT_SYNC_MAX_BYTES = 10
    upload = csv_file(
        [
            ["name", "email"],
            ["Bad", "bad-email"],
            ["Dup", "d@example.com"],
            ["Dup again", "D@example.com"],
        ]
    )

    response = post_import(manager_client, "customers", upload)

    job = manager_client.get(response["Location"]).json()
    assert job["status"] == "failed"
    errors = manager_client.get(job["errors_url"])
    rows = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode())))
    assert rows[0] == ["name", "email", "_error_row", "_error_column", "_error"]
    assert [row[:4] for row in rows[1:]] == [
        ["Bad", "bad-email", "2", "email"],
        ["Dup again", "D@example.com", "4", "email"],
    ]
    assert "duplicate" in rows[2][4]


def test_a_job_with_an_unreadable_file_fails_with_its_message(manager_client, settings, db):
    settings.IMPORT_SYNC_MAX_BYTES = 10
    upload = csv_file([["mail", "name"], ["a@example.com", "A"]])

    response = post_import(manager_client, "customers", upload)

    assert response.status_code == 202
    job = manager_client.get(response["Location"]).json()
    assert job["status"] == "failed"
    assert "Expected columns: email, name" in job["message"]
    assert job["errors_url"] is None
    assert manager_client.get(f"{response['Location']}errors/").status_code == 404


def test_a_sales_job_with_apply_stock_takes_stock(manager_client, settings, shop):
    settings.IMPORT_SYNC_MAX_BYTES = 10

    response = post_import(manager_client, "sales", csv_file(SALES_FILE), apply_stock="true")

    assert response.status_code == 202
    job = manager_client.get(response["Location"]).json()
    assert job["status"] == "succeeded", job["message"]
    assert job["counts"]["created"] == 2
    assert (stock_of(shop.hammer), stock_of(shop.rake), stock_of(shop.saw)) == (5, 3, 1)
    assert SaleItem.objects.filter(sale__reference__in=["IMP-1", "IMP-2"]).count() == 3


def test_an_over_limit_file_never_becomes_a_job(manager_client, settings, db):
    settings.IMPORT_SYNC_MAX_BYTES = 10
    settings.IMPORT_MAX_BYTES = 20
    response = post_import(manager_client, "categories", csv_file([["name"], ["A" * 40]]))
    assert_error(response, 413, "file_too_large")
    assert not BatchJob.objects.exists()


def test_refused_imports_never_become_jobs(client_for, settings, db):
    settings.IMPORT_SYNC_MAX_BYTES = 10
    response = post_import(client_for("analyst"), "categories", csv_file([["name"], ["A"]]))
    assert_error(response, 403)
    assert not BatchJob.objects.exists()


# --- embedded smoke test -----------------------------------------------------------------------


@pytest.mark.embedded
def test_api_round_trip_export_import_export(client_for, shop):
    """Export every table, empty the database, import the files back, export again: the same
    files."""
    client = client_for("superuser")
    exported = {}
    for resource in ("categories", "customers", "products", "sales"):
        response = client.get(export_url(resource, "csv"))
        assert response.status_code == 200
        exported[resource] = body_of(response)

    SaleItem.objects.all().delete()
    Sale.objects.all().delete()
    StockMovement.objects.all().delete()
    Product.objects.all().delete()
    Category.objects.all().delete()
    Customer.objects.all().delete()

    for resource in ("categories", "customers", "products", "sales"):
        upload = SimpleUploadedFile(f"{resource}.csv", exported[resource], "text/csv")
        report = report_of(post_import(client, resource, upload))
        assert report["created"] == len(EXPECTED_ROWS[resource]) - (resource == "sales"), resource

    for resource in ("categories", "customers", "products", "sales"):
        response = client.get(export_url(resource, "csv"))
        assert body_of(response) == exported[resource], resource
    assert Sale.objects.get(reference="S-3").status == "cancelled"
