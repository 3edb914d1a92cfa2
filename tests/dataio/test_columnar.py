"""The columnar way of a CSV import (core/dataio/columnar.py) stages exactly what the per-cell way
stages, or leaves the row to it.

Cell by cell: thousands of generated cells per kind (canonical ones, near misses, hostile text)
staged both ways into PostgreSQL and read back. File by file: the same file imported with
IMPORT_COLUMNAR_PARSE on and off, in small blocks, gives the same report (rows, counts, every
error's row, column and message) and, written, the same tables and rollups, whatever the file
holds: CRLF, a BOM, semicolons, empty lines, bad cells, quotes, NULs, non-UTF-8 bytes, overlong
lines.
"""

from __future__ import annotations

import io
import os
import random
import string
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from django.db import connection, transaction
from psycopg.pq import TransactionStatus

from core.dataio import readers
from core.dataio.columnar import ColumnarParser, LineBlock
from core.dataio.columns import CellError, Column
from core.dataio.formats import TableFileError
from core.dataio.importer import ImportCancelled
from core.dataio.stage import Stage, fetch_all
from core.dataio.tables import get_table
from tests.dataio import (
    SALE_HEADER,
    database_state,
    export_bytes,
    import_bytes,
    rollup_rows,
    row_counts,
)
from tests.factories import make_customer, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

SEED = 20_261_206


# --- cell by cell -------------------------------------------------------------------------------


def _canonical(column: Column, rng: random.Random) -> str:
    """A cell in the form the columnar way must take (what exports and spreadsheets write)."""
    kind = column.kind
    if kind == "datetime":
        moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(40 * 365 * 86400),
            microseconds=rng.choice([0, rng.randrange(10**6)]),
        )
        text = moment.isoformat(sep=rng.choice("T "))
        return text.replace("+00:00", "Z") if rng.random() < 0.5 else text
    if kind == "decimal":
        whole = rng.randrange(int(column.max_value))
        return f"{whole}" + rng.choice(["", f".{rng.randrange(10)}", f".{rng.randrange(100):02d}"])
    if kind == "integer":
        return str(rng.randrange(max(column.min_value, 0), column.max_value + 1))
    if kind == "email":
        user = rng.choice(["a", "x.y", "first_last+tag", "Z-9"])
        return f"{user}{rng.randrange(10**6)}@example{rng.randrange(9)}.com"
    if kind == "boolean":
        return rng.choice(["true", "false", "1", "0", "yes", "no", "y", "n", "t", "f"])
    if kind == "country":
        return rng.choice(["FR", "DE", "JP", "US", "BR"])
    return rng.choice(["Zoë", "HAM-001", "Tools & more", "日本語", "=x", "a  b", "x'y"]) + str(
        rng.randrange(1000)
    )


_ALPHABET = (
    string.ascii_letters + string.digits + " .-+:TZtz'@_;\t\x0b\x0c\x1c\x85\xa0\u2003\u3000é日"
)


def _near_miss(column: Column, rng: random.Random) -> str:
    """A canonical cell with a few characters changed, added or removed; or random text."""
    if rng.random() < 0.2:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(0, 30)))
    text = list(_canonical(column, rng))
    for _ in range(rng.randrange(1, 3)):
        at = rng.randrange(len(text) + 1)
        action = rng.randrange(3)
        if action == 0 and text and at < len(text):
            del text[at]
        elif action == 1 and at < len(text):
            text[at] = rng.choice(_ALPHABET)
        else:
            text.insert(at, rng.choice(_ALPHABET))
    return "".join(text)


