"""Hostile and oversized files: each is refused early with a clear message, errors are counted
for every row but kept only up to a cap, and the errors file can be fixed and imported again."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from core.dataio.formats import TableFileError
from core.dataio.importer import ImportOptions
from core.dataio.services import data_import
from core.jobs.models import BatchJob, BatchJobStatus
from core.jobs.services import batch_job_create
from customers.models import Customer
from tests.dataio import csv_bytes, import_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db


def _rewrite_xlsx(data: bytes, member: str, change) -> bytes:
    """The workbook with one member's XML passed through ``change``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == member:
                content = change(content.decode()).encode()
            target.writestr(info.filename, content)
    return out.getvalue()


def dimension_bomb(rows=(("email", "name"), ("a@example.com", "A"))) -> bytes:
    """A small workbook whose sheet declares A1:XFD1048576 (the 'dimension bomb')."""
    return _rewrite_xlsx(
        xlsx_bytes(rows),
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:XFD1048576"/>', xml),
    )


# --- XLSX -----------------------------------------------------------------------------------------


def test_xlsx_declaring_a_huge_width_is_refused_before_reading():
    data = dimension_bomb()
    assert b"XFD1048576" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    with pytest.raises(TableFileError, match=r"declares 16384 columns"):
        import_bytes("customers", data, "xlsx")


def test_xlsx_declaring_more_rows_than_the_limit_is_refused(settings):
    settings.IMPORT_MAX_ROWS = 10
    data = _rewrite_xlsx(
        xlsx_bytes([("email", "name"), ("a@example.com", "A")]),
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:B500"/>', xml),
    )
    with pytest.raises(
        TableFileError, match=r"declares 499 data rows.* at most 10 \(IMPORT_MAX_ROWS\)"
    ):
        import_bytes("customers", data, "xlsx")


