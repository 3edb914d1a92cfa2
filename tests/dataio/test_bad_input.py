"""Every bad input of the issue: a clear message (row and column where it applies) and, with
on_error=abort, nothing written. With on_error=skip the good rows go in and the bad ones are
reported (errors file included); a dry run writes nothing but counts."""

from __future__ import annotations

import codecs
import csv
import io
import re

import pytest

from core.dataio.formats import TableFileError
from customers.models import Customer
from products.models import Product
from sales.models import Sale, SaleItem
from tests.dataio import (
    CUSTOMER_HEADER,
    SALE_HEADER,
    csv_bytes,
    database_state,
    import_bytes,
    messages,
    row_counts,
    xlsx_bytes,
)

pytestmark = pytest.mark.django_db

SALE_COLUMNS = SALE_HEADER[:-1]
GOOD_SALE = ["R-OK", "2025-01-01T10:00:00Z", "bob@example.org", "HAM-001", "1", "12.50"]


def sale(
    reference="R-1", sold_at="2025-01-01T10:00:00Z", email="", sku="HAM-001", qty="1", price="1.00"
):
    return [reference, sold_at, email, sku, qty, price]


def assert_file_error(table, data, fmt, pattern):
    before = database_state()
    with pytest.raises(TableFileError, match=pattern):
        import_bytes(table, data, fmt)
    assert database_state() == before


def assert_rejected(table, data, expected, fmt="csv"):
    """Aborted with exactly these errors (``[(row, column, message regex)]``), nothing written."""
    before = database_state()
    report = import_bytes(table, data, fmt)
    assert report.aborted and not report.ok
    assert report.created == report.updated == 0
    assert "on_error=abort" in report.message and "Nothing was written" in report.summary()
    got = [(error.row, error.column, error.message) for error in report.errors]
    assert len(got) == len(expected), messages(report)
    for (row, column, message), (want_row, want_column, pattern) in zip(got, expected, strict=True):
        assert (row, column) == (want_row, want_column), messages(report)
        assert re.search(pattern, message), message
    assert database_state() == before
    return report


# --- file-level problems --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("mail,name", r"missing column\(s\): email; unknown column\(s\): mail"),
        ("name", r"missing column\(s\): email\."),
        ("email,name,age", r"unknown column\(s\): age\."),
        ("email,name,name", r"repeated column\(s\): name"),
    ],
)
def test_wrong_missing_or_unknown_headers_name_the_expected_columns(small, header, problem):
    data = f"{header}\nx@example.com,X\n".encode()
    assert_file_error("customers", data, "csv", problem)
    with pytest.raises(TableFileError) as caught:
        import_bytes("customers", data)
    assert "Expected columns: email, name (optional: phone, city, country, segment)" in str(
        caught.value
    )
    assert caught.value.extra["expected_columns"] == CUSTOMER_HEADER


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize(
    "data", [b"", codecs.BOM_UTF8, b"\r\n\r\n"], ids=["0-bytes", "bom", "blank"]
)
def test_an_empty_file_is_an_error_naming_the_columns(small, data, fmt):
    if fmt == "json" and data == b"\r\n\r\n":
        data = b"  \n"
    assert_file_error(
        "categories", data, fmt, r"The file is empty: expected a header row with the columns name, "
    )


def test_an_empty_xlsx_is_an_error(small):
    assert_file_error("categories", xlsx_bytes([]), "xlsx", "The file is empty")


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b"sku,name,price\r\n"),
        ("json", b"[]"),
        ("json", b"[\n]\n"),
        ("xlsx", xlsx_bytes([["sku", "name", "price"]])),
    ],
)
def test_a_header_only_file_imports_nothing_without_error(small, fmt, data):
    before = database_state()
    report = import_bytes("products", data, fmt)
    assert report.ok and report.error_count == 0
    assert (report.rows, report.created, report.updated, report.unchanged) == (0, 0, 0, 0)
    assert database_state() == before


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files_are_sniffed(small, delimiter):
    data = csv_bytes(
        [["email", "name", "city"], ["new@example.com", "Dupont; Jean, Sr.", "Paris"]], delimiter
    )
    report = import_bytes("customers", data)
    assert report.ok and report.created == 1
    assert Customer.objects.get(email="new@example.com").name == "Dupont; Jean, Sr."