_EDGES = {
    "datetime": [
        "2024-02-29T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2025-12-31T23:59:59.999999+23:59",
        "2025-01-01T00:00:00-23:59",
        "2025-01-01T24:00:00Z",
        "2025-01-01T00:60:00Z",
        "2025-01-01T00:00:60Z",
        "2025-13-01T00:00:00Z",
        "2025-00-10T00:00:00Z",
        "2025-01-00T00:00:00Z",
        "2025-04-31T00:00:00Z",
        "1000-01-01T00:00:00Z",
        "0999-12-31T23:59:59Z",
        "9998-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",
        "2025-01-01T10:00:00",
        "2025-01-01T10:00:00.1234567Z",
        "2025-01-01T10:00:00+24:00",
        "2025-01-01T10:00:00+01:60",
        "2025-01-01t10:00:00Z",
        "2025-01-01T10:00:00z",
        "2025-01-01T10:00:00,5Z",
        "2025-01-01T10:00:00.Z",
        "1900-02-29T00:00:00Z",
        "2000-02-29T12:00:00.5-05:30",
    ],
    "decimal": [
        "0",
        "-0",
        "0.00",
        "-0.00",
        "9999999999.99",
        "10000000000.00",
        "999999999999.99",
        "-1",
        "-0.01",
        "1.234",
        "1.230",
        "1.",
        ".5",
        "+1",
        "1e3",
        "NaN",
        "Infinity",
        "0001.10",
        "\uff11\uff12",  # fullwidth digits
        "12 ",
        " 12",
    ],
    "integer": [
        "0",
        "-0",
        "1",
        "1000000",
        "1000001",
        "-1",
        "007",
        "+5",
        "1.0",
        "١٢",
        "999999999999999999",
        "9999999999999999999",
        "-9223372036854775808",
    ],
    "email": [
        "a@b.co",
        "a@b.c",
        "a@b-.com",
        "a@-b.com",
        "a..b@c.com",
        ".a@c.com",
        "a@c..com",
        "ö@example.com",
        "a@exämple.com",
        "a'b@example.com",
        "a@example.com-",
        "a@127.0.0.1",
        "x" * 250 + "@example.com",
        "a@" + "b" * 64 + ".com",
    ],
    "text": [
        "'=x",
        "'x",
        "''=x",
        " a",
        "a ",
        "\xa0a",
        "a\u3000",
        "\x1ca",
        "x" * 64,
        "x" * 65,
        "é" * 64,
    ],
    "choice": ["completed", "Completed", "cancelled", " completed", "unknown"],
    "boolean": ["TRUE", "True", "yes", "Y", "2", "on"],
    "country": ["fr", "FR", "XX", "EU", "GB", "UK"],
}

MAX_AMOUNT = Decimal("999999999999.99")  # numeric(14, 2), the stage's type
COLUMNS = [
    *get_table("sales").columns,
    *get_table("products").columns,
    *get_table("customers").columns,
    Column("amount", "decimal", min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT),
    Column("n", "integer", min_value=-(10**18), max_value=10**18),
    Column("at", "datetime", blank=True),
    Column("flag", "boolean", blank=True, default=True),
]


def _stage_both(column: Column, cells: list[str]) -> tuple[dict, dict, set[int]]:
    """Both ways into PostgreSQL: (row → value staged the columnar way, row → value staged the
    per-cell way, rows whose cell the per-cell way rejects)."""
    parser = ColumnarParser([column], [0], 1)
    block = LineBlock(2, pa.array(cells, pa.string()), ",")
    payload, count, others = parser.parse(block)
    columnar = Stage([column])
    columnar.load_binary(parser.copy_columns, [payload])
    per_cell, rejected = Stage([column]), set()
    rows = []
    for row_number, cell in enumerate(cells, start=2):
        try:
            rows.append((row_number, column.parse(cell)))
        except CellError:
            rejected.add(row_number)
    per_cell.load(rows)
    # Every line staged or left to the per-cell parse, but the empty ones: no rows at all.
    left = [row for row, _ in others]
    assert count + len(left) == len(cells) - cells.count("")
    assert all(cells[row - 2] != "" for row in left)
    read = f"SELECT row_number, {column.name} FROM %s"
    return (
        dict(fetch_all(read % columnar.name)),
        dict(fetch_all(read % per_cell.name)),
        rejected,
    )


@pytest.mark.parametrize("column", COLUMNS, ids=lambda column: f"{column.name}-{column.kind}")
def test_every_cell_staged_the_columnar_way_is_the_per_cell_value(column):
    rng = random.Random(f"{SEED}-{column.name}")
    kind = column.kind
    canonical = [_canonical(column, rng) for _ in range(2000)]
    if kind == "choice":
        canonical = [rng.choice(column.choices) for _ in range(200)]
    if column.max_length:
        canonical = [cell[: column.max_length] for cell in canonical if not cell.startswith("'")]
    canonical = [cell for cell in canonical if cell.strip() == cell and not cell.startswith("'")]
    hostile = [_near_miss(column, rng) for _ in range(3000)] + _EDGES.get(kind, []) + ["", " "]
    hostile = [cell.replace(",", "") for cell in hostile]
    columnar, per_cell, rejected = _stage_both(column, canonical + hostile)
    taken = set(columnar)
    # Every canonical cell goes the columnar way (else the way would quietly do nothing)...
    assert set(range(2, 2 + len(canonical))) <= taken
    # ...none the per-cell way rejects does, and each one staged holds the same value.
    assert not taken & rejected, sorted((canonical + hostile)[row - 2] for row in taken & rejected)
    different = {
        (canonical + hostile)[row - 2]: (value, per_cell[row])
        for row, value in columnar.items()
        if value != per_cell[row]
    }
    assert not different