def test_a_cell_far_right_of_the_header_is_not_padded():
    """A sheet whose row has cells in columns D and XFD: the row is read no wider than the
    header (plus one column, to see that it has more), never padded to 16384 cells; it is
    rejected for its extra cells."""
    data = _rewrite_xlsx(
        xlsx_bytes([("email", "name"), ("a@example.com", "A")]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(
            '<c r="B2" t="inlineStr"><is><t>A</t></is></c>',
            '<c r="B2" t="inlineStr"><is><t>A</t></is></c>'
            '<c r="D2" t="inlineStr"><is><t>near</t></is></c>'
            '<c r="XFD2" t="inlineStr"><is><t>far</t></is></c>',
        ),
    )
    report = import_bytes("customers", data, "xlsx", on_error="skip")
    assert report.rejected == 1
    assert "has 4 cells; the header has 2 columns" in report.errors[0].message


def test_xlsx_with_a_dtd_is_refused():
    data = _rewrite_xlsx(
        xlsx_bytes([("email", "name"), ("a@example.com", "A")]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace(
            "<worksheet",
            '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><worksheet',
            1,
        ),
    )
    with pytest.raises(TableFileError, match=r"DTD"):
        import_bytes("customers", data, "xlsx")


def shared_strings_workbook(rows, padding: int = 0) -> bytes:
    """A workbook whose text cells are shared strings, as Excel saves them (openpyxl writes
    inline strings): the sheet's cells point into xl/sharedStrings.xml, which ``padding`` blanks
    inside <sst> make that big unpacked (a zip bomb packs them into a few KB)."""
    strings: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            strings.append(value)
            cells.append(f'<c r="{"ABCDEFGH"[c]}{r}" t="s"><v>{len(strings) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    shared = "".join(f"<si><t>{text}</t></si>" for text in strings)
    relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    def with_shared_strings(member: str, xml: str) -> str:
        if member == "xl/worksheets/sheet1.xml":
            start, end = xml.index("<sheetData>"), xml.index("</sheetData>")
            return xml[:start] + f"<sheetData>{''.join(sheet_rows)}" + xml[end:]
        if member == "[Content_Types].xml":
            return xml.replace(
                "</Types>",
                '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.'
                'openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>',
            )
        return xml.replace(
            "</Relationships>",
            f'<Relationship Type="{relationships}/sharedStrings" Target="sharedStrings.xml" '
            'Id="rId9" /></Relationships>',
        )

    data = xlsx_bytes([("",)])
    for member in ("xl/worksheets/sheet1.xml", "[Content_Types].xml", "xl/_rels/workbook.xml.rels"):
        data = _rewrite_xlsx(data, member, lambda xml, m=member: with_shared_strings(m, xml))
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "xl/sharedStrings.xml",
            f'<sst xmlns="{main}" count="{len(strings)}" uniqueCount="{len(strings)}">'
            f"{shared}{' ' * padding}</sst>",
        )
    return out.getvalue()


def shared_strings_bomb() -> bytes:
    """70 MB of shared strings packed into about 70 KB."""
    return shared_strings_workbook([("email", "name"), ("a@example.com", "A")], 70_000_000)


def test_an_xlsx_with_shared_strings_imports():
    data = shared_strings_workbook([("email", "name"), ("ann@example.com", "Ann")], 1000)
    report = import_bytes("customers", data, "xlsx")
    assert report.rows == 1 and Customer.objects.get().name == "Ann"


def test_an_xlsx_whose_shared_strings_unpack_past_the_limit_is_refused_before_reading():
    data = shared_strings_bomb()
    assert len(data) < 200_000
    with pytest.raises(TableFileError) as refused:
        import_bytes("customers", data, "xlsx")
    message = str(refused.value)
    assert re.search(r"xl/sharedStrings\.xml unpacks to 70,000,\d{3} bytes", message)
    assert "at most 64,000,000 (IMPORT_XLSX_MAX_PART_BYTES)" in message


def test_a_worksheet_bigger_than_the_part_limit_is_read_as_a_stream(settings):
    settings.IMPORT_XLSX_MAX_PART_BYTES = 1_000_000
    rows = [("email", "name")] + [(f"c{n}@example.com", "Name " * 10) for n in range(12_000)]
    data = xlsx_bytes(rows)
    sheet = zipfile.ZipFile(io.BytesIO(data)).getinfo("xl/worksheets/sheet1.xml")
    assert sheet.file_size > 1_000_000
    report = import_bytes("customers", data, "xlsx")
    assert report.rows == 12_000 and Customer.objects.count() == 12_000


# --- CSV ------------------------------------------------------------------------------------------


def test_csv_header_line_over_the_limit_is_a_file_error():
    data = ("email,name," + "x" * 200_000 + "\nA@example.com,A\n").encode()
    with pytest.raises(TableFileError, match=r"header line is longer than"):
        import_bytes("customers", data)


def test_a_csv_line_over_the_limit_is_an_error_for_that_row_only(settings):
    settings.IMPORT_MAX_LINE_LENGTH = 1024
    data = (
        "email,name\nok1@example.com,A\nlong@example.com," + "y" * 5000 + "\nok2@example.com,B\n"
    ).encode()
    report = import_bytes("customers", data, on_error="skip")
    assert report.rows == 3 and report.rejected == 1
    assert report.errors[0].row == 3 and "longer than 1024 characters" in report.errors[0].message
    assert Customer.objects.filter(email__in=["ok1@example.com", "ok2@example.com"]).count() == 2


def test_errors_are_counted_but_kept_up_to_the_cap(settings):
    settings.IMPORT_ERRORS_KEPT = 5
    rows = [("email", "name"), *[(f"bad{i}", "X") for i in range(50)], ("g@example.com", "G")]
    errors_out = io.StringIO()
    report = import_bytes("customers", csv_bytes(rows), on_error="skip", errors_out=errors_out)
    assert report.error_count == 50 and report.rejected == 50
    assert [error.row for error in report.errors] == [2, 3, 4, 5, 6]
    assert report.as_dict()["errors_truncated"] is True
    lines = list(csv.reader(io.StringIO(errors_out.getvalue())))
    assert [line[0] for line in lines[1:]] == ["bad0", "bad1", "bad2", "bad3", "bad4"]


# --- JSON -----------------------------------------------------------------------------------------


def test_json_nested_very_deep_is_a_file_error():
    data = b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]"
    with pytest.raises(TableFileError, match=r"nested too deep"):
        import_bytes("customers", data, "json")


def test_json_object_with_too_many_keys_is_a_file_error(settings):
    settings.IMPORT_MAX_LINE_LENGTH = 10_000_000
    record = {f"k{i}": i for i in range(90_000)}
    data = json.dumps([record]).encode()
    with pytest.raises(TableFileError, match=r"90000 columns.*IMPORT_MAX_COLUMNS"):
        import_bytes("customers", data, "json")


# --- the errors file can be fixed and imported again ---------------------------------------------


@pytest.mark.embedded
def test_the_errors_file_is_in_file_order_with_raw_cells_and_imports_again(tmp_path):
    source = tmp_path / "sales.csv"
    source.write_text(
        "email,name,city\n"
        "dup@example.com,First,Paris\n"
        "bad-1,One,Oslo\n"
        "dup@example.com,Second,Rome\n"
        "ok@example.com,Ok,  Lyon  \n"
        "bad-2,Two,Nice\n",
        encoding="utf-8",
    )
    errors = tmp_path / "errors.csv"
    with pytest.raises(SystemExit) as exited:
        call_command(
            "import_data",
            "customers",
            str(source),
            "--on-error",
            "skip",
            "--errors-out",
            str(errors),
            "--no-progress",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert exited.value.code == 3
    lines = list(csv.reader(errors.open(encoding="utf-8")))
    assert lines[0] == ["email", "name", "city", "_error_row", "_error_column", "_error"]
    assert [line[:4] for line in lines[1:]] == [
        ["bad-1", "One", "Oslo", "3"],
        ["dup@example.com", "Second", "Rome", "4"],
        ["bad-2", "Two", "Nice", "6"],
    ]
    fixed = [line for line in lines]
    fixed[1][0], fixed[2][0], fixed[3][0] = "one@example.com", "second@example.com", "two@x.org"
    with errors.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(fixed)
    call_command("import_data", "customers", str(errors), "--no-progress", stdout=io.StringIO())
    assert set(
        Customer.objects.filter(
            email__in=["one@example.com", "second@example.com", "two@x.org"]
        ).values_list("name", flat=True)
    ) == {"One", "Second", "Two"}


def test_import_data_help_documents_the_exit_codes():
    from core.dataio.management.commands.import_data import Command

    text = Command().create_parser("manage.py", "import_data").format_help()
    assert "3" in text and "usage error" in text and "_error" in text


# --- jobs -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("media_root", "jobs_in_process")
def test_an_xlsx_job_counts_progress_in_bytes_up_to_the_total():
    rows = [("email", "name"), *[(f"p{i}@example.com", f"P{i}") for i in range(3000)]]
    data = xlsx_bytes(rows)
    job = batch_job_create(
        kind="import",
        params={"table": "customers", "format": "xlsx", "file_name": "c.xlsx"},
        input_file=ContentFile(data),
        input_name="c.xlsx",
    )
    job.refresh_from_db()
    assert job.status == BatchJobStatus.SUCCEEDED, job.message
    assert job.progress_unit == "bytes" and job.progress_total == len(data)
    assert 0 < job.progress_done <= job.progress_total


@pytest.mark.usefixtures("media_root", "jobs_in_process")
def test_a_job_over_its_time_limit_fails_with_a_clear_message(settings):
    settings.IMPORT_JOB_TIME_LIMIT = 0
    job = batch_job_create(
        kind="import",
        params={"table": "customers", "format": "csv", "file_name": "c.csv"},
        input_file=ContentFile(csv_bytes([("email", "name"), ("t@example.com", "T")])),
        input_name="c.csv",
    )
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert "time limit" in job.message and "IMPORT_JOB_TIME_LIMIT" in job.message
    assert not Customer.objects.filter(email="t@example.com").exists()


def test_cancel_is_checked_while_reading(settings):
    """The cancel flag is read during the reading phase (not only between 50k-row segments)."""
    calls = []

    def should_cancel():
        calls.append(1)
        return len(calls) >= 2

    rows = [("email", "name"), *[(f"c{i}@example.com", "C") for i in range(5000)]]
    with pytest.raises(Exception) as raised:
        data_import(
            table="customers",
            source=io.BytesIO(csv_bytes(rows)),
            fmt="csv",
            options=ImportOptions(should_cancel=should_cancel, batch_size=100),
        )
    assert type(raised.value).__name__ == "ImportCancelled"
    assert not BatchJob.objects.exists() and not Customer.objects.exists()


@pytest.mark.embedded
def test_a_sales_errors_file_keeps_the_cells_as_written_and_imports_again(tmp_path):
    """Rows rejected by the set-based checks (unknown sku, their sale's other line) come back
    with their cells as the file had them (``…Z`` timestamps, ``9.5``), not re-formatted from
    the staged values; fixed, the errors file imports as it is."""
    from sales.models import Sale
    from tests.factories import make_product

    make_product(sku="HAM-1", price="9.50", stock=10)
    make_product(sku="HAM-2", price="9.50", stock=10)
    source = tmp_path / "sales.csv"
    source.write_text(
        "reference,sold_at,customer_email,sku,quantity,unit_price\n"
        "S-1,2025-01-02T03:04:05Z,,HAM-1,1,9.5\n"
        "S-2,2025-01-03T00:00:00Z,,NOPE,2,9.5\n"
        "S-2,2025-01-03T00:00:00Z,,HAM-1,1,9.5\n",
        encoding="utf-8",
    )
    errors = tmp_path / "errors.csv"
    with pytest.raises(SystemExit) as exited:
        call_command(
            "import_data",
            "sales",
            str(source),
            "--on-error",
            "skip",
            "--errors-out",
            str(errors),
            "--no-progress",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert exited.value.code == 3
    lines = list(csv.reader(errors.open(encoding="utf-8")))
    assert [line[:7] for line in lines[1:]] == [
        ["S-2", "2025-01-03T00:00:00Z", "", "NOPE", "2", "9.5", "3"],
        ["S-2", "2025-01-03T00:00:00Z", "", "HAM-1", "1", "9.5", "4"],
    ]
    lines[1][3] = "HAM-2"
    with errors.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(lines)
    call_command("import_data", "sales", str(errors), "--no-progress", stdout=io.StringIO())
    assert Sale.objects.get(reference="S-2").items.count() == 2


def _over_the_worker_limit(job):
    from celery.exceptions import SoftTimeLimitExceeded

    raise SoftTimeLimitExceeded()


@pytest.mark.usefixtures("media_root", "jobs_in_process")
def test_a_job_stopped_by_the_worker_time_limit_fails_with_a_clear_message(monkeypatch):
    """Celery's soft time limit (CELERY_TASK_TIME_LIMIT) ends a job as failed with a message
    naming the limit, not a raw exception text re-raised into the dead-letter log."""
    from core.jobs import tasks
    from core.jobs.models import FailedTask

    monkeypatch.setitem(tasks.HANDLERS, "import", f"{__name__}._over_the_worker_limit")
    job = batch_job_create(
        kind="import",
        params={"table": "customers", "format": "csv", "file_name": "c.csv"},
        input_file=ContentFile(csv_bytes([("email", "name"), ("t@example.com", "T")])),
        input_name="c.csv",
    )
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert "time limit" in job.message and "CELERY_TASK_TIME_LIMIT" in job.message
    assert "rolled back" in job.message
    assert not FailedTask.objects.exists()


def _xlsx_rows_peak(rows: int) -> int:
    """Peak bytes allocated (tracemalloc) while an XLSX reader reads ``rows`` bad rows."""
    import tracemalloc

    from core.dataio.readers import open_table

    data = xlsx_bytes([("email", "name"), *[("not-an-email", "Bad Row")] * rows])
    reader = open_table(io.BytesIO(data), "xlsx", ["email", "name"])
    tracemalloc.start()
    try:
        count = sum(1 for _ in reader.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    return peak


def test_reading_an_xlsx_does_not_keep_its_rows():
    """openpyxl's read-only rows stay in its XML tree once read (about 85 bytes each: 850 MB
    for ten million); the reader drops them, so reading 20,000 rows peaks as 2,000 do."""
    small, big = _xlsx_rows_peak(2_000), _xlsx_rows_peak(20_000)
    assert big < small * 1.5 + 100_000, (small, big)


# --- through the API: a 400 in the error shape, or a failed job with the message ----------------


def _dtd_workbook() -> bytes:
    return _rewrite_xlsx(
        xlsx_bytes([("email", "name"), ("a@example.com", "A")]),
        "xl/worksheets/sheet1.xml",
        lambda xml: xml.replace("<worksheet", '<!DOCTYPE w [<!ENTITY a "a">]><worksheet', 1),
    )


HOSTILE = {
    "header_over_128k.csv": (
        lambda: ("email,name," + "x" * 140_000 + "\na@example.com,A\n").encode(),
        "header line is longer than",
    ),
    "deep.json": (lambda: b"[" + b"[" * 100_000 + b"]" * 100_001, "nested too deeply"),
    "keys.json": (
        lambda: json.dumps([{f"k{i}": i for i in range(90_000)}]).encode(),
        "longer than 65536 characters",
    ),
    "dtd.xlsx": (_dtd_workbook, "declares a DTD"),
    "bomb.xlsx": (dimension_bomb, "declares 16384 columns"),
    "strings_bomb.xlsx": (shared_strings_bomb, "(IMPORT_XLSX_MAX_PART_BYTES)"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_are_a_400_naming_the_problem(manager_client, settings, name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.api import assert_error

    settings.IMPORT_SYNC_MAX_BYTES = 10_000_000
    build, message = HOSTILE[name]
    response = manager_client.post(
        "/api/customers/import/",
        {"file": SimpleUploadedFile(name, build())},
        format="multipart",
    )
    error = assert_error(response, 400, "invalid_file")
    assert message in error["message"]
    assert "Traceback" not in error["message"] and "Error:" not in error["message"]


@pytest.mark.usefixtures("media_root", "jobs_in_process")
@pytest.mark.parametrize(
    "name", ["bomb.xlsx", "strings_bomb.xlsx", "deep.json", "header_over_128k.csv"]
)
def test_hostile_files_fail_their_job_with_the_message(name):
    from core.jobs.models import FailedTask

    build, message = HOSTILE[name]
    job = batch_job_create(
        kind="import",
        params={"table": "customers", "format": name.rsplit(".", 1)[1], "file_name": name},
        input_file=ContentFile(build()),
        input_name=name,
    )
    job.refresh_from_db()
    assert job.status == BatchJobStatus.FAILED
    assert message in job.message
    assert not FailedTask.objects.exists()


def test_the_progress_bar_names_the_phase_and_counts_rows_as_integers(tmp_path, capsys):
    source = tmp_path / "c.csv"
    source.write_bytes(
        csv_bytes([("email", "name"), *[(f"b{i}@example.com", "B") for i in range(10_000)]])
    )
    call_command("import_data", "customers", str(source), stdout=io.StringIO())
    bar = capsys.readouterr().err.replace("\r", "\n")
    assert "rows=10,000" in bar and "e+" not in bar
    for phase in ("reading", "checking", "writing"):
        assert f"Importing customers: {phase}" in bar


def test_rejected_staged_rows_are_kept_as_a_bitmap():
    """The rows rejected by the whole-file checks: a bitmap (a bit per row), in row order."""
    from core.dataio.errorlog import RowSet

    rows = RowSet()
    assert rows.add(5_000_000) and rows.add(3) and not rows.add(3) and rows.add(0)
    assert len(rows) == 3 and list(rows) == [0, 3, 5_000_000]
    assert 3 in rows and 4 not in rows and -1 not in rows and 10**9 not in rows
    assert len(rows._bits) <= 5_000_000 // 8 * 2


@pytest.mark.embedded
def test_bad_sales_are_left_out_whole_when_their_references_go_through_the_table(monkeypatch):
    """The references of sales with a line rejected while reading are buffered and moved to a
    temporary table every GROUPS_BUFFERED (here 2, so COPY is cut several times): every other
    line of those sales is still left out, the good sale imported."""
    from core.dataio import importer
    from sales.models import Sale
    from tests.factories import make_product

    monkeypatch.setattr(importer, "GROUPS_BUFFERED", 2)
    make_product(sku="OK-1", stock=10)
    rows = [("reference", "sold_at", "customer_email", "sku", "quantity", "unit_price")]
    for n in range(5):  # each bad sale: a valid line, then a bad one, then a valid one
        rows += [
            (f"BAD-{n}", "2025-01-01T00:00:00Z", "", "OK-1", "1", "1.00"),
            (f"BAD-{n}", "2025-01-01T00:00:00Z", "", "OK-1", "0", "1.00"),
            (f"BAD-{n}", "2025-01-01T00:00:00Z", "", "OK-2", "1", "1.00"),
        ]
    rows.append(("GOOD", "2025-01-01T00:00:00Z", "", "OK-1", "2", "1.00"))
    report = import_bytes("sales", csv_bytes(rows), on_error="skip")
    assert report.rejected == 15 and report.created == 1, report.summary()
    assert list(Sale.objects.values_list("reference", flat=True)) == ["GOOD"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_xlsx_with_a_dtd_in_utf16_is_refused_too(encoding):
    """expat reads UTF-16 parts: a DTD there must not slip past a UTF-8-only check."""
    data = xlsx_bytes([("email", "name"), ("a@example.com", "A")])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                xml = content.decode().replace("<?xml version='1.0' encoding='UTF-8'?>", "")
                xml = xml.replace('encoding="UTF-8"', 'encoding="UTF-16"')
                xml = xml.replace("<worksheet", '<!DOCTYPE w [<!ENTITY a "aaaa">]><worksheet', 1)
                content = xml.encode(encoding)
            target.writestr(info.filename, content)
    with pytest.raises(TableFileError, match=r"declares a DTD"):
        import_bytes("customers", out.getvalue(), "xlsx")
