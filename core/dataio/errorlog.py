"""What an import rejected, row by row: the rejected rows (a bitmap), the errors kept for the
report (the first ``IMPORT_ERRORS_KEPT`` rejected rows) and the errors file written from them."""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import connection

from core.dataio.reading import BadRow, TableReader
from core.dataio.stage import Stage

# Columns of the errors file after the rejected row's own cells. Any column whose name starts
# with ERROR_PREFIX is ignored by an import, so the errors file, fixed, imports as it is.
ERROR_PREFIX = "_error"
ERROR_COLUMNS = ("_error_row", "_error_column", "_error")


class RowSet:
    """A set of row numbers as a bitmap (one bit per row up to the largest: 625 kB for five
    million rows), so a million rejected rows do not cost a million Python ints. Iterates in
    row order."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, row: int) -> bool:
        """Add ``row``; whether it was new."""
        byte, bit = divmod(row, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        mask = 1 << bit
        if self._bits[byte] & mask:
            return False
        self._bits[byte] |= mask
        self._count += 1
        return True

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, int) or row < 0:
            return False
        byte, bit = divmod(row, 8)
        return byte < len(self._bits) and bool(self._bits[byte] >> bit & 1)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        for index, value in enumerate(self._bits):
            if value:
                base = index * 8
                for bit in range(8):
                    if value >> bit & 1:
                        yield base + bit


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


class ErrorLog:
    """Every row error is counted; the errors of the first ``IMPORT_ERRORS_KEPT`` rejected rows
    (in file order) are kept, for the report and the errors file. Memory does not grow with the
    number of errors: rejected rows are counted as they come (the reading phase gives each row's
    errors together), and the rows rejected by the set-based checks are rows of the staging
    table."""

    def __init__(self, keep: int | None = None) -> None:
        self.count = 0
        self.rejected = 0  # distinct rejected rows
        self.keep = keep if keep is not None else settings.IMPORT_ERRORS_KEPT
        self.kept: dict[int, list[RowError]] = {}
        self._largest: list[int] = []  # heap of -row over ``kept``: the row to drop first
        # Groups (sales: references) of rows rejected while reading, buffered for one segment
        # and then moved to a temporary table (``groups_table``): memory does not grow with
        # the number of bad sales either.
        self.rejected_groups: set[str] = set()
        self.groups_table: str | None = None
        self._last_row: int | None = None

    def add(self, row: int, column: str, message: str, cells: Sequence[str] | None = None) -> None:
        """One error of ``row`` (``cells`` is accepted and ignored: the errors file is written
        from the file itself)."""
        self.count += 1
        if row != self._last_row:  # a row's errors come together while reading
            self._last_row = row
            self.rejected += 1
        errors = self.kept.get(row)
        if errors is not None:
            if len(errors) < 100:
                errors.append(RowError(row, column, message))
            return
        if len(self.kept) >= self.keep:
            if row > -self._largest[0]:
                return
            del self.kept[-heapq.heappop(self._largest)]
        self.kept[row] = [RowError(row, column, message)]
        heapq.heappush(self._largest, -row)

    def add_rows(self, found: Iterable[tuple[int, str, str]], rows: RowSet) -> None:
        """Errors of staged rows (from the checks, in any order, a row maybe more than once),
        their rows added to ``rows``."""
        for row, column, message in found:
            if rows.add(row):
                self.rejected += 1
            self._last_row = row  # counted above
            self.add(row, column, message)

    def flush_groups(self, stage: Stage) -> None:
        """Move the buffered rejected groups into the stage's ``bad_groups`` table (between two
        COPYs: nothing else can run on the connection during one)."""
        if not self.rejected_groups:
            return
        if self.groups_table is None:
            self.groups_table = stage.side_table("bad_groups", "reference text")
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.groups_table} (reference) VALUES (%s)",
                [(reference,) for reference in self.rejected_groups],
            )
        self.rejected_groups.clear()

    def errors(self) -> list[RowError]:
        return [
            error
            for row in sorted(self.kept)
            for error in sorted(self.kept[row], key=lambda error: error.column)
        ]

    def write_file(self, reader: TableReader, out: IO[str]) -> None:
        """The kept rejected rows, in file order, with their cells exactly as read from the
        file (a second pass over it, up to the last kept row), then ``_error_row``,
        ``_error_column`` and ``_error`` (a row's several errors joined by "; "). Columns of
        the file named ``_error…`` (an errors file imported again) are left out."""
        writer = csv.writer(out)
        keep = [i for i, name in enumerate(reader.header) if not name.startswith(ERROR_PREFIX)]
        writer.writerow([*(reader.header[i] for i in keep), *ERROR_COLUMNS])
        if not self.kept:
            return
        width, last = len(reader.header), max(self.kept)
        again = reader.again()
        cells_of: Iterator[tuple[int, list[str] | BadRow]] = iter(())
        if again is not None:
            cells_of = again.rows()
        pending = dict(self.kept)
        for row_number, cells in cells_of:
            if row_number > last:
                break
            errors = pending.pop(row_number, None)
            if errors is not None:
                self._write_row(writer, errors, cells, keep, width)
        for errors in (pending[row] for row in sorted(pending)):  # not found again (e.g. API)
            self._write_row(writer, errors, BadRow(""), keep, width)

    @staticmethod
    def _write_row(
        writer: Any,
        errors: list[RowError],
        cells: Sequence[str] | BadRow,
        keep: list[int],
        width: int,
    ) -> None:
        values = [] if isinstance(cells, BadRow) else list(cells)
        values = [*values[:width], *[""] * (width - len(values))]
        writer.writerow(
            [
                *(values[i] for i in keep),
                errors[0].row,
                "; ".join(dict.fromkeys(error.column for error in errors if error.column)),
                "; ".join(error.message for error in errors),
            ]
        )