def test_another_delimiter_gives_the_header_error_with_a_hint(small):
    assert_file_error(
        "customers",
        b"email|name\nx@example.com|X\n",
        "csv",
        r"missing column\(s\): email, name.*Found: email\|name "
        r"\(is the delimiter a comma, a semicolon or a tab\?\)",
    )


@pytest.mark.embedded
def test_utf8_with_bom_imports_fine(small):
    data = codecs.BOM_UTF8 + "email,name\nnew@example.com,Zoë\n".encode()
    report = import_bytes("customers", data)
    assert report.ok and report.created == 1
    assert Customer.objects.get(email="new@example.com").name == "Zoë"


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_or_windows_1252_is_not_utf8_and_the_row_is_named(small, encoding):
    data = "email,name\nok@example.com,Ok\nx@example.com,Café €\n".encode(
        encoding, errors="replace"
    )
    assert_file_error(
        "customers", data, "csv", r"not UTF-8 text: byte 0xE9 (in row|on line) 3 .*UTF-8"
    )


def test_a_bad_byte_deep_in_a_big_file_names_its_row(small):
    rows = "".join(f"c{n}@example.com,C{n}\n" for n in range(3000))
    data = f"email,name\n{rows}x@example.com,Caf\xe9\n".encode("latin-1")
    assert_file_error("customers", data, "csv", r"byte 0xE9 (in row|on line) 3002 ")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_gives_its_own_error(small, encoding):
    text = "email,name\nx@example.com,Café\n"
    data = text.encode(encoding)
    if encoding != "utf-16":
        data = (codecs.BOM_UTF16_LE if encoding.endswith("le") else codecs.BOM_UTF16_BE) + data
    assert_file_error("customers", data, "csv", r"The file is UTF-16 text; save it as UTF-8")


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b'[{"email": "a@example.com", "name": "A"}, ', r"Invalid JSON in row 3: Expecting value"),
        (b'[{"email": "a@example.com", "name": "A"} {"x": 1}]', r"Invalid JSON before row 3"),
        (b'[{"email": "a@example.com", "name": "A"}', r"JSON array is not closed|Invalid JSON"),
        (b'{"email": "a@example.com"}', r"A JSON import is an array of objects"),
        (b'"text"', r"A JSON import is an array of objects"),
        (b"[1, 2]", r"Row 2 of the JSON array is not an object"),
        (b'[{"email": "a@example.com", "name": "A"}, ["b"]]', r"Row 3 of the JSON array is not"),
    ],
)
def test_invalid_json_or_json_that_is_not_an_array_of_objects(small, data, pattern):
    assert_file_error("customers", data, "json", pattern)


def test_a_json_object_with_unknown_keys_is_rejected_with_its_row(small):
    data = (
        b'[{"email": "a@example.com", "name": "A"}, {"email": "b@example.com", "nom": "B"},'
        b' {"email": "c@example.com", "name": {"first": "C"}}]'
    )
    assert_rejected(
        "customers",
        data,
        [
            (3, "", r"Unknown key\(s\) nom; the first row has email, name\."),
            (4, "", r"Key\(s\) name hold a list or an object"),
        ],
        fmt="json",
    )


def test_json_objects_may_give_their_keys_in_another_order_or_leave_some_out(small):
    data = (
        b'[{"email": "a@example.com", "name": "A", "city": "X"},'
        b' {"city": "Y", "name": "B", "email": "b@example.com"}, {"email": "c@example.com",'
        b' "name": "C"}]'
    )
    report = import_bytes("customers", data, "json")
    assert report.ok and report.created == 3
    assert Customer.objects.get(email="b@example.com").city == "Y"
    assert Customer.objects.get(email="c@example.com").city == ""


