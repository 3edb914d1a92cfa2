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

from django.conf import settings

from core.errors import ApplicationError

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
_NEWLINES = ("\n", "\r")


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

    def again(self) -> TableReader | None:
        """A new reader of the same input from its start (the errors file is written from a
        second pass, with the cells exactly as read), or None when it cannot be read again."""
        return None


def max_columns() -> int:
    return settings.IMPORT_MAX_COLUMNS


def max_line_length() -> int:
    return settings.IMPORT_MAX_LINE_LENGTH


def check_width(count: int, what: str = "The header") -> None:
    """A file wider than IMPORT_MAX_COLUMNS is refused before its rows are read."""
    if count > max_columns():
        raise TableFileError(
            f"{what} has {count} columns; an import file has at most {max_columns()} "
            "(IMPORT_MAX_COLUMNS)."
        )


def too_long(length: int) -> BadRow:
    return BadRow(
        f"the row is longer than {max_line_length()} characters ({length:,} or more; "
        "IMPORT_MAX_LINE_LENGTH): it was not read."
    )


def _rewind(raw: IO[bytes]) -> bool:
    try:
        raw.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return True


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
        self._source, self._expected = raw, expected
        self._raw = _CountingReader(raw)
        buffered = io.BufferedReader(self._raw, _CHUNK)
        start = buffered.peek(4)[:4]
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise TableFileError(
                "The file is UTF-16 text; save it as UTF-8 (in Excel: 'CSV UTF-8') and import "
                "it again."
            )
        self._text = io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="strict", newline="")
        limit = max_line_length()
        if csv.field_size_limit() < limit:  # a field is never longer than its line
            csv.field_size_limit(limit)
        self._lines = _BoundedLines(self._text, limit)
        try:
            first_line = self._text.readline(limit + 1)
        except UnicodeDecodeError as error:
            raise _not_utf8(error, raw) from None
        if len(first_line) > limit and not first_line.endswith(_NEWLINES):
            raise TableFileError(
                f"The header line is longer than {limit} characters (IMPORT_MAX_LINE_LENGTH): "
                "is this a table file with one header line?"
            )
        if not first_line.strip():
            raise empty_file_error(expected)
        try:
            self.delimiter = _sniff_delimiter(first_line, expected)
            self.header = _normalize_header(
                next(csv.reader([first_line], delimiter=self.delimiter))
            )
        except csv.Error as error:
            raise TableFileError(f"The header line cannot be read as CSV: {error}.") from None
        check_width(len(self.header))
        self._reader = csv.reader(self._lines, delimiter=self.delimiter, strict=False)

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
            if self._lines.overlong:
                yield row_number, too_long(self._lines.overlong)
                self._lines.overlong = 0
            elif values and any(values):
                yield row_number, values

    @property
    def bytes_read(self) -> int:
        return self._raw.count

    def again(self) -> CsvReader | None:
        return CsvReader(self._source, self._expected) if _rewind(self._source) else None


