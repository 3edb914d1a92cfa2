"""Import and export in the Django admin (django-import-export screens on the dataio engine):
the buttons and who sees them, upload → preview (per-row errors) → confirm, one log entry per
import, file-level errors, the admin's size limit, and exports that keep the changelist's
filters."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from customers.models import Customer
from products.models import Category, Product, StockMovement
from sales.models import Sale
from sales.services import sale_cancel
from tests.dataio import xlsx_values
from tests.factories import make_category, make_customer, make_product, make_sale, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

CSV, XLSX, JSON = "0", "1", "2"  # the admin's format choices


# --- helpers ---------------------------------------------------------------------------------


def staff(client, role=None, **extra):
    if role == "superuser":
        user = make_user(is_superuser=True, is_staff=True)
    else:
        user = make_user(role=role, is_staff=True, **extra)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def su_client(client):
    return staff(client, "superuser")


def page(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def csv_bytes(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def upload(data: bytes, name: str = "data.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@dataclass(frozen=True)
class AdminSpec:
    path: str  # /admin/<app>/<model>/
    model: type
    resource: str  # the export form's boolean fields' prefix


ADMINS = {
    "customers": AdminSpec("/admin/customers/customer/", Customer, "customerresource"),
    "categories": AdminSpec("/admin/products/category/", Category, "categoryresource"),
    "products": AdminSpec("/admin/products/product/", Product, "productresource"),
    "sales": AdminSpec("/admin/sales/sale/", Sale, "saleresource"),
}
HEADERS = {
    "customers": ["email", "name", "phone", "city", "country", "segment"],
    "categories": ["name", "description"],
    "products": ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"],
    "sales": ["reference", "sold_at", "customer_email", "sku", "quantity", "unit_price", "status"],
}


class Shop:
    def __init__(self) -> None:
        self.tools = make_category(name="Tools")
        self.garden = make_category(name="Garden")
        self.hammer = make_product(
            sku="HAM-1", name="Hammer", category=self.tools, price="12.50", cost="7.25", stock=10
        )
        self.rake = make_product(
            sku="RAKE-1", name="Rake", category=self.garden, price="20.00", cost="9.00", stock=5
        )
        self.alice = make_customer(
            name="Alice", email="alice@example.com", segment=Customer.Segment.CORPORATE
        )
        self.bob = make_customer(name="Bob", email="bob@example.com")
        self.s1 = make_sale(
            items=[(self.hammer, 2)],
            customer=self.alice,
            reference="S-1",
            sold_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        )
        self.s2 = sale_cancel(
            sale=make_sale(
                items=[(self.rake, 1)],
                customer=self.bob,
                reference="S-2",
                sold_at=datetime(2025, 3, 2, 10, 0, tzinfo=UTC),
            )
        )


@pytest.fixture
def shop() -> Shop:
    return Shop()


def valid_file(resource: str) -> list[list[str]]:
    """A file with a new row, an updated row and an unchanged row (by the shop's data)."""
    return {
        "customers": [
            ["email", "name", "segment"],
            ["carol@example.com", "Carol", "consumer"],
            ["alice@example.com", "Alice Renamed", "corporate"],
            ["bob@example.com", "Bob", "consumer"],
        ],
        "categories": [
            ["name", "description"],
            ["Kitchen", "Pots"],
            ["Tools", "Hand tools"],
            ["Garden", ""],
        ],
        "products": [
            ["sku", "name", "category", "price", "cost"],
            ["SAW-1", "Saw", "Tools", "30.00", "18.00"],
            ["HAM-1", "Hammer", "Tools", "13.00", "7.25"],
            ["RAKE-1", "Rake", "Garden", "20.00", "9.00"],
        ],
        "sales": [
            HEADERS["sales"],
            ["S-9", "2025-04-01T10:00:00Z", "bob@example.com", "RAKE-1", "1", "20.00", ""],
            ["S-1", "2025-03-01T10:00:00Z", "alice@example.com", "HAM-1", "3", "12.50", ""],
            ["S-2", "2025-03-02T10:00:00Z", "bob@example.com", "RAKE-1", "1", "20.00", ""],
        ],
    }[resource]


def snapshot(resource: str):
    """What an import of ``resource`` could change."""
    if resource == "customers":
        return sorted(Customer.objects.values_list("email", "name", "segment"))
    if resource == "categories":
        return sorted(Category.objects.values_list("name", "description"))
    if resource == "products":
        return sorted(Product.objects.values_list("sku", "name", "price", "stock_quantity"))
    sales = Sale.objects.values_list("reference", "status", "total", "items__quantity")
    return [*sorted(sales), StockMovement.objects.count()]


def import_post(client, resource: str, data: bytes, name: str = "data.csv", fmt: str = CSV):
    return client.post(
        f"{ADMINS[resource].path}import/",
        {"import_file": upload(data, name), "format": fmt, "resource": "0"},
    )


def confirm_fields(response) -> dict[str, str]:
    """The hidden fields of the preview page's confirm form."""
    assert_no_file_errors(response)
    text = page(response)
    form = re.search(
        r'<form action="([^"]*process_import/)" method="POST">(.*?)</form>', text, re.S
    )
    assert form, "no confirm form on the page"
    fields = dict(
        (name, html.unescape(value))
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)
        )
    )
    fields.pop("csrfmiddlewaretoken", None)
    assert set(fields) == {
        "import_file_name",
        "original_file_name",
        "format",
        "resource",
        "on_error",
        "apply_stock",
    }
    return {"action": form.group(1), **fields}