@pytest.mark.parametrize("data", [b"PK\x03\x04garbage", b"not a zip at all", b""])
def test_a_corrupt_xlsx_is_a_clear_error(small, data):
    assert_file_error("customers", data, "xlsx", r"not a valid XLSX workbook")


# --- row problems, with row and column ------------------------------------------------------------


def test_a_row_with_too_many_cells(small):
    assert_rejected(
        "customers",
        b"email,name\nx@example.com,X,extra\ny@example.com,Y,,\n",
        [(2, "", r"has 3 cells; the header has 2 columns")],
    )


@pytest.mark.parametrize(
    ("row", "column", "pattern"),
    [
        (sale(sold_at="2025-13-01"), "sold_at", r"'2025-13-01' is not a date and time; use ISO"),
        (sale(sold_at="01/02/2025"), "sold_at", r"is not a date and time"),
        (sale(email="not-an-email"), "customer_email", r"'not-an-email' is not a valid email"),
        (sale(qty="-1"), "quantity", r"quantity -1 is less than 1"),
        (sale(qty="0"), "quantity", r"quantity 0 is less than 1"),
        (sale(qty="1.5"), "quantity", r"'1.5' is not a whole number"),
        (sale(qty="1000001"), "quantity", r"1000001 is more than 1000000"),
        (sale(price="abc"), "unit_price", r"'abc' is not a number \(use a dot"),
        (sale(price="12,50"), "unit_price", r"'12,50' is not a number"),
        (sale(price="1.001"), "unit_price", r"1.001 has more than 2 decimal places"),
        (sale(price="-1.00"), "unit_price", r"-1.00 is negative; it must be 0 or more"),
        (sale(price="NaN"), "unit_price", r"'NaN' is not a number"),
        (sale(reference=""), "reference", r"reference is required"),
        (sale(reference="R" * 65), "reference", r"has 65 characters; at most 64"),
        (sale(sku="NOPE"), "sku", r"unknown sku 'NOPE'"),
        (sale(email="nobody@example.com"), "customer_email", r"unknown customer email 'nobody@"),
    ],
)
def test_bad_sale_cells_name_row_and_column(small, row, column, pattern):
    data = csv_bytes([SALE_COLUMNS, GOOD_SALE, row])
    assert_rejected("sales", data, [(3, column, rf"{column} .*{pattern}|{pattern}")])


def test_bad_product_cells(small):
    data = csv_bytes(
        [
            ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"],
            ["P-1", "A", "No such category", "1.00", "", "1", ""],
            ["P-2", "B", "", "1.005", "", "1", ""],
            ["P-3", "C", "", "1.010", "-0.01", "-3", "maybe"],
            ["P-4", "D", "", "10000000000.00", "", "", "yes"],
        ]
    )
    assert_rejected(
        "products",
        data,
        [
            (2, "category", r"unknown category 'No such category' \(import the categories first"),
            (3, "price", r"price 1.005 has more than 2 decimal places"),
            (4, "cost", r"cost -0.01 is negative"),
            (4, "is_active", r"is_active 'maybe' is not true or false"),
            (4, "stock_quantity", r"stock_quantity -3 is negative"),
            (5, "price", r"10000000000.00 is more than 9999999999.99"),
            (5, "stock_quantity", r"stock_quantity is required"),
        ],
    )


