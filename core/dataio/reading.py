"""What every table reader shares: the reader interface, the row that cannot be read
(:class:`BadRow`), the width and length limits (IMPORT_MAX_COLUMNS, IMPORT_MAX_LINE_LENGTH) and
how header names and cell values become text."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from typing import IO, Any

from django.conf import settings

from core.dataio.formats import TableFileError


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


def rewind(raw: IO[bytes]) -> bool:
    try:
        raw.seek(0)
    except (AttributeError, OSError, ValueError):
        return False
    return True


def normalize_header(cells: Iterable[Any]) -> list[str]:
    return [
        str(cell if cell is not None else "").strip().lstrip("\ufeff").lower() for cell in cells
    ]


def empty_file_error(expected: Sequence[str]) -> TableFileError:
    return TableFileError(
        f"The file is empty: expected a header row with the columns {', '.join(expected)}."
    )


class BadRow:
    """Given by a reader instead of a row's cells when the row cannot be split into cells
    (e.g. a JSON object with keys the first one does not have); the importer rejects the row."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
