"""The issue's "done when": export → import into an empty database → export gives the same
file, for every table and every format."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from analytics.services import rollups_rebuild
from customers.models import Customer
from products.models import Product
from sales.models import Sale, SaleStatus
from tests.dataio import (
    ORDER,
    comparable,
    export_bytes,
    import_bytes,
    ledger_is_balanced,
    rollup_rows,
    wipe_all,
)
from tests.dataio.conftest import build_dataset

pytestmark = pytest.mark.django_db


def _round_trip(fmt: str, tmp_path) -> None:
    build_dataset()
    first = {table: export_bytes(table, fmt) for table in ORDER}
    for table in ORDER:  # the command writes the same file as the service
        out = tmp_path / f"{table}.{fmt}"
        call_command("export_data", table, "--out", str(out), "--no-progress")
        assert comparable(out.read_bytes(), fmt) == comparable(first[table], fmt), table
    stock = dict(Product.objects.values_list("sku", "stock_quantity"))

    wipe_all()
    assert Sale.objects.count() == Product.objects.count() == Customer.objects.count() == 0
    for table in ORDER:
        report = import_bytes(table, first[table], fmt)
        assert report.ok, (table, report.summary(), [str(e) for e in report.errors])
        assert report.error_count == report.rejected == report.updated == report.unchanged == 0
        assert report.created > 0

    second = {table: export_bytes(table, fmt) for table in ORDER}
    for table in ORDER:
        assert comparable(second[table], fmt) == comparable(first[table], fmt), table
    # What the file does not carry is rebuilt consistently: stock with its ledger, rollups.
    assert dict(Product.objects.values_list("sku", "stock_quantity")) == stock
    assert ledger_is_balanced()
    imported_rollups = rollup_rows()  # kept exact by the import: a rebuild changes nothing
    rollups_rebuild()
    assert rollup_rows() == imported_rollups
    assert sum(len(rows) for rows in imported_rollups.values()) > 0
    cancelled = Sale.objects.get(reference="S-CANCELLED")
    assert cancelled.status == SaleStatus.CANCELLED and cancelled.cancelled_at is not None
    assert Sale.objects.get(reference="=ANON").customer_id is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_round_trip_gives_the_same_files(fmt, tmp_path):
    _round_trip(fmt, tmp_path)


@pytest.mark.embedded
def test_round_trip_csv_embedded(tmp_path):
    _round_trip("csv", tmp_path)


def test_export_escapes_formula_cells_and_keeps_the_rest_exact(dataset):
    products = export_bytes("products").decode()
    assert "\r\n'=CMD|' /C calc'!A0," in products  # the SKU
    assert "'-Negative looking name" in products
    assert "'=SUM(A1:A9)" in products  # the category name
    assert ",1000000.00," in products and ",true\r\n" in products and ",false\r\n" in products
    customers = export_bytes("customers").decode()
    assert "'+33 1 23 45 67 89" in customers and "'@Zoë Ørsted" in customers
    assert "'=HYPERLINK(x)" in customers
    assert '"Alice ""Al"" Martin, Jr."' in customers and '"Bob\nTwo lines"' in customers
    sales = export_bytes("sales").decode().splitlines()
    assert sales[0] == "reference,sold_at,customer_email,sku,quantity,unit_price,status"
    # Tokyo 23:59:59.123456 is 14:59:59.123456 UTC; New York 08:00 (EST) is 13:00 UTC.
    assert (
        '"S-MULTI, 1",2025-03-01T14:59:59.123456Z,'
        "Alice.Martin@Example.com,HAM-001,3,12.50,completed" in sales
    )
    assert "'=ANON,2025-03-02T13:00:00Z,,HAM-001,1,12.50,completed" in sales
    assert (
        "S-CANCELLED,2025-03-03T17:30:00.000001Z,bob@example.org,HAM-001,2,12.50,cancelled" in sales
    )


@pytest.mark.parametrize("fmt", ["xlsx", "json"])
def test_xlsx_and_json_exports_are_text_cells(dataset, fmt):
    data = export_bytes("products", fmt)
    if fmt == "xlsx":
        rows = comparable(data, fmt)
        assert rows[0] == (
            "sku",
            "name",
            "category",
            "price",
            "cost",
            "stock_quantity",
            "is_active",
        )
        assert all(isinstance(cell, str) or cell is None for row in rows for cell in row)
        assert (
            "HAM-001",
            'Hammer 16", steel',
            "Tools, hardware & more",
            "12.50",
            "7.25",
            "96",
            "true",
        ) in rows
    else:
        import json

        records = json.loads(data)
        assert records[1] == {
            "sku": "HAM-001",
            "name": 'Hammer 16", steel',
            "category": "Tools, hardware & more",
            "price": "12.50",
            "cost": "7.25",
            "stock_quantity": "96",
            "is_active": "true",
        }
        # JSON keeps the stored text: no apostrophe (only CSV escapes formulas)
        assert {record["sku"] for record in records} >= {"HAM-001", "=CMD|' /C calc'!A0"}


def test_xlsx_export_of_text_with_a_control_character(db):
    from tests.factories import make_customer

    make_customer(name="Bell\x07", email="bell@example.com")
    rows = comparable(export_bytes("customers", "xlsx"), "xlsx")
    assert len(rows) == 2
    assert rows[1][1] == "Bell"  # XLSX cannot hold control characters: dropped


def test_email_cells_are_escaped_in_exports(db):
    from tests.factories import make_customer

    make_customer(name="Eve", email="=1+2@example.com")
    assert "\r\n'=1+2@example.com,Eve," in export_bytes("customers").decode()


FORMULA_LOOKING = [
    {"email": "=1+2@example.com", "name": "=1+2", "phone": "+44 7302 616414", "city": "-5"},
    {"email": "sum@example.com", "name": "@SUM(A1)", "phone": "-5", "city": "=A1"},
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_formula_looking_text_is_escaped_in_csv_only_and_round_trips(db, fmt):
    """Issue 14 item 9: the apostrophe guards CSV (opened by spreadsheets) only; XLSX holds
    text cells (never formulas), JSON the stored value; each imports back unchanged."""
    import io
    import json

    from openpyxl import load_workbook

    from tests.factories import make_customer

    for values in FORMULA_LOOKING:
        make_customer(**values)
    fields = list(FORMULA_LOOKING[0])
    data = export_bytes("customers", fmt)
    if fmt == "csv":
        text = data.decode()
        assert "'=1+2@example.com,'=1+2,'+44 7302 616414,'-5," in text
        assert "sum@example.com,'@SUM(A1),'-5,'=A1," in text
    elif fmt == "json":
        records = json.loads(data)
        assert [{name: record[name] for name in fields} for record in records] == FORMULA_LOOKING
    else:
        sheet = load_workbook(io.BytesIO(data)).worksheets[0]  # not read-only: cell types
        header = [cell.value for cell in sheet[1]]
        for row, values in enumerate(FORMULA_LOOKING, start=2):
            cells = [sheet.cell(row, header.index(name) + 1) for name in fields]
            assert [cell.value for cell in cells] == list(values.values())
            assert all(cell.data_type == "s" for cell in cells)  # text, not formulas
    Customer.objects.all().delete()
    report = import_bytes("customers", data, fmt)
    assert report.ok and report.created == 2, report.summary()
    stored = Customer.objects.order_by("email").values(*fields)
    assert list(stored) == FORMULA_LOOKING


@pytest.mark.postgres
def test_the_export_runs_under_the_jobs_statement_timeout(dataset, settings):
    """A web request's few-second statement_timeout would cancel the first FETCH of a big
    export (it sorts the whole result): the export transaction takes the jobs' timeout."""
    from django.db import connection

    from core.dataio.tables import get_table

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's statement_timeout")
    settings.DB_STATEMENT_TIMEOUT_JOBS_MS = 600_000
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = '4321ms'")
    rows = get_table("sales").export_rows()
    next(rows)  # inside the export's transaction
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "10min"
    rows.close()
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "4321ms"
        cursor.execute("SET statement_timeout = 0")


def test_json_export_writes_what_json_dumps_writes():
    """The JSON writer's template (keys once, values by json's C encoder) gives the same text
    as json.dumps of each row's object."""
    import json

    from core.dataio.writers import WRITERS

    header = ["name", 'odd "key" %s', "é"]
    rows = [
        ['quote " back \\ slash', "line\nbreak\ttab\x07", "日本 🙂 %d %%"],
        ["", "=1+2", "'+44"],
    ]
    text = b"".join(WRITERS["json"](header, rows)).decode()
    objects = [dict(zip(header, row, strict=True)) for row in rows]
    expected = ",\n".join(json.dumps(item, ensure_ascii=False) for item in objects)
    assert text == f"[\n{expected}\n]\n"
    assert json.loads(text) == objects