def test_bad_customer_cells(small):
    data = csv_bytes(
        [
            CUSTOMER_HEADER,
            ["a@", "A", "", "", "", ""],
            ["b@example.com", "", "", "", "XX", "vip"],
            ["c@example.com", "C" * 201, "", "", "fr", "Corporate"],
        ]
    )
    assert_rejected(
        "customers",
        data,
        [
            (2, "email", r"'a@' is not a valid email address"),
            (3, "country", r"'XX' is not an ISO 3166-1 alpha-2 country code"),
            (3, "name", r"name is required"),
            (3, "segment", r"'vip' is not one of consumer, corporate"),
            (4, "name", r"has 201 characters; at most 200"),
        ],
    )


def test_duplicate_keys_inside_one_file_name_the_first_row(small):
    assert_rejected(
        "customers",
        csv_bytes(
            [
                ["email", "name"],
                ["d@example.com", "D"],
                ["e@example.com", "E"],
                ["D@EXAMPLE.COM", "D again"],
            ]
        ),
        [(4, "email", r"duplicate email 'D@EXAMPLE.COM': row 2 already has it")],
    )
    assert_rejected(
        "products",
        csv_bytes([["sku", "name", "price"], ["P-1", "A", "1"], ["P-1", "B", "2"]]),
        [(3, "sku", r"duplicate sku 'P-1': row 2 already has it")],
    )
    assert_rejected(
        "categories",
        csv_bytes([["name"], ["Garden"], ["garden"]]),
        [(3, "name", r"duplicate name 'garden': row 2 already has it")],
    )
    assert_rejected(
        "sales",
        csv_bytes([SALE_COLUMNS, sale(), sale(sku="NOCAT-ß"), sale(qty="2")]),
        [
            (2, "reference", r"sale 'R-1' is left out: another of its lines has an error"),
            (3, "reference", r"sale 'R-1' is left out"),
            (4, "sku", r"duplicate line \(reference / sku\) 'R-1 / HAM-001': row 2 already"),
        ],
    )


@pytest.mark.parametrize(
    "other",
    [
        sale(sku="NOCAT-ß", sold_at="2025-01-01T10:00:01Z"),
        sale(sku="NOCAT-ß", email="bob@example.org"),
    ],
)
def test_the_lines_of_a_sale_must_agree(small, other):
    assert_rejected(
        "sales",
        csv_bytes([SALE_COLUMNS, sale(), other]),
        [
            (2, "reference", r"sale 'R-1' is left out"),
            (3, "reference", r"the lines of sale 'R-1' disagree: .* same as on row 2"),
        ],
    )


def test_the_lines_of_a_sale_may_write_the_email_in_another_case(small):
    report = import_bytes(
        "sales",
        csv_bytes(
            [
                SALE_COLUMNS,
                sale(email="bob@example.org"),
                sale(sku="NOCAT-ß", email="BOB@example.ORG"),
            ]
        ),
    )
    assert report.ok and report.created == 1
    assert Sale.objects.get(reference="R-1").customer == small.customers["bob"]


def test_xlsx_rows_are_numbered_as_the_spreadsheet_shows_them(small):
    data = xlsx_bytes([SALE_COLUMNS, GOOD_SALE, [None] * 6, sale(qty="0")])
    assert_rejected("sales", data, [(4, "quantity", r"quantity 0 is less than 1")], fmt="xlsx")


def test_xlsx_numbers_and_dates_typed_by_a_spreadsheet_are_read(small):
    from datetime import datetime

    data = xlsx_bytes([SALE_COLUMNS, ["R-X", datetime(2025, 1, 2, 3, 4, 5), "", "HAM-001", 2, 9.5]])
    report = import_bytes("sales", data, "xlsx")
    assert report.ok, messages(report)
    created = Sale.objects.get(reference="R-X")
    assert str(created.total) == "19.00"
    assert created.sold_at.isoformat() == "2025-01-02T03:04:05+00:00"  # naive: TIME_ZONE (UTC)


# --- on_error=skip, errors file, dry run ----------------------------------------------------------


