"""Tables in files: CSV (UTF-8, delimiter sniffed), XLSX and JSON, read and written as streams.

Readers give the header and then ``(row_number, [cell text, ...])`` one row at a time, so memory
does not grow with the file. Rows are numbered as a spreadsheet shows them: the header is row 1,
the first data row is row 2 (for JSON, the first record is row 2 as well, as if a header row
preceded it). Writers take rows of cell text; the CSV writer escapes text cells against
spreadsheet formula injection (XLSX cells are typed text, JSON keeps the stored value).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

from salesproject.errors import ApplicationError

FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
DELIMITERS = (",", ";", "\t")
# A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 1 << 16
_MAX_RECORD = 1 << 20


class TableFileError(ApplicationError):
    """The file as a whole cannot be read: wrong format, encoding, headers, empty."""

    code = "invalid_file"


def escape_formula(text: str) -> str:
    """``=SUM(A1)`` is exported as ``'=SUM(A1)``: spreadsheets show it as text, never run it.
    Text that already starts with apostrophes before such a character gets one more, so that
    :func:`unescape_formula` gives it back exactly."""
    if text.lstrip("'").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    """The inverse of :func:`escape_formula`, so an exported file imports back unchanged (and
    ``'=x`` typed in a spreadsheet imports as ``=x``, as the spreadsheet shows it)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def format_from_name(name: str | None, explicit: str | None = None) -> str:
    """The format given explicitly, else guessed from the file name's extension."""
    if explicit:
        fmt = explicit.lower().lstrip(".")
        if fmt not in FORMATS:
            raise TableFileError(
                f"Unknown format {explicit!r}: use one of {', '.join(FORMATS)}.",
                fields={"format": [f"Use one of {', '.join(FORMATS)}."]},
            )
        return fmt
    suffix = (name or "").rsplit(".", 1)[-1].lower() if "." in (name or "") else ""
    if suffix in FORMATS:
        return suffix
    raise TableFileError(
        f"Cannot tell the format of {name or 'the file'!r} from its name: "
        f"name it .csv, .xlsx or .json, or give the format ({', '.join(FORMATS)}).",
        fields={"format": ["Give the format: csv, xlsx or json."]},
    )


class TableReader:
    """The header (lower-cased, stripped) and the rows of a table file."""

    format = ""
    row_label = "row"  # how messages name a row…
    source_label = "file"  # …and the whole input

    def __init__(self) -> None:
        self.header: list[str] = []
        self.delimiter: str | None = None

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        raise NotImplementedError

    @property
    def bytes_read(self) -> int:
        return 0


def _normalize_header(cells: Sequence[Any]) -> list[str]:
    return [
        str(cell if cell is not None else "").strip().lstrip("\ufeff").lower() for cell in cells
    ]


def empty_file_error(expected: Sequence[str]) -> TableFileError:
    return TableFileError(
        f"The file is empty: expected a header row with the columns {', '.join(expected)}."
    )


class _CountingReader(io.RawIOBase):
    """Counts the bytes taken from a binary stream (progress without knowing rows ahead)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size


def _not_utf8(error: UnicodeDecodeError, raw: IO[bytes]) -> TableFileError:
    line = _line_of_decode_error(raw)
    where = f" on line {line}" if line else ""
    return TableFileError(
        f"The file is not UTF-8 text: byte 0x{error.object[error.start]:02X}{where} cannot be "
        "decoded. Save it as UTF-8 (in Excel: 'CSV UTF-8') and import it again."
    )


def _line_of_decode_error(raw: IO[bytes]) -> int | None:
    """The line of the first byte that is not UTF-8, found by reading the file again (only on
    this error path: decoding in big chunks does not know its line)."""
    try:
        raw.seek(0)
    except (AttributeError, OSError, ValueError):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    while chunk := raw.read(_CHUNK):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            return line + chunk[: max(error.start, 0)].count(b"\n")
        line += chunk.count(b"\n")
    return None


class CsvReader(TableReader):
    """UTF-8 with or without BOM; the delimiter (comma, semicolon or tab) is sniffed from the
    header, choosing the one that yields the expected column names."""

    format = "csv"

    def __init__(self, raw: IO[bytes], expected: Sequence[str]) -> None:
        super().__init__()
        self._raw = _CountingReader(raw)
        buffered = io.BufferedReader(self._raw, _CHUNK)
        start = buffered.peek(4)[:4]
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise TableFileError(
                "The file is UTF-16 text; save it as UTF-8 (in Excel: 'CSV UTF-8') and import "
                "it again."
            )
        self._text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="strict", newline="")
        try:
            first_line = self._text.readline()
        except UnicodeDecodeError as error:
            raise _not_utf8(error, raw) from None
        if not first_line.strip():
            raise empty_file_error(expected)
        self.delimiter = _sniff_delimiter(first_line, expected)
        self.header = _normalize_header(next(csv.reader([first_line], delimiter=self.delimiter)))
        self._reader = csv.reader(self._text, delimiter=self.delimiter, strict=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        row_number = 1
        reader = self._reader
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as error:
                raise _not_utf8(error, self._raw.raw) from None
            except csv.Error as error:
                raise TableFileError(
                    f"Row {row_number + 1} cannot be read as CSV: {error}."
                ) from None
            row_number += 1
            if values and any(values):
                yield row_number, values

    @property
    def bytes_read(self) -> int:
        return self._raw.count


def _sniff_delimiter(first_line: str, expected: Sequence[str]) -> str:
    wanted = set(expected)
    best, best_score = ",", (-1, -1)
    for delimiter in DELIMITERS:
        cells = _normalize_header(next(csv.reader([first_line], delimiter=delimiter)))
        score = (len(wanted.intersection(cells)), len(cells))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


class XlsxReader(TableReader):
    """The first worksheet, read in openpyxl's streaming (read-only) mode."""

    format = "xlsx"

    def __init__(self, raw: IO[bytes], expected: Sequence[str]) -> None:
        super().__init__()
        from openpyxl import load_workbook

        try:
            self._workbook = load_workbook(raw, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
            raise TableFileError(
                f"The file is not a valid XLSX workbook ({type(error).__name__}). Export it "
                "from your spreadsheet as .xlsx, or import a CSV."
            ) from None
        sheet = self._workbook.worksheets[0]
        self._rows = sheet.iter_rows(values_only=True)
        for header in self._rows:
            if any(cell not in (None, "") for cell in header):
                break
        else:
            raise empty_file_error(expected)
        self.header = _normalize_header(header)
        while self.header and not self.header[-1]:
            self.header.pop()

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        width = len(self.header)
        for row_number, values in enumerate(self._rows, start=2):
            cells = [_cell_text(value) for value in values]
            while len(cells) > width and not cells[-1]:
                cells.pop()
            if any(cells):
                yield row_number, cells
        self._workbook.close()


class JsonReader(TableReader):
    """A JSON array of objects, parsed one object at a time (numbers kept exact as decimals)."""

    format = "json"

    def __init__(self, raw: IO[bytes], expected: Sequence[str]) -> None:
        super().__init__()
        self._raw = _CountingReader(raw)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._raw, _CHUNK), encoding="utf-8-sig", errors="strict"
        )
        self._decoder = json.JSONDecoder(parse_float=Decimal)
        self._buffer = ""
        self._pos = 0
        self._skip_space()
        if self._at_end():
            raise empty_file_error(expected)
        if self._buffer[self._pos] != "[":
            raise TableFileError(
                "A JSON import is an array of objects, one per row: "
                f'[{{"{expected[0]}": ...}}, ...].'
            )
        self._pos += 1
        self._first = self._next_object(2)
        self.header = _normalize_header(self._first.keys()) if self._first is not None else []
        if self._first is None:
            self.header = list(expected)  # an empty array: nothing to import, headers are moot

    def _fill(self) -> bool:
        try:
            chunk = self._text.read(_CHUNK)
        except UnicodeDecodeError as error:
            raise _not_utf8(error, self._raw.raw) from None
        if not chunk:
            return False
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True

    def _skip_space(self) -> None:
        while True:
            while self._pos < len(self._buffer) and self._buffer[self._pos] in " \t\r\n":
                self._pos += 1
            if self._pos < len(self._buffer) or not self._fill():
                return

    def _at_end(self) -> bool:
        return self._pos >= len(self._buffer)

    def _next_object(self, row_number: int) -> dict | None:
        """The next object of the array, or None at its end."""
        self._skip_space()
        if self._at_end():
            raise TableFileError(f"The JSON array is not closed (after row {row_number - 1}).")
        if self._buffer[self._pos] == "]":
            return None
        if row_number > 2:
            if self._buffer[self._pos] != ",":
                raise TableFileError(f"Invalid JSON before row {row_number}: expected ',' or ']'.")
            self._pos += 1
            self._skip_space()
        while True:
            try:
                value, self._pos = self._decoder.raw_decode(self._buffer, self._pos)
                break
            except json.JSONDecodeError as error:
                # Maybe the object goes on in the next chunk; no row is bigger than a megabyte.
                if len(self._buffer) - self._pos < _MAX_RECORD and self._fill():
                    continue
                raise TableFileError(f"Invalid JSON in row {row_number}: {error.msg}.") from None
        if not isinstance(value, dict):
            raise TableFileError(
                f"Row {row_number} of the JSON array is not an object; each row is an object "
                "with the column names as keys."
            )
        return value

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        row_number = 2
        record = self._first
        while record is not None:
            yield row_number, record_cells(record, self.header)
            row_number += 1
            record = self._next_object(row_number)

    @property
    def bytes_read(self) -> int:
        return self._raw.count


