"""Columnar parsing of CSV imports (issue 20): a block of plain lines split, validated and encoded
for PostgreSQL's binary ``COPY`` with pyarrow and numpy, a column at a time, with no Python object
per cell.

Only a cell in its one canonical form takes this way (the forms our exports write and
spreadsheets save: ``2025-01-31T14:30:00Z``, ``12.50``, ``3``, a name with no space around it…);
a row with any other cell, a wrong number of cells or nothing in it goes the per-cell way
(:meth:`Column.parse` in :func:`core.dataio.importer._parse_rows`), which gives every value and
every error message. Both ways stage the same value for the same cell
(``tests/dataio/test_columnar.py`` compares them on generated and hostile cells).

What a reader hands over is a :class:`LineBlock`: whole lines with no quote character, no NUL, no
lone carriage return and none longer than ``IMPORT_MAX_LINE_LENGTH`` bytes, so that a line is a
record and a record is ``line.split(delimiter)`` (what :mod:`csv` gives for such a line). The
reader decides that (``CsvReader.pieces``); anything else is read the per-row way to the end of
the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django_countries import countries

from core.dataio.columns import _FALSE, _TRUE, Column

# The system allocator: pyarrow's default pool (mimalloc) kept ~100 MB more resident over a
# 1M-line import than the blocks ever hold at once.
pa.set_memory_pool(pa.system_memory_pool())

NULL_FIELD = b"\xff\xff\xff\xff"  # a field's length -1: NULL
LEFTOVER_CHUNK = 10_000
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 (PostgreSQL's epoch) in days from 1970-01-01
_MICROSECONDS_PER_DAY = 86_400_000_000
_EMPTY = pa.scalar(b"", pa.binary())

# Canonical forms (RE2, as pyarrow runs them): each a strict subset of what Column.parse takes,
# giving the same value.
_DECIMAL = r"^-?[0-9]{1,12}(?:\.[0-9]{1,2})?$"
_INTEGER = r"^-?[0-9]{1,18}$"
_DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
# An address Django's validate_email takes (its user part's dot-atom, its domain's labels and
# top-level label), in ASCII and without the characters spreadsheets treat specially.
_EMAIL = (
    r"^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z-]{0,61}[A-Za-z])$"
)


@cache
def _text_pattern() -> str:
    """Text with no leading or trailing whitespace (as ``str.strip`` sees it: Unicode's, not
    only ASCII's) and no leading apostrophe (an escaped formula is unescaped the per-cell way)."""
    spaces = "".join(f"\\x{{{code:x}}}" for code in range(0x3001) if chr(code).isspace())
    return rf"(?s)^[^'{spaces}](?:.*[^{spaces}])?$"


@dataclass
class LineBlock:
    """Lines ``first_row``, ``first_row + 1``, … of a file (terminators taken off)."""

    first_row: int
    lines: pa.StringArray
    delimiter: str


def plain_lines(block: bytes, limit: int) -> pa.StringArray | None:
    """The lines of ``block`` (whole lines; the file's last one may lack its end) without their
    ends, when each is a record that is its cells joined by the delimiter: no quote character,
    no NUL, no carriage return but before a line feed, valid UTF-8, and each line with its end
    at most ``limit`` bytes (so at most ``limit`` characters, as the per-row reader reads).
    Else None."""
    if b'"' in block or b"\0" in block or block.count(b"\r") != block.count(b"\r\n"):
        return None
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + 1
    if not len(ends) or ends[-1] != len(block):
        ends = np.append(ends, len(block))
    offsets = np.concatenate(([0], ends)).astype(np.int32)
    if int(np.diff(offsets).max()) > limit:
        return None
    lines = pa.Array.from_buffers(
        pa.string(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:  # not UTF-8: the per-row reader says where
        return None
    return pc.utf8_rtrim(lines, characters="\r\n")


@dataclass
class Leftovers:
    """The rows of a block left to the per-cell parse, as ``(row_number, cells)``: only their
    lines are kept, and they become Python lists 10,000 at a time (a block of a million short
    lines, all bad, would be ~600 MB of them)."""

    lines: pa.StringArray
    rows: np.ndarray  # their row numbers
    delimiter: str

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        for start in range(0, len(self.rows), LEFTOVER_CHUNK):
            texts = self.lines.slice(start, LEFTOVER_CHUNK).to_pylist()
            numbers = self.rows[start : start + LEFTOVER_CHUNK].tolist()
            for row, text in zip(numbers, texts, strict=True):
                yield row, text.split(self.delimiter)


@dataclass
class Field:
    """One column of a block's rows: ``ok`` says which rows hold a cell this module takes;
    ``encode(kept)`` gives the binary COPY fields (length and value) of the kept rows, as one
    array or as the lengths and then the values; where ``blank``, the first array is replaced
    by ``default`` (the default's whole field, or for text its length: NULL or empty)."""

    ok: np.ndarray
    encode: Callable[[np.ndarray], list[pa.Array]]
    blank: np.ndarray | None = None
    default: bytes = NULL_FIELD


class ColumnarParser:
    """Stages a :class:`LineBlock`'s canonical rows; gives back the others as cells."""

    def __init__(self, layout: Sequence[Column], used: Sequence[int], width: int) -> None:
        self.layout = list(layout)
        self.used = list(used)  # the file's positions of the layout's columns
        self.width = width  # cells in a line (the header's)
        self.copy_columns = ["row_number", *(column.name for column in self.layout)]
        converters = [_converter(column) for column in self.layout]
        # False: a column's kind, decimal places or default is not handled here (the import
        # then parses every row cell by cell; parse() must not be called).
        self.supported = all(convert is not None for convert in converters)
        self._converters = [convert for convert in converters if convert is not None]

    def parse(self, block: LineBlock) -> tuple[memoryview, int, Leftovers]:
        """(binary COPY rows, how many, the other rows)."""
        lines = block.lines
        # Lines of delimiters only (or empty) are no rows: csv gives them as empty cells, and
        # the reader skips them (they keep their numbers).
        empty = _numpy(pc.match_substring_regex(lines, f"^{re.escape(block.delimiter)}*$"))
        rows = pc.split_pattern(lines, block.delimiter)
        fits = _numpy(pc.equal(pc.list_value_length(rows), self.width)) & ~empty
        kept = np.flatnonzero(fits)
        rows = rows.filter(pa.array(fits))
        fields = []
        ok = np.ones(len(kept), dtype=bool)
        for convert, position in zip(self._converters, self.used, strict=True):
            field = convert(pc.list_element(rows, position))
            ok &= field.ok
            fields.append(field)
        good = np.flatnonzero(ok)
        header = np.empty(len(good), dtype=[("count", ">i2"), ("size", ">i4"), ("row", ">i8")])
        header["count"] = len(self.copy_columns)
        header["size"] = 8
        header["row"] = kept[good] + block.first_row
        parts = [_fixed(header)]
        for field in fields:
            encoded = field.encode(good)
            if field.blank is not None and field.blank[good].any():
                default = pa.scalar(field.default, pa.binary())
                encoded[0] = pc.if_else(pa.array(field.blank[good]), default, encoded[0])
            parts += encoded
        others = ~empty
        others[kept[good]] = False
        left = np.flatnonzero(others)
        leftover = Leftovers(lines.take(pa.array(left)), left + block.first_row, block.delimiter)
        return _join(parts), len(good), leftover


# --- building binary fields -----------------------------------------------------------------


def _fixed(records: np.ndarray) -> pa.Array:
    """Fixed-size records (a one-dimensional array of any dtype) as a binary array, a value
    per record."""
    rows, size = len(records), records.dtype.itemsize
    data = np.ascontiguousarray(records)
    offsets = np.arange(0, rows * size + 1, size, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _sized(values: np.ndarray) -> pa.Array:
    """Fixed-size big-endian values, each with its 4-byte length before it."""
    record = np.empty(len(values), dtype=[("size", ">i4"), ("value", values.dtype)])
    record["size"] = values.dtype.itemsize
    record["value"] = values
    return _fixed(record)


def _join(parts: list[pa.Array]) -> memoryview:
    joined = pc.binary_join_element_wise(*parts, _EMPTY)
    if not len(joined):
        return memoryview(b"")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[joined.offset :]
    start, end = int(offsets[0]), int(offsets[len(joined)])
    return memoryview(joined.buffers()[2])[start:end]


def _numpy(values: pa.Array) -> np.ndarray:
    result: np.ndarray = values.to_numpy(zero_copy_only=False)
    return result


# --- the kinds ----------------------------------------------------------------------------------


def _converter(column: Column) -> Callable[[pa.Array], Field] | None:
    """How a column's cells become fields, or None when its kind, its decimal places or its
    default are not handled here (then the import parses cell by cell)."""
    default = _default_field(column)
    if default is None:
        return None
    kind = column.kind
    convert: Callable[[Column, pa.Array], tuple[np.ndarray, Callable[[np.ndarray], list[pa.Array]]]]
    if kind == "text":
        convert = _text
    elif kind == "email":
        convert = _email
    elif kind in ("choice", "country", "boolean"):
        convert = _closed_set
    elif kind == "integer":
        convert = _integer
    elif kind == "decimal" and column.decimal_places == 2:
        convert = _decimal
    elif kind == "datetime":
        convert = _datetime
    else:
        return None

    def field(cells: pa.Array) -> Field:
        valid, encode = convert(column, cells)
        blank = _numpy(pc.equal(pc.binary_length(cells), 0))
        if not column.blank:
            return Field(valid & ~blank, encode)
        return Field(valid | blank, encode, blank, default)

    return field


def _default_field(column: Column) -> bytes | None:
    """A blank cell's field (the column's default; for text, its length), None if this module
    cannot write it."""
    value = column.default
    if not column.blank or value is None:
        return NULL_FIELD
    if column.kind in ("text", "email") and value == "":
        return bytes(4)  # length 0; the blank cell is the empty value
    if column.kind in ("choice", "country") and isinstance(value, str):
        data = value.encode()
        return len(data).to_bytes(4, "big") + data
    if column.kind == "boolean" and isinstance(value, bool):
        return b"\x00\x00\x00\x01" + (b"\x01" if value else b"\x00")
    return None


Converted = tuple[np.ndarray, Callable[[np.ndarray], list[pa.Array]]]


def _text(
    column: Column, cells: pa.Array, pattern: str | None = None, longest: int | None = None
) -> Converted:
    valid = pc.match_substring_regex(cells, pattern or _text_pattern())
    longest = longest or column.max_length
    if longest is not None:
        valid = pc.and_(valid, pc.less_equal(pc.utf8_length(cells), longest))

    def encode(kept: np.ndarray) -> list[pa.Array]:
        values = cells.take(pa.array(kept))
        sizes = _numpy(pc.binary_length(values)).astype(">i4")
        return [_fixed(sizes), values.cast(pa.binary())]

    return _numpy(valid), encode


def _email(column: Column, cells: pa.Array) -> Converted:
    return _text(column, cells, _EMAIL, min(column.max_length or 320, 320))


@cache
def _set_values(kind: str, choices: tuple[str, ...]) -> tuple[pa.Array, pa.Array]:
    """The canonical cells of a closed kind and each one's field."""
    if kind == "choice":
        values = {choice: choice.encode() for choice in choices}
    elif kind == "country":
        values = {code: code.encode() for code, _ in countries}
    else:  # boolean
        values = {text: (b"\x01" if text in _TRUE else b"\x00") for text in (*_TRUE, *_FALSE)}
    fields = [len(data).to_bytes(4, "big") + data for data in values.values()]
    return pa.array(list(values)), pa.array(fields, pa.binary())


def _closed_set(column: Column, cells: pa.Array) -> Converted:
    allowed, fields = _set_values(column.kind, column.choices)
    index = pc.index_in(cells, value_set=allowed)

    def encode(kept: np.ndarray) -> list[pa.Array]:
        return [fields.take(pc.fill_null(index.take(pa.array(kept)), 0))]

    return _numpy(pc.is_valid(index)), encode


def _bounds(column: Column, scale: int) -> tuple[int, int]:
    """The column's min and max in units of 10**-scale, inclusive."""
    lowest = highest = None
    if column.min_value is not None:
        lowest = math.ceil(Decimal(column.min_value).scaleb(scale))
    if column.max_value is not None:
        highest = math.floor(Decimal(column.max_value).scaleb(scale))
    big = 10**18
    return (-big if lowest is None else lowest), (big if highest is None else highest)


def _whole_numbers(cells: pa.Array, pattern: str) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """(cells matching ``pattern``, those cells, a zero for every cell to fill in)."""
    valid = _numpy(pc.match_substring_regex(cells, pattern))
    return valid, cells.filter(pa.array(valid)), np.zeros(len(cells), dtype=np.int64)


def _integer(column: Column, cells: pa.Array) -> Converted:
    valid, matching, numbers = _whole_numbers(cells, _INTEGER)
    numbers[valid] = _numpy(pc.cast(matching, pa.int64()))
    lowest, highest = _bounds(column, 0)
    valid &= (numbers >= lowest) & (numbers <= highest)
    return valid, lambda kept: [_sized(numbers[kept].astype(">i8"))]


def _decimal(column: Column, cells: pa.Array) -> Converted:
    valid, matching, cents = _whole_numbers(cells, _DECIMAL)
    digits = _numpy(pc.cast(pc.replace_substring(matching, ".", ""), pa.int64()))
    dot = _numpy(pc.find_substring(matching, "."))
    places = np.where(dot < 0, 0, _numpy(pc.utf8_length(matching)) - dot - 1)
    cents[valid] = digits * np.array([100, 10, 1], dtype=np.int64)[places]
    lowest, highest = _bounds(column, 2)
    valid &= (cents >= lowest) & (cents <= highest)
    return valid, lambda kept: [_numeric(cents[kept])]


def _numeric(cents: np.ndarray) -> pa.Array:
    """numeric fields of amounts in cents (|amount| < 10**14): four base-10,000 digits, two
    after the point (PostgreSQL's ``numeric_recv`` strips the zero ones at either end)."""
    record = np.zeros(
        len(cents),
        dtype=[
            ("size", ">i4"),
            ("ndigits", ">i2"),
            ("weight", ">i2"),
            ("sign", ">u2"),
            ("dscale", ">i2"),
            ("digits", ">i2", (4,)),
        ],
    )
    whole, fraction = np.divmod(np.abs(cents), 100)
    record["size"] = 16
    record["ndigits"] = 4
    record["weight"] = 2
    record["sign"] = np.where(cents < 0, 0x4000, 0)
    record["dscale"] = 2
    record["digits"][:, 0] = whole // 100_000_000
    record["digits"][:, 1] = (whole // 10_000) % 10_000
    record["digits"][:, 2] = whole % 10_000
    record["digits"][:, 3] = fraction * 100
    return _fixed(record)


def _datetime(column: Column, cells: pa.Array) -> Converted:
    """ISO 8601 with an offset or Z (a time without one takes TIME_ZONE's rules: the per-cell
    way), years 1000 to 9998, as microseconds from PostgreSQL's epoch."""
    valid = _numpy(pc.match_substring_regex(cells, _DATETIME))
    micros = np.zeros(len(cells), dtype=np.int64)
    rows = np.flatnonzero(valid)
    if len(rows):
        matching = cells.filter(pa.array(valid))
        offsets = np.frombuffer(matching.buffers()[1], dtype=np.int32)
        offsets = offsets[matching.offset : matching.offset + len(matching) + 1].astype(np.int64)
        data = np.frombuffer(matching.buffers()[2], dtype=np.uint8)
        starts, ends = offsets[:-1], offsets[1:]

        def number(at: np.ndarray, width: int) -> np.ndarray:
            result = np.zeros(len(at), dtype=np.int64)
            for i in range(width):
                result = result * 10 + data[at + i].astype(np.int64) - 48
            return result

        year, month, day = number(starts, 4), number(starts + 5, 2), number(starts + 8, 2)
        hour, minute = number(starts + 11, 2), number(starts + 14, 2)
        second = number(starts + 17, 2)
        utc = data[ends - 1] == ord("Z")
        zone = np.where(utc, ends - 1, ends - 6)  # where "Z" or "+HH:MM" starts
        zone_hours = np.where(utc, 0, number(np.where(utc, starts, zone + 1), 2))
        zone_minutes = np.where(utc, 0, number(np.where(utc, starts, zone + 4), 2))
        sign = np.where(data[zone] == ord("-"), -1, 1)
        places = zone - starts - 20  # digits after "YYYY-MM-DDTHH:MM:SS." (-1: none)
        fraction = np.zeros(len(rows), dtype=np.int64)
        for i in range(6):
            present = i < places
            digit = data[np.where(present, starts + 20 + i, starts)].astype(np.int64) - 48
            fraction = fraction * 10 + np.where(present, digit, 0)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        good = (
            (year >= 1000)
            & (year <= 9998)
            & (month >= 1)
            & (month <= 12)
            & (day >= 1)
            & (day <= month_days[np.clip(month, 0, 12)] + ((month == 2) & leap))
            & (hour <= 23)
            & (minute <= 59)
            & (second <= 59)
            & (zone_hours <= 23)
            & (zone_minutes <= 59)
        )
        seconds = hour * 3600 + minute * 60 + second
        seconds -= sign * (zone_hours * 3600 + zone_minutes * 60)
        days = _days_from_civil(year, month, day) - _PG_EPOCH_DAYS
        micros[rows] = days * _MICROSECONDS_PER_DAY + seconds * 1_000_000 + fraction
        valid[rows[~good]] = False
    return valid, lambda kept: [_sized(micros[kept].astype(">i8"))]


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    result: np.ndarray = era * 146_097 + day_of_era - 719_468
    return result
