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
import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import call
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Model, QuerySet

from core.dataio.columns import CellError, Column
from core.dataio.errorlog import ERROR_PREFIX, ErrorLog, RowError, RowSet
from core.dataio.formats import TableFileError
from core.dataio.readers import CsvReader
from core.dataio.reading import BadRow, TableReader
from core.dataio.stage import (
    Stage,
    analyze_changed_tables,
    fetch_iter,
    is_postgresql,
    table_changes,
)
from core.errors import ApplicationError
from core.ops import metrics
from core.users import Actor

if TYPE_CHECKING:  # (imported when a file is read in blocks: pyarrow is not for every process)
    from core.dataio.columnar import ColumnarParser, Leftovers

ON_ERROR_CHOICES = ("abort", "skip")
DEFAULT_BATCH_SIZE = 5_000
SEGMENT_ROWS = 50_000  # rows per COPY
GROUPS_BUFFERED = 10_000  # rejected groups (sales references) held before going to their table
CHECK_SECONDS = 2.0  # while reading, the cancel flag and the time limit are checked this often
PHASES = ("reading", "checking", "writing", "applying stock")


class ImportCancelled(Exception):
    """The import's job was cancelled: everything is rolled back."""


class ImportTimeLimit(ApplicationError):
    """The import ran past its time limit (a job's IMPORT_JOB_TIME_LIMIT): rolled back."""

    code = "import_time_limit"


@dataclass
class ImportOptions:
    dry_run: bool = False
    on_error: str = "abort"
    batch_size: int = DEFAULT_BATCH_SIZE
    apply_stock: bool = False
    actor: Actor = None
    source_name: str = ""
    errors_out: IO[str] | None = None
    progress: Callable[[int, int], None] | None = None  # (rows read, bytes read)
    phase: Callable[[str], None] | None = None  # told each of PHASES as it starts
    should_cancel: Callable[[], bool] | None = None
    time_limit: float | None = None  # seconds from the start; over it: ImportTimeLimit
    preview_rows: int = 0  # the admin's preview: classify the first N rows one by one

    def __post_init__(self) -> None:
        self._started = time.monotonic()
        self._checked = self._started
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

    def enter_phase(self, name: str) -> None:
        self.check_stop()
        if self.phase:
            self.phase(name)

    def check_stop(self, *, every: float = 0.0, copying: bool = False) -> None:
        """Raise if the job was cancelled or is over its time limit (at most once per
        ``every`` seconds: the cancel flag is a query). ``copying``: a COPY holds the
        connection, so only the time limit (the caller ends the COPY every CHECK_SECONDS and
        checks again)."""
        now = time.monotonic()
        if now - self._checked < every:
            return
        self._checked = now
        if not copying and self.should_cancel and self.should_cancel():
            raise ImportCancelled
        if self.time_limit is not None and now - self._started > self.time_limit:
            raise ImportTimeLimit(
                f"The import ran over its time limit of {self.time_limit:g} s "
                "(IMPORT_JOB_TIME_LIMIT) and was rolled back: nothing was written. Split the "
                "file into smaller ones, or raise the limit."
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
    analyzed: list[str] = field(default_factory=list)  # tables ANALYZEd after the load
    analyze_seconds: float = 0.0

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
        if self.analyzed:
            text += f"; ANALYZE of {len(self.analyzed)} table(s) {self.analyze_seconds:.1f} s"
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
            "analyzed": self.analyzed,
            "analyze_seconds": round(self.analyze_seconds, 3),
        }


class ImportTable:
    """What an entity's file looks like and how its rows are merged. Subclasses set the columns
    and the natural key and write ``merge`` (and, where needed, more ``checks``)."""

    name = ""
    model: type[Model]  # whose rows the file holds (each table sets it)
    columns: Sequence[Column] = ()
    key: Sequence[str] = ()  # the natural key's columns
    key_case_insensitive = False
    counted = "rows"
    stage_extra: Sequence[tuple[str, str]] = ()

    # -- header ----------------------------------------------------------------------------------

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def export_rows(self, queryset: QuerySet[Any] | None = None) -> Iterator[list[str]]:
        """The rows of an export, cells as the file writes them (every table defines it)."""
        raise NotImplementedError

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
        header = [name for name in reader.header if not name.startswith(ERROR_PREFIX)]
        known = {column.name: column for column in self.columns}
        problems = []
        seen: set[str] = set()
        repeated_names: set[str] = set()
        for name in header:
            if name in seen:
                repeated_names.add(name)
            elif name:
                seen.add(name)
        repeated = sorted(repeated_names)
        if repeated:
            problems.append(f"repeated column(s): {_listed(repeated)}")
        missing = [c.name for c in self.columns if c.required and c.name not in seen]
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        unknown = [name or "(empty)" for name in header if name not in known]
        if unknown:
            problems.append(f"unknown column(s): {_listed(unknown)}")
        if problems:
            found = _listed([name or "(empty)" for name in header])
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
        self, stage: Stage, rejected: RowSet, rejected_groups: str | None
    ) -> Iterator[tuple[int, str, str]]:
        """Rows to reject because other rows were (sales: the other lines of a bad sale).
        ``rejected``: the staged rows rejected by the checks; ``rejected_groups``: a table
        (``reference``) of the groups of rows rejected while reading, or None."""
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