def test_a_numeric_field_holds_every_amount_exactly():
    """The four base-10,000 digits of the binary numeric, for amounts at each digit's edges."""
    column = Column("amount", "decimal", min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT)
    amounts = [0, 1, 9_999, 10_000, 99_999_999, 100_000_000, 999_999_999_999]
    cells = []
    for whole in amounts:
        for cents in ("00", "01", "50", "99"):
            cells += [f"{whole}.{cents}", f"-{whole}.{cents}"]
    columnar, per_cell, rejected = _stage_both(column, cells)
    assert not rejected and len(columnar) == len(cells) and columnar == per_cell
    assert columnar[2 + cells.index("-999999999999.99")] == Decimal("-999999999999.99")


# --- file by file -------------------------------------------------------------------------------


@pytest.fixture
def small_blocks(settings, monkeypatch):
    """Blocks of 2 KB (a few dozen lines each), lines of at most 1,024 characters."""
    settings.IMPORT_MAX_LINE_LENGTH = 1024
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1)


@pytest.fixture
def catalog():
    for n in range(20):
        make_product(sku=f"SKU-{n}", price="9.50", stock=10**6)
    for n in range(10):
        make_customer(email=f"c{n}@example.com")


def _sales_lines(count: int, rng: random.Random) -> list[list[str]]:
    lines = []
    for n in range(count):
        sale = n // 2
        moment = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
            minutes=sale * 7, microseconds=sale % 3
        )
        lines.append(
            [
                f"S-{sale}",
                moment.isoformat().replace("+00:00", "Z"),
                f"c{sale % 10}@example.com" if sale % 4 else "",
                f"SKU-{(sale + n) % 20}",
                str(1 + n % 5),
                rng.choice(["9.50", "9.5", "12", "0.99"]),
                "cancelled" if sale % 13 == 0 else "completed",
            ]
        )
    return lines


def _file(
    lines: list[list[str]], delimiter: str = ",", end: str = "\n", header=SALE_HEADER
) -> bytes:
    return "".join(delimiter.join(cells) + end for cells in [header, *lines]).encode()


def _outcome(data: bytes, columnar: bool, settings, **options):
    settings.IMPORT_COLUMNAR_PARSE = columnar
    try:
        report = import_bytes("sales", data, **options)
    except TableFileError as error:
        return ("file error", error.message)
    result = report.as_dict()
    del result["seconds"], result["rows_per_second"], result["analyze_seconds"]
    return result


def _variants(rng: random.Random) -> dict[str, bytes]:
    lines = _sales_lines(400, rng)
    bad = [list(cells) for cells in lines]
    bad[10][1] = "2025-02-30T00:00:00Z"
    bad[20][4] = "0"
    bad[30][5] = "12,50".replace(",", "")  # 1250: valid, a different price
    bad[40][3] = "NOPE"
    bad[50][0] = " S-25 "
    bad[60][6] = "Completed"
    bad[70][1] = "2025-01-01T10:00:00"  # naive: TIME_ZONE's rules
    bad[80][2] = "'c1@example.com"
    bad[90] = bad[90][:5]
    bad[100] = [*bad[100], "", ""]
    bad[110] = [*bad[110], "x"]
    bad[120] = ["", "", "", "", "", "", ""]
    bad[130][4] = "1000001"
    bad[140][5] = "-0.01"
    base = _file(lines)
    text = base.decode()
    middle = len(text) // 2
    newline_in_middle = text.index("\n", middle) + 1
    return {
        "canonical": base,
        "crlf": _file(lines, end="\r\n"),
        "bom and semicolons": b"\xef\xbb\xbf" + _file(lines, delimiter=";"),
        "bad cells": _file(bad),
        "empty lines": base.replace(b"\n", b"\n\n", 50).replace(b"\n\n", b"\n \n", 5),
        "no final newline": base.rstrip(b"\n"),
        "quotes from the middle": (
            text[:newline_in_middle] + text[newline_in_middle:].replace("S-1", '"S-1"', 1)
        ).encode(),
        "quoted newline": (
            text[:newline_in_middle] + '"S-9\n9",' + text[newline_in_middle:].split(",", 1)[1]
        ).encode(),
        "nul byte": base.replace(b"S-150,", b"S-1\x0050,", 1),
        "lone carriage return": base.replace(b"\nS-160,", b"\rS-160,", 1),
        "not utf-8 in the middle": base.replace(b"S-170,", b"S-\xff70,", 1),
        "overlong line": base.replace(b"S-180,", b"S-" + b"8" * 2000 + b",", 1),
        "error columns": _file(
            [[*cells, "old error"] for cells in lines], header=[*SALE_HEADER, "_error"]
        ),
        "columns in another order": _file(
            [[cells[3], *cells[:3], *cells[4:]] for cells in lines],
            header=[SALE_HEADER[3], *SALE_HEADER[:3], *SALE_HEADER[4:]],
        ),
        "without the optional status": _file(
            [cells[:6] for cells in lines], header=SALE_HEADER[:6]
        ),
    }