class _BoundedLines:
    """The physical lines of a text stream, none longer than ``limit`` characters in memory: a
    longer line is skipped (read and dropped in chunks), given to the CSV parser as an empty
    line, and its length left in ``overlong`` for the reader to reject that row."""

    def __init__(self, text: IO[str], limit: int) -> None:
        self._text, self._limit = text, limit
        self.overlong = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self._text.readline(self._limit + 1)
        if not line:
            raise StopIteration
        if len(line) <= self._limit or line.endswith(_NEWLINES):
            return line
        length = len(line)
        while (rest := self._text.readline(_CHUNK)) and not rest.endswith(_NEWLINES):
            length += len(rest)
        self.overlong = length + len(rest)
        return "\n"


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
    """The first worksheet (and the sheets continuing it), read as a stream."""

    format = "xlsx"

    def __init__(self, raw: IO[bytes], expected: Sequence[str]) -> None:
        super().__init__()
        from openpyxl import load_workbook

        self._source, self._expected = raw, expected
        try:
            _refuse_dtds(raw)
            raw.seek(0)
            self._workbook = load_workbook(raw, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError, SyntaxError) as e:
            raise TableFileError(
                f"The file is not a valid XLSX workbook ({type(e).__name__}). Export it "
                "from your spreadsheet as .xlsx, or import a CSV."
            ) from None
        # Read-only mode takes the sheet's size from its <dimension> tag and pads every row to
        # it: a tiny file declaring A1:XFD1048576 would make a billion cells. Refuse a declared
        # size over the limits, then forget it and read each row no wider than the limit.
        declared_width, declared_rows = sheet.max_column, sheet.max_row
        if declared_width and declared_width > max_columns():
            raise TableFileError(
                f"The sheet declares {declared_width} columns (its dimension "
                f"{sheet.calculate_dimension()}); an import file has at most {max_columns()} "
                "(IMPORT_MAX_COLUMNS). Copy only the table into a new sheet and save it again."
            )
        if declared_rows and declared_rows - 1 > settings.IMPORT_MAX_ROWS:
            raise TableFileError(
                f"The sheet declares {declared_rows - 1} data rows; an import file has at most "
                f"{settings.IMPORT_MAX_ROWS} (IMPORT_MAX_ROWS). Split it into smaller files."
            )
        self._rows = _sheet_rows(sheet, max_columns() + 1)
        for _, header in self._rows:
            if any(cell not in (None, "") for cell in header):
                break
        else:
            raise empty_file_error(expected)
        self.header = _normalize_header(header)
        while self.header and not self.header[-1]:
            self.header.pop()
        check_width(len(self.header))

    def _continued_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """The first sheet's rows, then those of each later sheet that starts with the same
        header (an export longer than a sheet continues on "data 2", "data 3"…), numbered on
        as if in one sheet. Other sheets (notes, pivots) are not read."""
        last = 0
        for last, values in self._rows:
            yield last, values
        for sheet in self._workbook.worksheets[1:]:
            rows = _sheet_rows(sheet, max_columns() + 1)
            first = next(rows, None)
            if first is None or _normalize_header(first[1])[: len(self.header)] != self.header:
                continue
            offset = last - first[0]
            for number, values in rows:
                last = offset + number
                yield last, values

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        width, limit = len(self.header), max_line_length()
        for row_number, values in self._continued_rows():
            end = len(values)  # up to the last cell with a value (at most IMPORT_MAX_COLUMNS + 1)
            while end and values[end - 1] in (None, ""):
                end -= 1
            if not end:
                continue
            cells = [_cell_text(value) for value in values[: max(end, width)]]
            length = sum(map(len, cells))
            yield row_number, (too_long(length) if length > limit else cells)
        self._workbook.close()

    @property
    def bytes_read(self) -> int:
        """How far into the file the worksheet has been read (its compressed bytes)."""
        try:
            return self._source.tell()
        except (AttributeError, OSError, ValueError):
            return 0

    def again(self) -> XlsxReader | None:
        return XlsxReader(self._source, self._expected) if _rewind(self._source) else None


def _sheet_rows(sheet, width: int) -> Iterator[tuple[int, list[Any]]]:
    """(row number, the values of its first ``width`` columns) for each row the worksheet's XML
    holds, read as a stream. openpyxl's own read-only rows are padded to the declared (or the
    row's last) column, and each parsed row, though cleared, stays in the XML tree: memory grew
    with the number of rows (about 85 MB per million). Here rows are parsed by openpyxl's
    ``WorkSheetParser.parse_row`` (types, shared strings, dates as openpyxl reads them) and
    dropped from the tree at once; missing rows are not made up."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser

    workbook = sheet.parent
    with workbook._archive.open(sheet._worksheet_path) as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        parents: list[Any] = []
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                parents.append(element)
                continue
            parents.pop()
            if element.tag != ROW_TAG:
                continue
            number, cells = parser.parse_row(element)
            if parents:
                parents[-1].clear()  # the rows read so far (sheetData holds nothing else)
            parser.row_dimensions.clear()
            values: list[Any] = [None] * width
            for cell in cells:
                if cell["column"] <= width:
                    values[cell["column"] - 1] = cell["value"]
            yield number, values


_PROLOG_LIMIT = 1 << 16


def _refuse_dtds(raw: IO[bytes]) -> None:
    """Refuse a workbook whose XML parts declare a DTD (entities: "billion laughs", external
    references), as defusedxml does. A DTD can only stand in an XML document's prolog, before
    its root element, so only each part's start is read."""
    with zipfile.ZipFile(raw) as archive:
        for info in archive.infolist():
            with archive.open(info) as part:
                start = _xml_text(part.read(_PROLOG_LIMIT))
            # openpyxl finds parts through the relationships, whatever their names: every
            # part is looked at; those named as XML have their whole prolog checked.
            if (
                _declares_dtd(start, complete=info.file_size <= _PROLOG_LIMIT)
                if info.filename.endswith((".xml", ".rels", ".vml"))
                else "<!DOCTYPE" in start or "<!ENTITY" in start
            ):
                raise TableFileError(
                    f"The workbook's {info.filename} declares a DTD (<!DOCTYPE>/<!ENTITY>): "
                    "refused, as a spreadsheet never needs one. Save it again from your "
                    "spreadsheet as .xlsx."
                )