def _listed(names: Sequence[str], most: int = 20) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" … ({len(names) - most} more)" if len(names) > most else "")


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
    used: list[int] | None = None,
) -> Iterator[tuple[Any, ...] | None]:
    """Valid rows as staged tuples (row number, then every table column in table order);
    invalid ones go to the error log. ``used``: the positions of the file's cells that are
    table columns (None: all of them; ``_error…`` columns are left out). None now and then: the
    rejected groups' buffer is full (see ``GROUPS_BUFFERED``)."""
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
        if used is not None:
            cells = [cells[i] for i in used]
        try:
            # map() calls the (cached) parsers in C: no Python frame per row, as a list
            # comprehension has (0.75 -> 0.53 µs a row of 7 cells, ~0.2 s per million rows).
            parsed = list(map(call, parsers, cells))
        except CellError:
            _report_cells(row_number, cells, layout, errors)
            if group is not None and "\x00" not in cells[group]:  # (a NUL is never staged)
                errors.rejected_groups.add(cells[group].strip())
                if len(errors.rejected_groups) >= GROUPS_BUFFERED:
                    yield None  # end this COPY: the groups go to their table
            continue
        if in_table_order:
            yield (row_number, *parsed)
        else:  # columns the file lacks stay None: the merge keeps the stored values
            values: list[Any] = [None] * count
            for position, value in zip(positions, parsed):  # noqa: B905 (same width)
                values[position] = value
            yield (row_number, *values)


def _report_cells(
    row_number: int, cells: list[str], layout: list[Column], errors: ErrorLog
) -> None:
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
    used = [i for i, name in enumerate(reader.header) if not name.startswith(ERROR_PREFIX)]
    errors = ErrorLog()
    max_rows = settings.IMPORT_MAX_ROWS
    stage: Stage | None = None
    try:
        with transaction.atomic():
            changes_before = table_changes()
            stage = Stage(table.columns, table.stage_extra)
            stage.present = {column.name for column in layout}
            stage.row_label, stage.source_label = reader.row_label, reader.source_label
            rows_read = 0
            options.enter_phase("reading")

            def count(rows: int) -> int:
                nonlocal rows_read
                rows_read += rows
                if rows_read > max_rows:
                    raise TableFileError(
                        f"The {reader.source_label} has more than {max_rows} rows "
                        "(IMPORT_MAX_ROWS). Split it into smaller files."
                    )
                return rows_read

            def counted_rows(
                rows: Iterable[tuple[int, list[str] | BadRow]],
            ) -> Iterator[tuple[int, list[str] | BadRow]]:
                # Every batch of rows read (valid or not): progress and the time limit; rows
                # stream into COPY as they are parsed, so the database loads one batch while
                # Python validates the next.
                batch = options.batch_size
                for row in rows:
                    count(1)
                    yield row
                    if rows_read % batch == 0:
                        if options.progress:
                            options.progress(rows_read, reader.bytes_read)
                        options.check_stop(every=0 if batch < 1000 else CHECK_SECONDS, copying=True)

            def load_rows(rows: Iterable[tuple[int, list[str] | BadRow]]) -> None:
                parsed = _parse_rows(rows, layout, table, errors, len(reader.header), kept)
                exhausted = False

                def segment() -> Iterator[tuple[Any, ...]]:
                    # Up to segment_rows valid rows, CHECK_SECONDS of them, or fewer when the
                    # rejected groups' buffer is full (_parse_rows yields None): COPY ends, the
                    # buffer is flushed, the cancel flag read (not during a COPY: it is a
                    # query), COPY goes on.
                    nonlocal exhausted
                    started = time.monotonic()
                    for copied, row in enumerate(parsed, start=1):
                        if row is None:
                            return
                        yield row
                        if copied == segment_rows or (
                            copied % 1000 == 0 and time.monotonic() - started > CHECK_SECONDS
                        ):
                            return
                    exhausted = True

                while not exhausted:
                    stage.load(segment())
                    errors.flush_groups(stage)
                    options.check_stop()

            kept = used if len(used) < len(reader.header) else None
            segment_rows = max(options.batch_size, SEGMENT_ROWS)
            if (
                isinstance(reader, CsvReader)
                and (columnar := _columnar_parser(reader, layout, used)) is not None
            ):
                _load_blocks(reader, columnar, stage, options, count, load_rows, counted_rows)
            else:
                load_rows(counted_rows(reader.rows()))
            report.rows = rows_read
            if options.progress:
                options.progress(rows_read, reader.bytes_read)
            options.enter_phase("checking")
            stage.analyze()
            _run_checks(stage, table, errors, options)
            report.error_count = errors.count
            report.rejected = errors.rejected
            report.errors = errors.errors()
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
            options.enter_phase("writing")
            table.merge(stage, options)
            # Fresh planner statistics for the tables the load changed much (issue 20): with
            # those of the tables as they were, a load into empty tables planned every sales
            # list as a parallel bitmap scan until someone ran ANALYZE.
            analyze_started = time.perf_counter()
            report.analyzed = analyze_changed_tables(
                settings.IMPORT_ANALYZE_PERCENT, changes_before
            )
            report.analyze_seconds = time.perf_counter() - analyze_started
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
        if options.phase and options.apply_stock:
            options.phase("applying stock")
        table.after_import(options, report, errors)
        if errors.count != report.error_count:  # its failures (sales with --apply-stock)
            report.error_count, report.errors = errors.count, errors.errors()
    if options.errors_out is not None:
        errors.write_file(reader, options.errors_out)
    report.seconds = time.perf_counter() - started
    metrics.import_rows(table.name, read=report.rows or 0, rejected=report.rejected or 0)
    return report