def assert_no_file_errors(response) -> None:
    result = response.context["result"]
    assert result is not None, "no import result"
    assert not result.base_errors, [str(error.error) for error in result.base_errors]


def preview_rows(response) -> list[tuple[str, list[str]]]:
    """(import type, cells) of the preview table's rows."""
    text = page(response)
    table = text[text.index("<h2>Preview</h2>") :]
    rows = []
    for kind, body in re.findall(r'<tr class="(new|update|skip|delete)">(.*?)</tr>', table, re.S):
        cells = [html.unescape(c.strip()) for c in re.findall(r"<td>(.*?)</td>", body, re.S)]
        rows.append((kind, cells))
    return rows


def export_post(client, resource: str, query: str = "", fmt: str = CSV):
    """Open the export page as the changelist's Export button does (with the filters in the
    query string), then submit its form: the browser posts to the same URL."""
    url = f"{ADMINS[resource].path}export/" + (f"?{query}" if query else "")
    form_page = client.get(url)
    assert form_page.status_code == 200
    action = re.search(r'<form action="([^"]*)" method="POST">', page(form_page)).group(1)
    target = html.unescape(action) or url
    fields = {f"{ADMINS[resource].resource}_{name}": "on" for name in HEADERS[resource]}
    return client.post(target, {"format": fmt, "resource": "0", **fields})


def file_of(response) -> bytes:
    """An export's bytes (streamed)."""
    return b"".join(response.streaming_content)


