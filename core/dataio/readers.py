"""Table readers: CSV (UTF-8, delimiter sniffed), JSON and already-parsed records, read as
streams, and :func:`open_table` choosing one by format (the XLSX reader is in
:mod:`core.dataio.xlsx_reader`).

Readers give the header and then ``(row_number, [cell text, ...])`` one row at a time, so memory
does not grow with the file. Rows are numbered as a spreadsheet shows them: the header is row 1,
the first data row is row 2 (for JSON, the first record is row 2 as well, as if a header row
preceded it).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from core.dataio.formats import DELIMITERS, TableFileError
from core.dataio.reading import (
    BadRow,
    TableReader,
    cell_text,
    check_width,
    empty_file_error,
    max_columns,
    max_line_length,
    normalize_header,
    rewind,
    too_long,
)
from core.dataio.xlsx_reader import XlsxReader

if TYPE_CHECKING:  # pyarrow is imported by an import that reads blocks, not by every process
    from core.dataio.columnar import LineBlock

_CHUNK = 1 << 16
# A LineBlock's size (at least two lines of IMPORT_MAX_LINE_LENGTH): 1 MB, ~16,000 sale lines,
# adds ~25 MB to an import's peak (4 MB: ~80 MB) for the same speed.
BLOCK_BYTES = 1 << 20
_NEWLINES = ("\n", "\r")


class _CountingReader(io.RawIOBase):
    """Counts the bytes taken from a binary stream (progress without knowing rows ahead)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # a writable buffer (memoryview, bytearray)
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
            self.header = normalize_header(next(csv.reader([first_line], delimiter=self.delimiter)))
        except csv.Error as error:
            raise TableFileError(f"The header line cannot be read as CSV: {error}.") from None
        check_width(len(self.header))
        self._reader = csv.reader(self._lines, delimiter=self.delimiter, strict=False)
        self._first_line = first_line

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        return self._records(self._reader, self._lines, 1)

    def pieces(self) -> Iterator[LineBlock | Iterator[tuple[int, list[str] | BadRow]]]:
        """The rows as :class:`LineBlock` s of plain lines while they are (see
        :mod:`core.dataio.columnar`), then, from the first block that is not, row by row to the
        end. Only from a source that can be read again from its start (files, uploads)."""
        if not rewind(self._source):
            yield self.rows()
            return
        from core.dataio.columnar import LineBlock, plain_lines

        data = self._plain_start()
        if data is None:  # the source was read again: rows from a new reader of its start
            reader = self.again()
            assert reader is not None  # it was rewound above
            self._raw = reader._raw
            yield reader.rows()
            return
        raw, row_number, limit = self._raw, 1, max_line_length()
        delimiter = self.delimiter or ","
        while True:
            chunk = raw.read(_block_bytes())
            data += chunk
            if not data:
                return
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            block, data = data[:cut], data[cut:]
            lines = plain_lines(block, limit) if cut else None
            if lines is None:  # or no line end in a whole block: per row from here
                yield self._records_from(block + data, row_number)
                return
            yield LineBlock(row_number + 1, lines, delimiter)
            row_number += len(lines)
            if not chunk:
                return

    def _plain_start(self) -> bytes | None:
        """The bytes after the header line, the source rewound (None: the header line is not
        the one the text reader read, e.g. it ends with a carriage return alone)."""
        self._raw = _CountingReader(self._source)
        data = self._raw.read(_block_bytes())
        end = data.find(b"\n") + 1
        try:
            header = data[:end].decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
        return data[end:] if end and header == self._first_line else None

    def _records_from(
        self, data: bytes, row_number: int
    ) -> Iterator[tuple[int, list[str] | BadRow]]:
        """Rows read the per-row way from ``data`` and then the rest of the source."""
        text = io.TextIOWrapper(
            io.BufferedReader(_Prefixed(data, self._raw), _CHUNK),
            encoding="utf-8",
            errors="strict",
            newline="",
        )
        lines = _BoundedLines(text, max_line_length())
        return self._records(csv.reader(lines, delimiter=self.delimiter or ","), lines, row_number)

    def _records(
        self, reader: Any, lines: _BoundedLines, row_number: int
    ) -> Iterator[tuple[int, list[str] | BadRow]]:
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
            if lines.overlong:
                yield row_number, too_long(lines.overlong)
                lines.overlong = 0
            elif values and any(values):
                yield row_number, values

    @property
    def bytes_read(self) -> int:
        return self._raw.count

    def again(self) -> CsvReader | None:
        return CsvReader(self._source, self._expected) if rewind(self._source) else None


class _Prefixed(io.RawIOBase):
    """``prefix``, then the rest of ``raw``."""

    def __init__(self, prefix: bytes, raw: IO[bytes] | _CountingReader) -> None:
        self._prefix, self._raw = memoryview(prefix), raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            size = min(len(buffer), len(self._prefix))
            buffer[:size] = self._prefix[:size]
            self._prefix = self._prefix[size:]
            return size
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _block_bytes() -> int:
    return max(BLOCK_BYTES, 2 * max_line_length())


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
        cells = normalize_header(next(csv.reader([first_line], delimiter=delimiter)))
        score = (len(wanted.intersection(cells)), len(cells))
        if score > best_score:
            best, best_score = delimiter, score
    return best


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
        self.header = normalize_header(self._first.keys()) if self._first is not None else []
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

    def _next_object(self, row_number: int) -> dict[str, Any] | None:
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
        return JsonReader(self._source, self._expected) if rewind(self._source) else None


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
    keys = normalize_header(record.keys())
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
        return [cell_text(value) for value in record.values()]
    by_key = dict(zip(keys, record.values(), strict=True))
    return [cell_text(by_key.get(name)) for name in header]


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
        self.header = normalize_header(first.keys()) if isinstance(first, dict) else list(expected)

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