def _columnar_parser(
    reader: CsvReader, layout: list[Column], used: list[int]
) -> ColumnarParser | None:
    """The columnar way for this CSV file, or None (a column it does not handle, SQLite,
    IMPORT_COLUMNAR_PARSE off)."""
    if not (settings.IMPORT_COLUMNAR_PARSE and is_postgresql()):
        return None
    from core.dataio.columnar import ColumnarParser

    parser = ColumnarParser(layout, used, len(reader.header))
    return parser if parser.supported else None


def _load_blocks(
    reader: CsvReader,
    columnar: ColumnarParser,
    stage: Stage,
    options: ImportOptions,
    count: Callable[[int], int],
    load_rows: Callable[[Iterable[tuple[int, list[str] | BadRow]]], None],
    counted_rows: Callable[
        [Iterable[tuple[int, list[str] | BadRow]]], Iterator[tuple[int, list[str] | BadRow]]
    ],
) -> None:
    """Stage the reader's pieces: each block's canonical rows in one binary COPY (for up to
    CHECK_SECONDS of blocks, so Python splits the next block while the server loads the last),
    then its other rows and the per-row rest of the file the per-row way."""
    from core.dataio.columnar import LineBlock

    pieces = reader.pieces()
    rest: Iterator[tuple[int, list[str] | BadRow]] | None = None
    others: list[Leftovers] = []  # the blocks' rows for the per-cell parse, not yet parsed
    done = False

    def payloads() -> Iterator[memoryview]:
        nonlocal rest, done
        started, held = time.monotonic(), 0
        for piece in pieces:
            if not isinstance(piece, LineBlock):
                rest = piece
                break
            payload, staged, leftover = columnar.parse(piece)
            rows_read = count(staged + len(leftover))
            if len(leftover):
                others.append(leftover)
                held += len(leftover)
            yield payload
            if options.progress:
                options.progress(rows_read, reader.bytes_read)
            options.check_stop(copying=True)
            if held >= GROUPS_BUFFERED or time.monotonic() - started > CHECK_SECONDS:
                return
        done = True

    while not done:
        stage.load_binary(columnar.copy_columns, payloads())
        if others:
            load_rows(itertools.chain.from_iterable(others))
            others.clear()
        options.check_stop()
    if rest is not None:
        load_rows(counted_rows(rest))


def _run_checks(stage: Stage, table: ImportTable, errors: ErrorLog, options: ImportOptions) -> None:
    """The set-based checks; the rows they reject are staged rows, never rows rejected while
    reading (those were not staged)."""
    rejected = RowSet()
    errors.add_rows(table.checks(stage), rejected)
    errors.add_rows(
        (
            (row, column, message)
            for row, column, message in table.reject_related(stage, rejected, errors.groups_table)
            if row not in rejected
        ),
        rejected,
    )
    if rejected and options.on_error == "skip":
        stage.delete_rows(rejected)


def _preview(stage: Stage, table: ImportTable, limit: int) -> list[tuple[int, str, list[str]]]:
    actions = dict(table.preview(stage, limit))
    if not actions:
        return []
    cells = _stage_cells(stage, table.columns, set(actions))
    return [(row, actions[row], cells.get(row, [])) for row in sorted(actions)]
