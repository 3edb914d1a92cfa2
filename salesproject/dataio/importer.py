"""The import engine: one file → validated rows → staging table → set-based checks → merge.

The file is streamed and validated in batches (memory does not grow with it); valid rows go to
a staging table (PostgreSQL ``COPY``); checks that need the whole file (duplicate keys, unknown
foreign keys, a sale's lines that disagree) run as SQL over the staging table; then the table's
``merge`` writes with ``INSERT … ON CONFLICT``. All of it is one transaction: with
``on_error="abort"`` (the default) one bad row means nothing is written; with ``"skip"`` the bad
rows (for sales: the whole sale) are left out and reported. ``dry_run`` does everything and
rolls back.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, transaction

from salesproject import metrics
from salesproject.dataio.columns import CellError, Column
from salesproject.dataio.formats import BadRow, TableFileError, TableReader
from salesproject.dataio.stage import Stage, fetch_iter
from salesproject.errors import ApplicationError

ON_ERROR_CHOICES = ("abort", "skip")
DEFAULT_BATCH_SIZE = 5_000
SEGMENT_ROWS = 50_000  # rows per COPY; a cancelled job is noticed between two
MAX_REPORTED_ERRORS = 1_000


class ImportCancelled(Exception):
    """The import's job was cancelled: everything is rolled back."""


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


@dataclass
class ImportOptions:
    dry_run: bool = False
    on_error: str = "abort"
    batch_size: int = DEFAULT_BATCH_SIZE
    apply_stock: bool = False
    actor: AbstractBaseUser | None = None
    source_name: str = ""
    errors_out: IO[str] | None = None
    progress: Callable[[int, int], None] | None = None  # (rows read, bytes read)
    should_cancel: Callable[[], bool] | None = None
    preview_rows: int = 0  # the admin's preview: classify the first N rows one by one

    def __post_init__(self) -> None:
        if self.on_error not in ON_ERROR_CHOICES:
            raise ApplicationError(
                f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}, not {self.on_error!r}.",
                fields={"on_error": [f"Use {' or '.join(ON_ERROR_CHOICES)}."]},
            )
        if not 1 <= self.batch_size <= 100_000:
            raise ApplicationError(
                "batch_size must be between 1 and 100000.",
                fields={"batch_size": ["Use a number between 1 and 100000."]},
            )


