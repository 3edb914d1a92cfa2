"""The streaming XLSX writer (issue 13 item 2): a valid workbook whatever the text, typed text
cells only, new sheets past Excel's row limit, and bytes out before the last row is read."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook

from core.dataio.writers import WRITERS
from core.dataio.xlsx_stream import SHEET_MAX_ROWS, iter_xlsx_stream

pytestmark = pytest.mark.embedded

HEADER = ["a", "b", "c"]


def sheets(data: bytes, *, read_only: bool = True) -> dict[str, list[tuple]]:
    workbook = load_workbook(io.BytesIO(data), read_only=read_only)
    try:
        return {
            sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def test_text_is_kept_exactly_as_text_cells():
    rows = [
        ["=1+2", "+44 7302 616414", "-5"],
        ["@SUM(A1)", " spaced & <tagged> ", "two\nlines\ttab"],
        ["é 日本 🙂", "'apostrophe", '"quoted"'],
    ]
    data = b"".join(iter_xlsx_stream(HEADER, rows))
    assert sheets(data) == {"data": [tuple(HEADER), *map(tuple, rows)]}
    full = load_workbook(io.BytesIO(data)).worksheets[0]  # not read-only: the cells' types
    assert {cell.data_type for row in full.iter_rows(min_row=2) for cell in row} == {"s"}


def test_control_characters_and_the_separators_are_dropped_not_fatal():
    rows = [["a\x00b", "c\x01d", "e\x07f"], ["", "x", ""]]
    data = b"".join(iter_xlsx_stream(HEADER, rows))
    assert sheets(data)["data"][1:] == [("ab", "cd", "ef"), (None, "x", None)]


def test_rows_beyond_a_sheet_continue_on_the_next_with_the_header():
    rows = [[str(i), "x", "y"] for i in range(7)]
    data = b"".join(iter_xlsx_stream(HEADER, rows, sheet_max_rows=3))
    found = sheets(data)
    assert list(found) == ["data", "data 2", "data 3", "data 4"]
    assert all(values[0] == tuple(HEADER) for values in found.values())
    assert [row[0] for values in found.values() for row in values[1:]] == [str(i) for i in range(7)]
    assert SHEET_MAX_ROWS == 1_048_576  # Excel's limit, the header included


def test_exactly_full_sheets_add_no_empty_one():
    rows = [[str(i), "x", "y"] for i in range(4)]
    data = b"".join(iter_xlsx_stream(HEADER, rows, sheet_max_rows=3))
    assert list(sheets(data)) == ["data", "data 2"]


def test_bytes_leave_before_the_rows_end():
    """Streaming: the first chunk is out while most rows are still to be read."""
    read = 0

    def rows():
        nonlocal read
        for i in range(200_000):
            read += 1
            yield [f"S-{i:08d}", "2025-03-04T10:11:12Z", f"c{i}@example.com"]

    chunks = WRITERS["xlsx"](HEADER, rows())  # what the export endpoint streams
    first = next(chunks)
    assert first.startswith(b"PK") and read < 100_000
    data = first + b"".join(chunks)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    # Every row in the sheet, in order (counted in its XML: openpyxl took ~10 s to read them;
    # the other tests read the writer's workbooks with it).
    sheet = archive.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"<row ") == 200_001
    assert b'<row r="200001">' in sheet and b"S-00199999" in sheet[-400:]


def test_an_empty_table_is_a_header_only_workbook():
    assert sheets(b"".join(iter_xlsx_stream(HEADER, []))) == {"data": [tuple(HEADER)]}


@pytest.mark.django_db
def test_a_workbook_continued_on_more_sheets_imports_whole():
    """An export past a sheet's rows continues on "data 2"…: the import reads those sheets
    too (those starting with the same header), never only the first one."""
    from customers.models import Customer
    from tests.dataio import import_bytes

    header = ["email", "name"]
    rows = [[f"c{i}@example.com", f"C{i}"] for i in range(7)]
    data = b"".join(iter_xlsx_stream(header, rows, sheet_max_rows=3))
    notes = load_workbook(io.BytesIO(data))
    notes.create_sheet("notes").append(["not", "a", "table"])  # another sheet: ignored
    buffer = io.BytesIO()
    notes.save(buffer)

    report = import_bytes("customers", buffer.getvalue(), "xlsx")

    assert report.ok and report.created == 7, report.summary()
    assert sorted(Customer.objects.values_list("email", flat=True)) == sorted(r[0] for r in rows)