def _xml_text(start: bytes) -> str:
    """The start of an XML part as text: UTF-16 (with or without a BOM) or else UTF-8 (the
    encodings expat reads without a declaration; ASCII-compatible ones read as UTF-8 here)."""
    if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return start.decode("utf-16", errors="replace")
    if start[:2] == b"<\x00":
        return start.decode("utf-16-le", errors="replace")
    if start[:2] == b"\x00<":
        return start.decode("utf-16-be", errors="replace")
    return start.decode("utf-8", errors="replace")


def _declares_dtd(text: str, *, complete: bool) -> bool:
    """Whether the XML prolog at the start of ``text`` holds a DTD (a prolog longer than the
    text read counts as one: it cannot be checked)."""
    position = 0
    while True:
        position = text.find("<", position)
        if position < 0:
            return not complete
        if text.startswith("<?", position):
            end = text.find("?>", position)
        elif text.startswith("<!--", position):
            end = text.find("-->", position)
        else:  # <!DOCTYPE (or another declaration) before the root element, or the root
            return text.startswith("<!", position)
        if end < 0:
            return not complete
        position = end + 2


class JsonReader(TableReader):
    """A JSON array of objects, parsed one object at a time (numbers kept exact as decimals)."""

    format = "json"

    def __init__(self, raw: IO[bytes], expected: Sequence[str]) -> None:
        super().__init__()
        self._source, self._expected = raw, expected
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
        if isinstance(self._first, dict):
            check_width(len(self._first), "The first object")
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
        limit = max_line_length()
        while True:
            try:
                value, self._pos = self._decoder.raw_decode(self._buffer, self._pos)
                break
            except json.JSONDecodeError as error:
                # Maybe the object goes on in the next chunk, up to IMPORT_MAX_LINE_LENGTH.
                if len(self._buffer) - self._pos <= limit and self._fill():
                    continue
                if len(self._buffer) - self._pos > limit:
                    raise TableFileError(
                        f"Row {row_number} of the JSON array is longer than {limit} characters "
                        "(IMPORT_MAX_LINE_LENGTH) or is not valid JSON."
                    ) from None
                raise TableFileError(f"Invalid JSON in row {row_number}: {error.msg}.") from None
            except RecursionError:
                raise TableFileError(
                    f"Row {row_number} of the JSON array is nested too deeply; each row is an "
                    "object of plain values."
                ) from None
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

    def again(self) -> JsonReader | None:
        return JsonReader(self._source, self._expected) if _rewind(self._source) else None


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
    if len(record) > max_columns():
        return BadRow(
            f"{len(record)} keys; a row has at most {max_columns()} (IMPORT_MAX_COLUMNS)."
        )
    keys = _normalize_header(record.keys())
    known, present = set(header), set(keys)
    unknown = [key for key in keys if key not in known]
    if unknown:
        return BadRow(
            f"Unknown key(s) {', '.join(unknown)}; the first row has {', '.join(header)}."
        )
    missing = [name for name in header if name not in present] if all_keys else ()
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
        if isinstance(first, dict):
            check_width(len(first), "The first item")
        self.header = _normalize_header(first.keys()) if isinstance(first, dict) else list(expected)

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        header = self.header
        for index, record in enumerate(self._records):
            yield index, record_cells(record, header, all_keys=True)

    def again(self) -> RecordsReader:
        reader = RecordsReader.__new__(RecordsReader)
        TableReader.__init__(reader)
        reader._records, reader.header = self._records, self.header
        return reader


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
    from json.encoder import encode_basestring  # json's own (C) string encoder

    # The same text as json.dumps(dict(zip(header, row)), ensure_ascii=False), 5x faster: the
    # keys are written once into a template, the values encoded by one C call each.
    keys = ", ".join(f"{encode_basestring(name).replace('%', '%%')}: %s" for name in header)
    template = "{" + keys + "}"
    buffer = io.StringIO()
    buffer.write("[")
    separator = "\n"
    for row in rows:
        buffer.write(separator)
        buffer.write(template % tuple(map(encode_basestring, row)))
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
    """An XLSX workbook streamed as the rows come (see :mod:`core.dataio.xlsx_stream`).
    Every cell is a text cell, as in the CSV: a spreadsheet must not reinterpret SKUs or
    prices, nor run ``=...`` as a formula, so no apostrophe is needed."""
    from core.dataio.xlsx_stream import iter_xlsx_stream

    return iter_xlsx_stream(header, rows)


# writer(header, rows, text_columns) -> the file's bytes in chunks
WRITERS: dict[str, Callable[..., Iterator[bytes]]] = {
    "csv": iter_csv,
    "json": iter_json,
    "xlsx": iter_xlsx,
}