@dataclass
class ImportReport:
    table: str
    format: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    aborted: bool = False
    message: str = ""
    seconds: float = 0.0
    counted: str = "rows"  # what created/updated/unchanged count (sales: "sales")
    preview: list[tuple[int, str, list[str]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.aborted

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        text = (
            f"{self.table}: {self.rows} rows read; {self.counted} {verb}created {self.created}, "
            f"{verb}updated {self.updated}, unchanged {self.unchanged}; rows rejected "
            f"{self.rejected}; {self.seconds:.1f} s, {self.rows_per_second:,.0f} rows/s"
        )
        if self.aborted:
            text += f". Nothing was written: {self.message}"
        elif self.dry_run:
            text += ". Dry run: nothing was written."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "format": self.format,
            "rows": self.rows,
            "counted": self.counted,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "error_count": self.error_count,
            "errors": [error.as_dict() for error in self.errors],
            "errors_truncated": self.error_count > len(self.errors),
            "dry_run": self.dry_run,
            "aborted": self.aborted,
            "message": self.message,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
        }


class ErrorLog:
    """Every row error: counted, the first ones kept for the report, all of them written to the
    errors file (the rejected row's cells, then the row number, column and reason)."""

    def __init__(self, header: Sequence[str], out: IO[str] | None) -> None:
        self.count = 0
        self.kept: list[RowError] = []
        self.rejected_rows: set[int] = set()
        self.rejected_groups: set[str] = set()
        self._writer = csv.writer(out) if out is not None else None
        self._width = len(header)
        if self._writer is not None:
            self._writer.writerow([*header, "error_row", "error_column", "error"])

    @property
    def writes_file(self) -> bool:
        return self._writer is not None

    def add(self, row: int, column: str, message: str, cells: Sequence[str] | None = None) -> None:
        self.count += 1
        self.rejected_rows.add(row)
        if len(self.kept) < MAX_REPORTED_ERRORS:
            self.kept.append(RowError(row, column, message))
        if self._writer is not None:  # the cells padded or cut to the header, then the error
            padded = [*(cells or ())[: self._width], *[""] * (self._width - len(cells or ()))]
            self._writer.writerow([*padded, row, column, message])


class ImportTable:
    """What an entity's file looks like and how its rows are merged. Subclasses set the columns
    and the natural key and write ``merge`` (and, where needed, more ``checks``)."""

    name = ""
    columns: Sequence[Column] = ()
    key: Sequence[str] = ()  # the natural key's columns
    key_case_insensitive = False
    counted = "rows"
    stage_extra: Sequence[tuple[str, str]] = ()

    # -- header ----------------------------------------------------------------------------------

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def describe_columns(self) -> str:
        required = [column.name for column in self.columns if column.required]
        optional = [column.name for column in self.columns if not column.required]
        text = ", ".join(required)
        if optional:
            text += f" (optional: {', '.join(optional)})"
        return text

    def check_header(self, reader: TableReader) -> list[Column]:
        """The table's columns in the file's order; a clear error for missing, unknown or
        repeated columns."""
        header = reader.header
        known = {column.name: column for column in self.columns}
        problems = []
        repeated = sorted({name for name in header if name and header.count(name) > 1})
        if repeated:
            problems.append(f"repeated column(s): {', '.join(repeated)}")
        missing = [c.name for c in self.columns if c.required and c.name not in header]
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        unknown = [name or "(empty)" for name in header if name not in known]
        if unknown:
            problems.append(f"unknown column(s): {', '.join(unknown)}")
        if problems:
            found = ", ".join(name or "(empty)" for name in header)
            hint = ""
            if reader.delimiter and len(header) == 1 and missing:
                hint = " (is the delimiter a comma, a semicolon or a tab?)"
            raise TableFileError(
                f"The header does not match a {self.name} file: {'; '.join(problems)}. "
                f"Expected columns: {self.describe_columns()}. Found: {found}{hint}.",
                extra={"expected_columns": self.column_names, "found_columns": header},
            )
        return [known[name] for name in header]

    # -- rows ------------------------------------------------------------------------------------

    def checks(self, stage: Stage) -> Iterator[tuple[int, str, str]]:
        """Set-based checks over the staged rows: (row, column, message) for each bad row.
        By default: the natural key appears once in the file."""
        yield from duplicate_key_check(stage, self.key, case_insensitive=self.key_case_insensitive)

    group_column: str | None = None  # rows sharing its value stand or fall together (sales)

    def reject_related(
        self, stage: Stage, rejected: set[int], rejected_groups: set[str]
    ) -> Iterator[tuple[int, str, str]]:
        """Rows to reject because other rows were (sales: the other lines of a bad sale)."""
        return iter(())

    def classify(self, stage: Stage, options: ImportOptions) -> tuple[int, int, int]:
        """(created, updated, unchanged) the merge will give."""
        raise NotImplementedError

    def preview(self, stage: Stage, limit: int) -> list[tuple[int, str]]:
        """(row, "new" | "update" | "skip") for the first rows, for the admin's preview."""
        return []

    def merge(self, stage: Stage, options: ImportOptions) -> None:
        raise NotImplementedError

    def after_import(self, options: ImportOptions, report: ImportReport, errors: ErrorLog) -> None:
        """Work done after the staging transaction committed (sales with apply-stock); it
        records its failures in ``errors`` and corrects ``report``."""


def duplicate_key_check(
    stage: Stage, key: Sequence[str], *, case_insensitive: bool = False, label: str = ""
) -> Iterator[tuple[int, str, str]]:
    parts = [f"lower({name})" if case_insensitive else name for name in key]
    partition = ", ".join(parts)
    select = ", ".join(key)
    sql = f"""
        SELECT row_number, first_row, {select} FROM (
            SELECT row_number, {select},
                   MIN(row_number) OVER (PARTITION BY {partition}) AS first_row
            FROM {stage.name}
        ) keyed
        WHERE row_number <> first_row ORDER BY row_number
    """
    what = label or " and ".join(key)
    for row_number, first_row, *values in fetch_iter(sql):
        shown = " / ".join(str(value) for value in values)
        yield (
            row_number,
            key[-1],
            f"duplicate {what} {shown!r}: {stage.row_label} {first_row} already has it (a key "
            f"appears once per {stage.source_label}).",
        )


def _parse_rows(
    rows: Iterable[tuple[int, list[str] | BadRow]],
    layout: list[Column],
    table: ImportTable,
    errors: ErrorLog,
    width: int,
) -> Iterator[tuple[Any, ...]]:
    """Valid rows as staged tuples (row number, then every table column in table order);
    invalid ones go to the error log."""
    count = len(table.columns)
    positions = [table.column_names.index(column.name) for column in layout]
    in_table_order = positions == list(range(count))
    group = (
        [column.name for column in layout].index(table.group_column)
        if table.group_column in {column.name for column in layout}
        else None
    )
    parsers = [column.parse for column in layout]
    for row_number, cells in rows:
        if isinstance(cells, BadRow):
            errors.add(row_number, "", cells.message, [])
            continue  # its group (if any) is unknown: the checks cannot reject its other rows
        if len(cells) != width:
            if len(cells) > width and not any(cells[width:]):
                cells = cells[:width]
            else:
                errors.add(
                    row_number,
                    "",
                    f"has {len(cells)} cells; the header has {width} columns.",
                    cells,
                )
                continue
        try:
            parsed = [parse(text) for parse, text in zip(parsers, cells)]  # noqa: B905 (same width)
        except CellError:
            _report_cells(row_number, cells, layout, errors)
            if group is not None:
                errors.rejected_groups.add(cells[group].strip())
            continue
        if in_table_order:
            yield (row_number, *parsed)
        else:  # columns the file lacks stay None: the merge keeps the stored values
            values: list[Any] = [None] * count
            for position, value in zip(positions, parsed):  # noqa: B905 (same width)
                values[position] = value
            yield (row_number, *values)


def _report_cells(row_number: int, cells: list[str], layout: list[Column], errors: ErrorLog):
    """Every bad cell of a rejected row, each with its column."""
    for column, text in zip(layout, cells, strict=True):
        try:
            column.parse(text)
        except CellError as error:
            errors.add(row_number, column.name, f"{column.name} {error}", cells)


def _stage_cells(
    stage: Stage, layout: Sequence[Column], row_numbers: set[int]
) -> dict[int, list[str]]:
    """The staged rows as cell text again, in the file's column order (for the errors file)."""
    cells: dict[int, list[str]] = {}
    numbers = sorted(row_numbers)
    names = ", ".join(["row_number", *(column.name for column in layout)])
    for start in range(0, len(numbers), 10_000):
        chunk = numbers[start : start + 10_000]
        placeholders = ", ".join(["%s"] * len(chunk))
        for row_number, *values in fetch_iter(
            f"SELECT {names} FROM {stage.name} WHERE row_number IN ({placeholders})", chunk
        ):
            cells[row_number] = [
                column.format(value) for column, value in zip(layout, values, strict=True)
            ]
    return cells


class _Rollback(Exception):
    pass


def run_import(table: ImportTable, reader: TableReader, options: ImportOptions) -> ImportReport:
    """Import one table file. Never half-writes: the report says what was (or would be) done."""
    started = time.perf_counter()
    report = ImportReport(
        table=table.name, format=reader.format, dry_run=options.dry_run, counted=table.counted
    )
    layout = table.check_header(reader)
    errors = ErrorLog(reader.header, options.errors_out)  # rejected rows as the file has them
    stage: Stage | None = None
    try:
        with transaction.atomic():
            stage = Stage(table.columns, table.stage_extra)
            stage.present = {column.name for column in layout}
            stage.row_label, stage.source_label = reader.row_label, reader.source_label
            rows_read = 0

            def counted_rows():
                nonlocal rows_read
                for row in reader.rows():
                    rows_read += 1
                    yield row

            parsed = _parse_rows(counted_rows(), layout, table, errors, len(reader.header))

            def reporting(segment):
                # Progress every batch; rows stream into COPY as they are parsed, so the
                # database loads one batch while Python validates the next.
                for index, row in enumerate(segment, start=1):
                    yield row
                    if options.progress and index % options.batch_size == 0:
                        options.progress(rows_read, reader.bytes_read)

            segment_rows = max(options.batch_size, SEGMENT_ROWS)
            while stage.load(reporting(itertools.islice(parsed, segment_rows))) == segment_rows:
                if options.should_cancel and options.should_cancel():  # between COPYs
                    raise ImportCancelled
            report.rows = rows_read
            if options.progress:
                options.progress(rows_read, reader.bytes_read)
            stage.analyze()
            _run_checks(stage, table, layout, errors, options)
            report.error_count = errors.count
            report.rejected = len(errors.rejected_rows)
            report.errors = sorted(errors.kept, key=lambda error: (error.row, error.column))
            if errors.count and options.on_error == "abort":
                report.aborted = True
                report.message = (
                    f"{report.rejected} of {report.rows} rows have errors (on_error=abort)."
                )
                raise _Rollback
            if options.preview_rows:
                report.preview = _preview(stage, table, options.preview_rows)
            report.created, report.updated, report.unchanged = table.classify(stage, options)
            if options.dry_run:
                raise _Rollback
            if options.should_cancel and options.should_cancel():
                raise ImportCancelled
            table.merge(stage, options)
    except _Rollback:
        pass
    except DatabaseError as error:  # e.g. a concurrent write took a key meanwhile
        raise ApplicationError(
            f"The import could not be written and nothing was ({error.__class__.__name__}: "
            f"{str(error).strip().splitlines()[0]}). Run it again.",
            code="import_failed",
        ) from error
    finally:
        if stage is not None:
            with contextlib.suppress(DatabaseError):
                stage.drop()
    if not report.aborted and not options.dry_run:
        table.after_import(options, report, errors)
    report.seconds = time.perf_counter() - started
    metrics.import_rows(table.name, read=report.rows or 0, rejected=report.rejected or 0)
    return report


def _run_checks(
    stage: Stage,
    table: ImportTable,
    layout: Sequence[Column],
    errors: ErrorLog,
    options: ImportOptions,
) -> None:
    found: list[tuple[int, str, str]] = list(table.checks(stage))
    rejected = {row for row, _, _ in found}
    found.extend(
        table.reject_related(stage, errors.rejected_rows | rejected, errors.rejected_groups)
    )
    if not found:
        return
    staged_rows = {row for row, _, _ in found}
    cells = _stage_cells(stage, layout, staged_rows) if errors.writes_file else {}
    for row, column, message in found:
        errors.add(row, column, message, cells.get(row))
    if options.on_error == "skip":
        stage.delete_rows(staged_rows)


def _preview(stage: Stage, table: ImportTable, limit: int) -> list[tuple[int, str, list[str]]]:
    actions = dict(table.preview(stage, limit))
    if not actions:
        return []
    cells = _stage_cells(stage, table.columns, set(actions))
    return [(row, actions[row], cells.get(row, [])) for row in sorted(actions)]