def exported_rows(response, fmt: str = CSV) -> tuple[list[str], list[list[str]]]:
    assert response.status_code == 200, page(response)[:2000]
    assert response["Content-Disposition"].startswith("attachment;")
    content = file_of(response)
    if fmt == CSV:
        rows = list(csv.reader(io.StringIO(content.decode())))
        return rows[0], rows[1:]
    if fmt == XLSX:
        sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
        rows = [
            ["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)
        ]
        return rows[0], rows[1:]
    records = json.loads(content)
    return list(records[0]), [list(record.values()) for record in records]


# --- buttons and permissions -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["superuser", "manager"])
@pytest.mark.parametrize("resource", list(ADMINS))
def test_changelist_shows_import_and_export(client, role, resource):
    client = staff(client, role)
    response = client.get(ADMINS[resource].path)
    assert response.status_code == 200
    text = page(response)
    assert f"href='{ADMINS[resource].path}import/' class=\"import_link\">Import</a>" in text
    assert f'href="{ADMINS[resource].path}export/?" class="export_link">Export</a>' in text


@pytest.mark.parametrize("resource", list(ADMINS))
def test_import_page_lists_the_columns(su_client, resource):
    response = su_client.get(f"{ADMINS[resource].path}import/")
    assert response.status_code == 200
    assert f"<code>{', '.join(HEADERS[resource])}</code>" in page(response)
    for index, fmt in enumerate(["csv", "xlsx", "json"]):
        assert f'<option value="{index}">{fmt}</option>' in page(response)


@pytest.mark.parametrize("resource", list(ADMINS))
def test_view_only_staff_sees_no_import_button_and_is_refused(client, shop, resource):
    client = staff(client, "analyst")
    spec = ADMINS[resource]
    before = snapshot(resource)

    changelist = client.get(spec.path)
    assert changelist.status_code == 200
    assert "import_link" not in page(changelist)
    assert "export_link" in page(changelist)
    assert client.get(f"{spec.path}import/").status_code == 403
    assert import_post(client, resource, csv_bytes(valid_file(resource))).status_code == 403
    refused = client.post(
        f"{spec.path}process_import/",
        {"import_file_name": "x", "original_file_name": "x.csv", "format": CSV, "resource": "0"},
    )
    assert refused.status_code == 403
    assert snapshot(resource) == before
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("resource", ["customers", "sales"])
def test_sales_role_may_add_but_not_import(client, resource):
    """The sales role adds sales and customers, but an import also changes them."""
    client = staff(client, "sales")
    changelist = client.get(ADMINS[resource].path)
    assert changelist.status_code == 200
    assert "import_link" not in page(changelist)
    assert client.get(f"{ADMINS[resource].path}import/").status_code == 403


def test_staff_without_view_permission_cannot_export(client, shop):
    client = staff(client, None)
    assert client.get(f"{ADMINS['customers'].path}export/").status_code == 403


# --- import: preview, confirm --------------------------------------------------------------------


PREVIEW = {
    "customers": [
        ("new", ["carol@example.com", "Carol", "", "", "", "consumer"]),
        ("update", ["alice@example.com", "Alice Renamed", "", "", "", "corporate"]),
        ("skip", ["bob@example.com", "Bob", "", "", "", "consumer"]),
    ],
    "categories": [
        ("new", ["Kitchen", "Pots"]),
        ("update", ["Tools", "Hand tools"]),
        ("skip", ["Garden", ""]),
    ],
    "products": [
        # Columns left out of the file (stock_quantity, is_active) keep the stored values.
        ("new", ["SAW-1", "Saw", "Tools", "30.00", "18.00", "", ""]),
        ("update", ["HAM-1", "Hammer", "Tools", "13.00", "7.25", "", ""]),
        ("skip", ["RAKE-1", "Rake", "Garden", "20.00", "9.00", "", ""]),
    ],
    "sales": [
        ("new", ["S-9", "2025-04-01T10:00:00Z", "bob@example.com", "RAKE-1", "1", "20.00", ""]),
        ("update", ["S-1", "2025-03-01T10:00:00Z", "alice@example.com", "HAM-1", "3", "12.50", ""]),
        ("skip", ["S-2", "2025-03-02T10:00:00Z", "bob@example.com", "RAKE-1", "1", "20.00", ""]),
    ],
}


@pytest.mark.parametrize("resource", ADMINS)
def test_preview_classifies_rows_and_changes_nothing(su_client, shop, resource):
    before = snapshot(resource)

    response = import_post(su_client, resource, csv_bytes(valid_file(resource)))

    assert response.status_code == 200
    assert_no_file_errors(response)
    text = page(response)
    assert "<h2>Preview</h2>" in text
    assert "Some rows failed to validate" not in text
    assert preview_rows(response) == PREVIEW[resource]
    totals = response.context["result"].totals
    assert (totals["new"], totals["update"], totals["skip"]) == (1, 1, 1)
    fields = confirm_fields(response)
    assert fields["original_file_name"] == "data.csv"
    assert fields["format"] == CSV
    assert snapshot(resource) == before
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("resource", ADMINS)
def test_confirm_writes_the_rows_with_one_log_entry(su_client, shop, resource):
    preview = import_post(su_client, resource, csv_bytes(valid_file(resource)))
    fields = confirm_fields(preview)
    action = fields.pop("action")
    assert action == f"{ADMINS[resource].path}process_import/"

    response = su_client.post(action, fields)

    assert response.status_code == 302
    assert response["Location"] == ADMINS[resource].path
    name = ADMINS[resource].model._meta.verbose_name_plural
    assert messages_of(response) == [
        f"Import finished: 1 new, 1 updated, 0 deleted and 1 skipped {name}."
    ]
    entry = LogEntry.objects.get()  # exactly one, whatever the number of rows
    assert entry.user_id == su_client.user.pk
    assert entry.content_type.model_class() is ADMINS[resource].model
    assert entry.object_repr == "Import of 3 rows"
    assert "created 1" in entry.change_message and "updated 1" in entry.change_message

    if resource == "customers":
        assert Customer.objects.get(email="carol@example.com").name == "Carol"
        assert Customer.objects.get(email="alice@example.com").name == "Alice Renamed"
        assert Customer.objects.count() == 3
    elif resource == "categories":
        assert Category.objects.get(name="Kitchen").description == "Pots"
        assert Category.objects.get(name="Tools").description == "Hand tools"
    elif resource == "products":
        saw = Product.objects.get(sku="SAW-1")
        assert (saw.category, saw.price, saw.stock_quantity) == (shop.tools, Decimal("30.00"), 0)
        assert Product.objects.get(sku="HAM-1").price == Decimal("13.00")
    else:
        assert Sale.objects.get(reference="S-9").customer == shop.bob
        assert list(Sale.objects.get(reference="S-1").items.values_list("quantity")) == [(3,)]
        # The admin records history: no stock moves.
        assert Product.objects.get(pk=shop.hammer.pk).stock_quantity == 8
        assert Product.objects.get(pk=shop.rake.pk).stock_quantity == 5


def test_a_big_import_still_logs_once(su_client, db):
    rows = [["name", "description"], *[[f"Category {i:04d}", ""] for i in range(600)]]
    preview = import_post(su_client, "categories", csv_bytes(rows))
    assert len(preview_rows(preview)) == 500  # the preview shows the first 500 rows
    assert preview.context["result"].totals["new"] == 600
    fields = confirm_fields(preview)

    response = su_client.post(fields.pop("action"), fields)

    assert response.status_code == 302
    assert Category.objects.count() == 600
    assert LogEntry.objects.count() == 1


def test_manager_imports_xlsx(client, shop):
    client = staff(client, "manager")
    workbook = Workbook()
    workbook.active.append(["name", "description"])
    workbook.active.append(["Kitchen", "Pots"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    preview = import_post(client, "categories", buffer.getvalue(), "cats.xlsx", XLSX)
    assert preview_rows(preview) == [("new", ["Kitchen", "Pots"])]
    fields = confirm_fields(preview)
    assert fields["format"] == XLSX
    response = client.post(fields.pop("action"), fields)

    assert response.status_code == 302
    assert Category.objects.get(name="Kitchen").description == "Pots"
    assert LogEntry.objects.get().user_id == client.user.pk


def test_json_import(su_client, db):
    data = json.dumps([{"email": "j@example.com", "name": "Jay"}]).encode()
    preview = import_post(su_client, "customers", data, "c.json", JSON)
    fields = confirm_fields(preview)
    assert su_client.post(fields.pop("action"), fields).status_code == 302
    assert Customer.objects.get().email == "j@example.com"


def test_data_changed_between_preview_and_confirm_writes_nothing(su_client, shop):
    """The file was fine at preview time; at confirmation its category is gone: an error
    message, nothing written, no log entry."""
    rows = [["sku", "name", "category", "price"], ["NEW-1", "New", "Kitchen", "1.00"]]
    make_category(name="Kitchen")
    preview = import_post(su_client, "products", csv_bytes(rows))
    fields = confirm_fields(preview)
    Category.objects.filter(name="Kitchen").delete()

    response = su_client.post(fields.pop("action"), fields)

    assert response.status_code == 302
    assert response["Location"] == ADMINS["products"].path
    (message,) = messages_of(response)
    assert message.startswith("The import was not done:")
    assert "Nothing was written" in message
    assert not Product.objects.filter(sku="NEW-1").exists()
    assert not LogEntry.objects.exists()


# --- import: errors ------------------------------------------------------------------------------


def test_bad_rows_show_row_column_and_message_and_change_nothing(su_client, shop):
    rows = [
        ["sku", "name", "category", "price"],
        ["OK-1", "Fine", "Tools", "1.00"],
        ["BAD-1", "Bad price", "Tools", "abc"],
        ["BAD-2", "Unknown category", "Nowhere", "2.00"],
        ["HAM-1", "Negative", "Tools", "-1"],
    ]
    before = snapshot("products")

    response = import_post(su_client, "products", csv_bytes(rows))

    assert response.status_code == 200
    text = page(response)
    assert "Some rows failed to validate" in text
    assert "<h2>Preview</h2>" not in text
    assert "process_import" not in text  # no confirm form
    invalid = response.context["result"].invalid_rows
    assert [row.number for row in invalid] == [3, 4, 5]
    errors = {row.number: dict(row.field_specific_errors) for row in invalid}
    assert list(errors[3]) == ["price"]
    assert "'abc' is not a number" in errors[3]["price"][0]
    assert list(errors[4]) == ["category"]
    assert "Nowhere" in errors[4]["category"][0]
    assert "negative" in errors[5]["price"][0]
    for number in (3, 4, 5):
        assert f"<td>{number} </td>" in text
    assert html.escape("price 'abc' is not a number", quote=True) in text
    assert snapshot("products") == before
    assert not LogEntry.objects.exists()


def test_bad_sale_lines_are_reported_per_row(su_client, shop):
    rows = [
        HEADERS["sales"],
        ["S-10", "2025-04-01T10:00:00Z", "nobody@example.com", "HAM-1", "1", "12.50", ""],
        ["S-11", "yesterday", "", "HAM-1", "0", "12.50", ""],
    ]
    before = snapshot("sales")

    response = import_post(su_client, "sales", csv_bytes(rows))

    text = page(response)
    assert "Some rows failed to validate" in text
    errors = {
        row.number: dict(row.field_specific_errors)
        for row in response.context["result"].invalid_rows
    }
    assert set(errors) == {2, 3}
    assert "nobody@example.com" in errors[2]["customer_email"][0]
    assert set(errors[3]) == {"sold_at", "quantity"}
    assert snapshot("sales") == before


def test_header_error_is_shown_as_the_files_error(su_client, db):
    response = import_post(su_client, "customers", csv_bytes([["mail", "name"], ["a@b.c", "A"]]))

    assert response.status_code == 200
    result = response.context["result"]
    (error,) = result.base_errors
    message = str(error.error)
    assert "missing column(s): email" in message
    assert "Expected columns: email, name (optional: phone, city, country, segment)" in message
    text = page(response)
    assert "<h2>Errors</h2>" in text
    assert html.escape(message, quote=True) in text
    assert "Traceback" not in text
    assert "<h2>Preview</h2>" not in text and "process_import" not in text
    assert not Customer.objects.exists()


def test_non_utf8_file_is_a_clear_error(su_client, db):
    data = "name,description\nÉlectroménager,café\n".encode("cp1252")

    response = import_post(su_client, "categories", data)

    assert response.status_code == 200
    (message,) = response.context["form"].errors["import_file"]
    assert "not UTF-8" in message
    assert "CSV UTF-8" in message
    assert "Traceback" not in page(response)
    assert not Category.objects.exists()


def test_utf8_with_bom_and_semicolons_is_accepted(su_client, db):
    data = "\ufeffname;description\nÉlectroménager;café\n".encode()
    preview = import_post(su_client, "categories", data)
    assert preview_rows(preview) == [("new", ["Électroménager", "café"])]


def test_empty_file_is_a_clear_error(su_client, db):
    response = import_post(su_client, "categories", b"\n")
    errors = response.context["form"].errors["import_file"]
    assert any("empty" in error.lower() for error in errors), errors


def test_file_over_the_admin_limit_is_refused(su_client, settings, db):
    settings.IMPORT_ADMIN_MAX_BYTES = 100
    data = csv_bytes([["name", "description"], *[[f"Category {i}", "x" * 20] for i in range(10)]])
    assert len(data) > 100

    response = import_post(su_client, "categories", data)

    assert response.status_code == 200
    (message,) = response.context["form"].errors["import_file"]
    assert message == (
        f"The file has {len(data):,} bytes; the admin imports at most 100 "
        "(IMPORT_ADMIN_MAX_BYTES). Use the API or the import_data command for bigger files."
    )
    assert "<h2>Preview</h2>" not in page(response)
    assert not Category.objects.exists()


# --- export --------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", list(ADMINS))
def test_export_everything(su_client, shop, resource):
    header, rows = exported_rows(export_post(su_client, resource))
    assert header == HEADERS[resource]
    assert len(rows) == {"customers": 2, "categories": 2, "products": 2, "sales": 2}[resource]


@pytest.mark.parametrize(
    ("resource", "query", "expected"),
    [
        ("customers", "segment__exact=corporate", ["alice@example.com"]),
        ("customers", "q=bob", ["bob@example.com"]),
        ("categories", "q=gard", ["Garden"]),
        ("products", "category__id__exact={tools}", ["HAM-1"]),
        ("products", "q=rake", ["RAKE-1"]),
        ("sales", "status__exact=cancelled", ["S-2"]),
        ("sales", "sold_at__day=1&sold_at__month=3&sold_at__year=2025", ["S-1"]),
    ],
)
def test_export_keeps_the_changelist_filters(su_client, shop, resource, query, expected):
    query = query.format(tools=shop.tools.pk)
    changelist = su_client.get(f"{ADMINS[resource].path}?{query}")
    assert changelist.status_code == 200
    # The Export button carries the filters.
    assert f'{ADMINS[resource].path}export/?{html.escape(query)}"' in page(changelist)

    header, rows = exported_rows(export_post(su_client, resource, query))

    assert header == HEADERS[resource]
    assert [row[0] for row in rows] == expected


@pytest.mark.parametrize("fmt", [CSV, XLSX, JSON])
def test_export_formats(su_client, shop, fmt):
    response = export_post(su_client, "products", f"category__id__exact={shop.garden.pk}", fmt)
    header, rows = exported_rows(response, fmt)
    assert header == HEADERS["products"]
    assert rows == [["RAKE-1", "Rake", "Garden", "20.00", "9.00", "5", "true"]]
    extension = {CSV: "csv", XLSX: "xlsx", JSON: "json"}[fmt]
    assert response["Content-Disposition"].endswith(f'.{extension}"')


@pytest.mark.parametrize("fmt", [CSV, XLSX, JSON])
def test_export_escapes_formulas_in_csv_only(su_client, shop, fmt):
    """Issue 14 item 9: an apostrophe in CSV only; XLSX and JSON carry the stored text."""
    make_customer(name="=1+2", email="formula@example.com", phone="+44 7302 616414")
    header, rows = exported_rows(export_post(su_client, "customers", "q=formula", fmt), fmt)
    row = dict(zip(header, rows[0], strict=True))
    quote = "'" if fmt == CSV else ""
    assert (row["name"], row["phone"]) == (f"{quote}=1+2", f"{quote}+44 7302 616414")


@pytest.mark.parametrize("fmt", [CSV, XLSX, JSON])
def test_admin_export_is_streamed_as_the_api_streams_it(su_client, shop, fmt):
    """Not a whole Dataset and file in memory before the first byte (a big table would not
    finish): the same streamed file as GET /api/sales/export/."""
    from core.dataio.services import data_export
    from sales.models import Sale

    response = export_post(su_client, "sales", "status__exact=completed", fmt)
    assert response.status_code == 200
    assert response.streaming
    extension = {CSV: "csv", XLSX: "xlsx", JSON: "json"}[fmt]
    same = b"".join(
        data_export(table="sales", fmt=extension, queryset=Sale.objects.filter(status="completed"))
    )
    content = file_of(response)
    if fmt == XLSX:
        assert xlsx_values(content) == xlsx_values(same)
    else:
        assert content == same


def test_analyst_can_export(client, shop):
    client = staff(client, "analyst")
    header, rows = exported_rows(export_post(client, "sales", "status__exact=completed"))
    assert header == HEADERS["sales"]
    assert rows == [
        ["S-1", "2025-03-01T10:00:00Z", "alice@example.com", "HAM-1", "2", "12.50", "completed"]
    ]


@pytest.mark.parametrize("resource", ADMINS)
def test_exported_file_imports_back_unchanged(su_client, shop, resource):
    exported = file_of(export_post(su_client, resource))
    before = snapshot(resource)

    preview = import_post(su_client, resource, exported)

    assert_no_file_errors(preview)
    assert "Some rows failed to validate" not in page(preview)
    assert {kind for kind, _ in preview_rows(preview)} == {"skip"}
    fields = confirm_fields(preview)
    assert su_client.post(fields.pop("action"), fields).status_code == 302
    assert snapshot(resource) == before


def test_sales_file_of_new_sales_previews_and_imports_without_touching_stock(su_client, shop):
    rows = [
        HEADERS["sales"],
        ["S-9", "2025-04-01T10:00:00Z", "bob@example.com", "RAKE-1", "1", "20.00", ""],
        ["S-9", "2025-04-01T10:00:00Z", "bob@example.com", "HAM-1", "2", "12.00", ""],
        ["S-10", "2025-04-02T10:00:00Z", "", "HAM-1", "1", "12.50", "cancelled"],
    ]
    movements = StockMovement.objects.count()

    preview = import_post(su_client, "sales", csv_bytes(rows))

    assert [kind for kind, _ in preview_rows(preview)] == ["new", "new", "new"]
    assert preview.context["result"].totals["new"] == 2  # sales, not lines
    assert not Sale.objects.filter(reference__in=["S-9", "S-10"]).exists()
    fields = confirm_fields(preview)
    response = su_client.post(fields.pop("action"), fields)

    assert response.status_code == 302
    assert messages_of(response) == [
        "Import finished: 2 new, 0 updated, 0 deleted and 0 skipped sales."
    ]
    s9 = Sale.objects.get(reference="S-9")
    assert (s9.customer, s9.total, s9.status) == (shop.bob, Decimal("44.00"), "completed")
    assert Sale.objects.get(reference="S-10").status == "cancelled"
    assert StockMovement.objects.count() == movements
    assert Product.objects.get(pk=shop.hammer.pk).stock_quantity == 8
    assert LogEntry.objects.count() == 1