@pytest.mark.usefixtures("small_blocks", "catalog")
@pytest.mark.parametrize("on_error", ["abort", "skip"])
def test_a_file_gives_the_same_report_either_way(settings, on_error):
    for name, data in _variants(random.Random(SEED)).items():
        both = [
            _outcome(data, columnar, settings, on_error=on_error, dry_run=True)
            for columnar in (True, False)
        ]
        assert both[0] == both[1], name


@pytest.mark.usefixtures("small_blocks", "catalog")
def test_a_written_import_leaves_the_same_tables_either_way(settings):
    data = _variants(random.Random(SEED))["bad cells"]
    states = []
    for columnar in (True, False):
        with transaction.atomic():
            outcome = _outcome(data, columnar, settings, on_error="skip")
            # (not the ids: the sequences are not rolled back)
            states.append((outcome, row_counts(), rollup_rows(), export_bytes("sales")))
            transaction.set_rollback(True)
    assert states[0][0]["created"] > 150 and states[0][0]["rejected"] > 10
    assert states[0] == states[1]


@pytest.mark.usefixtures("small_blocks", "catalog")
def test_the_columnar_way_takes_the_canonical_lines(settings, monkeypatch):
    """Not a silent fallback: a canonical file's lines are all staged the columnar way, a file
    with quotes from its middle only up to there."""
    staged = []
    parse = ColumnarParser.parse

    def counting(self, block):
        result = parse(self, block)
        staged.append(result[1])
        return result

    monkeypatch.setattr(ColumnarParser, "parse", counting)
    variants = _variants(random.Random(SEED))
    outcome = _outcome(variants["canonical"], True, settings, dry_run=True)
    assert outcome["created"] == 200, outcome
    assert sum(staged) == 400 and len(staged) > 10  # many blocks
    staged.clear()
    outcome = _outcome(variants["quotes from the middle"], True, settings, dry_run=True)
    assert outcome["created"] == 200
    assert 100 < sum(staged) < 300


@pytest.mark.parametrize("columnar", [True, False])
@pytest.mark.usefixtures("small_blocks", "catalog")
def test_the_cancel_flag_is_read_between_copies(settings, monkeypatch, columnar):
    """A job's cancel flag is a query: never run while a COPY holds the connection (it waited
    there forever), still read while the file is loaded."""
    from core.dataio import importer

    monkeypatch.setattr(importer, "CHECK_SECONDS", 0.0)
    settings.IMPORT_COLUMNAR_PARSE = columnar
    calls = []

    def should_cancel():
        status = connection.connection.info.transaction_status
        assert status != TransactionStatus.ACTIVE, "the cancel flag was read during a COPY"
        calls.append(fetch_all("SELECT 1"))
        return len(calls) >= 4

    before = database_state()
    with pytest.raises(ImportCancelled):
        import_bytes(
            "sales",
            _file(_sales_lines(3000, random.Random(SEED))),
            should_cancel=should_cancel,
            batch_size=1000,
        )
    assert len(calls) == 4 and database_state() == before


# --- the reader's blocks against its rows ---------------------------------------------------

_TOKENS = [
    b"a",
    b"b7",
    b"S-1",
    b",",
    b",",
    b",",
    b";",
    b"\n",
    b"\n",
    b"\r\n",
    b"\r",
    b'"',
    b"\x00",
    "é".encode(),
    b"\xff",
    b" ",
    b"",
    "日本".encode(),
    b"x" * 700,
]