def test_skip_imports_the_good_rows_and_reports_the_bad_ones(small):
    before = row_counts()
    errors_out = io.StringIO()
    data = csv_bytes(
        [
            SALE_COLUMNS,
            sale(reference="GOOD-1"),
            sale(reference="BAD-1"),
            sale(reference="BAD-1", sku="NOCAT-ß", qty="0"),
            sale(reference="GOOD-2", sku="NOCAT-ß", qty="2", price="3.00"),
            sale(reference="BAD-2", sku="NOPE"),
            sale(reference="GOOD-1", sku="=CMD|' /C calc'!A0"),
        ]
    )
    report = import_bytes("sales", data, on_error="skip", errors_out=errors_out)
    assert report.ok and not report.aborted
    assert (report.rows, report.created, report.updated, report.unchanged) == (6, 2, 0, 0)
    assert report.rejected == 3 and report.error_count == 3
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "reference"),
        (4, "quantity"),
        (6, "sku"),
    ]
    assert set(
        Sale.objects.filter(reference__in=["GOOD-1", "GOOD-2", "BAD-1", "BAD-2"]).values_list(
            "reference", flat=True
        )
    ) == {"GOOD-1", "GOOD-2"}
    assert SaleItem.objects.filter(sale__reference="GOOD-1").count() == 2
    assert row_counts()["sales"] == before["sales"] + 2
    rows = list(csv.reader(io.StringIO(errors_out.getvalue())))
    assert rows[0] == [*SALE_COLUMNS, "_error_row", "_error_column", "_error"]  # the file's own
    by_row = {row[-3]: row for row in rows[1:]}
    assert set(by_row) == {"3", "4", "6"}
    assert by_row["4"][:6] == sale(reference="BAD-1", sku="NOCAT-ß", qty="0")
    assert by_row["4"][-2:] == ["quantity", "quantity 0 is less than 1."]
    assert by_row["3"][0] == "BAD-1" and by_row["3"][-2] == "reference"
    assert "another of its lines has an error" in by_row["3"][-1]
    assert by_row["6"][3] == "NOPE" and by_row["6"][-2:] == ["sku", "unknown sku 'NOPE'."]


def test_skip_leaves_out_a_bad_customer_and_keeps_the_others(small):
    report = import_bytes(
        "customers",
        csv_bytes(
            [
                ["email", "name"],
                ["n1@example.com", "N1"],
                ["bad", "X"],
                ["n2@example.com", "N2"],
                ["N1@example.com", "dup"],
            ]
        ),
        on_error="skip",
    )
    assert (report.created, report.rejected) == (2, 2)
    assert Customer.objects.filter(email__in=["n1@example.com", "n2@example.com"]).count() == 2
    assert Customer.objects.get(email="n1@example.com").name == "N1"


def test_dry_run_counts_and_writes_nothing(small):
    before = database_state()
    data = csv_bytes(
        [
            ["sku", "name", "price", "stock_quantity"],
            ["HAM-001", "Hammer renamed", "12.50", "5"],
            ["NEW-1", "New", "1.00", "3"],
            ["NOCAT-ß", "No category", "2.00", "10"],
        ]
    )
    report = import_bytes("products", data, dry_run=True)
    assert report.ok and report.dry_run
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    assert "would be created 1" in report.summary() and "Dry run: nothing was written" in (
        report.summary()
    )
    assert database_state() == before
    assert not Product.objects.filter(sku="NEW-1").exists()
    sales = import_bytes("sales", csv_bytes([SALE_COLUMNS, sale()]), dry_run=True)
    assert (sales.created, sales.counted) == (1, "sales")
    assert database_state() == before


def test_dry_run_with_errors_and_skip_still_counts_the_good_rows(small):
    before = database_state()
    report = import_bytes(
        "sales",
        csv_bytes([SALE_COLUMNS, sale(), sale(reference="R-2", qty="x")]),
        dry_run=True,
        on_error="skip",
    )
    assert (report.created, report.rejected) == (1, 1)
    assert database_state() == before