class BadRow:
    """Given by a reader instead of a row's cells when the row cannot be split into cells
    (e.g. a JSON object with keys the first one does not have); the importer rejects the row."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def record_cells(
    record: Any, header: Sequence[str], *, all_keys: bool = False
) -> list[str] | BadRow:
    """A JSON object's values as cells in ``header`` order. A key left out reads as an empty
    cell, unless ``all_keys`` requires every key (API items: an update must not clear a value
    because one item omitted its key)."""
    if not isinstance(record, dict):
        return BadRow("Not an object; each row is an object with the column names as keys.")
    keys = _normalize_header(record.keys())
    unknown = [key for key in keys if key not in header]
    if unknown:
        return BadRow(
            f"Unknown key(s) {', '.join(unknown)}; the first row has {', '.join(header)}."
        )
    missing = [name for name in header if name not in keys] if all_keys else ()
    if missing:
        return BadRow(
            f"Key(s) {', '.join(missing)} missing; every row has the keys of the first one "
            "(give null for an empty value)."
        )
    nested = [key for key, value in zip(keys, record.values(), strict=True) if _is_nested(value)]
    if nested:
        return BadRow(f"Key(s) {', '.join(nested)} hold a list or an object; give plain values.")
    if keys == header:
        return [_cell_text(value) for value in record.values()]
    by_key = dict(zip(keys, record.values(), strict=True))
    return [_cell_text(by_key.get(name)) for name in header]


def _is_nested(value: Any) -> bool:
    return isinstance(value, dict | list)


class RecordsReader(TableReader):
    """Rows from objects already parsed (an API request's JSON items); the header is the keys
    of the first one. Rows are numbered by item index, from 0."""

    format = "json"
    row_label = "item"
    source_label = "request"

    def __init__(self, records: Sequence[Any], expected: Sequence[str]) -> None:
        super().__init__()
        self._records = records
        first = records[0] if records else None
        self.header = _normalize_header(first.keys()) if isinstance(first, dict) else list(expected)

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        header = self.header
        for index, record in enumerate(self._records):
            yield index, record_cells(record, header, all_keys=True)


def open_table(raw: IO[bytes], fmt: str, expected: Sequence[str]) -> TableReader:
    reader_class = {"csv": CsvReader, "xlsx": XlsxReader, "json": JsonReader}[fmt]
    return reader_class(raw, expected)


# --- writers -----------------------------------------------------------------------------------


def iter_csv(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int] = ()
) -> Iterator[bytes]:
    """CSV bytes in chunks of about 64 KiB (UTF-8, comma, minimal quoting, ``\\r\\n``). The
    cells of ``text_columns`` (positions) are escaped with :func:`escape_formula`: a CSV file
    is opened by spreadsheets, which would run ``=...`` as a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    risky = (*FORMULA_PREFIXES, "'")
    for row in rows:
        for index in text_columns:
            cell = row[index]
            if cell.startswith(risky):
                row = list(row)
                row[index] = escape_formula(cell)
        writer.writerow(row)
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def iter_json(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int] = ()
) -> Iterator[bytes]:
    """A JSON array of objects, one per line, every value a string (decimals stay exact) and
    the stored text as it is (no formula escaping: no spreadsheet reads JSON)."""
    buffer = io.StringIO()
    buffer.write("[")
    separator = "\n"
    dumps = json.dumps
    for row in rows:
        buffer.write(separator)
        buffer.write(dumps(dict(zip(header, row, strict=True)), ensure_ascii=False))
        separator = ",\n"
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    buffer.write("\n]\n")
    yield buffer.getvalue().encode()


def iter_xlsx(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int] = ()
) -> Iterator[bytes]:
    """An XLSX workbook streamed as the rows come (see :mod:`salesproject.dataio.xlsx_stream`).
    Every cell is a text cell, as in the CSV: a spreadsheet must not reinterpret SKUs or
    prices, nor run ``=...`` as a formula, so no apostrophe is needed."""
    from salesproject.dataio.xlsx_stream import iter_xlsx_stream

    return iter_xlsx_stream(header, rows)


# writer(header, rows, text_columns) -> the file's bytes in chunks
WRITERS: dict[str, Callable[..., Iterator[bytes]]] = {
    "csv": iter_csv,
    "json": iter_json,
    "xlsx": iter_xlsx,
}