def _expanded(reader: readers.CsvReader) -> list:
    """What the importer sees from ``pieces()``: each block's lines as cells (empty ones left
    out, as ``rows()`` does), then the per-row rest."""
    seen = []
    for piece in reader.pieces():
        if isinstance(piece, LineBlock):
            for index, line in enumerate(piece.lines.to_pylist()):
                cells = line.split(piece.delimiter)
                if any(cells):
                    seen.append((piece.first_row + index, cells))
        else:
            seen += [(row, getattr(cells, "message", cells)) for row, cells in piece]
    return seen


def _read(data: bytes, blocks: bool) -> list | tuple[str, str]:
    try:
        reader = readers.CsvReader(io.BytesIO(data), ["reference", "sku", "quantity"])
        if blocks:
            return _expanded(reader)
        return [(row, getattr(cells, "message", cells)) for row, cells in reader.rows()]
    except TableFileError as error:
        return ("file error", error.message)


@pytest.mark.usefixtures("small_blocks")
def test_the_blocks_give_the_rows_the_row_reader_gives():
    """Random files of commas, semicolons, line ends of every kind, quotes, NULs, bytes that
    are not UTF-8 and overlong lines, in 2 KB blocks: the same rows, numbers and cells (or the
    same file error) as CsvReader.rows()."""
    rng = random.Random(SEED)
    columnar_files = 0
    for _ in range(400):
        weights = [rng.random() for _ in _TOKENS]
        for token in (b'"', b"\x00", b"\xff", b"\r", b"x" * 700):  # most files: none of these
            if rng.random() < 0.8:
                weights[_TOKENS.index(token)] = 0
        body = b"".join(rng.choices(_TOKENS, weights, k=rng.randrange(0, 2500)))
        header = rng.choice([b"reference,sku,quantity", b"\xef\xbb\xbfreference;sku;quantity"])
        data = header + rng.choice([b"\n", b"\r\n"]) + body
        expected = _read(data, blocks=False)
        assert _read(data, blocks=True) == expected, data[:200]
        columnar_files += not isinstance(expected, tuple) and b'"' not in body
    assert columnar_files > 100


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("end", [b"\n", b"\r\n"])
@pytest.mark.parametrize("letter", ["x", "é"])
def test_lines_at_the_length_limit_are_read_alike(end, letter):
    """Lines of 1,022 to 1,026 characters (IMPORT_MAX_LINE_LENGTH 1,024), in one byte or two:
    the blocks take or refuse each as the row reader does."""
    lines = [f"S-{length},{letter * (length - 8)},1".encode() for length in range(1020, 1027)]
    data = end.join([b"reference,sku,quantity", *lines, b"S-last,ok,1"]) + end
    expected = _read(data, blocks=False)
    assert any(isinstance(cells, str) for _, cells in expected)  # some are too long
    assert _read(data, blocks=True) == expected


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("kind", ["carriage returns only", "header ending in a carriage return"])
def test_a_file_the_blocks_cannot_start_is_read_whole_by_the_row_reader(settings, kind):
    """When the header line is not what the row reader read (a lone CR ends it), the blocks
    give up after reading the file again from its start: the rows come from a new row reader
    of the whole file (they were read from where the first reader's buffer had stopped: rows
    lost or spliced past its first 64 KB)."""
    lines = _sales_lines(3000, random.Random(SEED))
    data = _file(lines, end="\r")
    if kind == "header ending in a carriage return":
        data = (
            b",".join(name.encode() for name in SALE_HEADER)
            + b"\r"
            + _file(lines)[len(",".join(SALE_HEADER)) + 1 :]
        )
    assert len(data) > 3 * 65_536
    both = [_outcome(data, columnar, settings, dry_run=True) for columnar in (True, False)]
    assert both[0] == both[1]
    assert both[0]["rows"] == 3000 and both[0]["created"] == 1500


def test_the_web_app_loads_pyarrow_only_to_read_a_file():
    """pyarrow adds ~36 MB to a process: the web app (URLs, admin, API, the import code) does
    not import it; reading a file in blocks does."""
    code = (
        "import sys, django; django.setup(); import salesproject.urls, salesproject.wsgi; "
        "from django.urls import get_resolver; get_resolver().url_patterns; "
        "import core.dataio.importer, core.dataio.readers; print('pyarrow' in sys.modules); "
        "import io; from core.dataio.readers import CsvReader; "
        "r = CsvReader(io.BytesIO(b'sku,name\\nA,B\\n'), ['sku', 'name']); list(r.pieces()); "
        "print('pyarrow' in sys.modules)"
    )
    environment = {**os.environ, "READ_DOT_ENV": "false"}
    environment.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=False
    )
    assert result.stdout.split() == ["False", "True"], result.stderr[-2000:]
