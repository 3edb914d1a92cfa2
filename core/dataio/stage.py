"""The staging table of one import: a temporary table the validated rows are loaded into
(PostgreSQL ``COPY``, batched inserts on SQLite), checked with SQL as a set, and merged into the
real tables with ``INSERT … ON CONFLICT``. It lives inside the import's transaction."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction

from core.dataio.columns import Column

logger = logging.getLogger(__name__)


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def distinct(left: str, right: str) -> str:
    """SQL: the two values differ, NULLs compared as values."""
    return f"{left} IS DISTINCT FROM {right}" if is_postgresql() else f"{left} IS NOT {right}"


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        count: int = cursor.rowcount
        return count


def fetch_all(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def fetch_value(sql: str, params: Sequence[Any] = ()) -> Any:
    rows = fetch_all(sql, params)
    return rows[0][0] if rows else None


def fetch_iter(
    sql: str, params: Sequence[Any] = (), size: int = 10_000
) -> Iterator[tuple[Any, ...]]:
    """Rows in batches (any number of them in constant memory). On PostgreSQL inside a
    transaction, from a server-side cursor: psycopg's ordinary cursor holds the whole result in
    the client (a million duplicate-key errors were ~60 MB there)."""
    open_cursor = connection.cursor
    if is_postgresql() and connection.in_atomic_block:
        open_cursor = connection.chunked_cursor  # Django's server-side cursor (time zones too)
    with open_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(size):
            yield from batch


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


# PostgreSQL's binary COPY format: the signature, flags and header extension; the trailer.
BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
BINARY_TRAILER = b"\xff\xff"

_COPY_TYPES = {
    "decimal": "numeric",
    "integer": "int8",
    "datetime": "timestamptz",
    "boolean": "bool",
}


class Stage:
    """``row_number`` plus one typed column per table column, plus ``extra`` working columns
    (e.g. resolved foreign keys)."""

    _counter = itertools.count(1)

    def __init__(self, columns: Sequence[Column], extra: Sequence[tuple[str, str]] = ()) -> None:
        self.name = f"import_stage_{next(self._counter)}"
        self.present: set[str] = {column.name for column in columns}  # columns in the file
        self.also_drop: list[str] = []
        self.row_label, self.source_label = (
            "row",
            "file",
        )  # how messages name a row, the input  # more temporary tables made from this one
        self.version = 0  # bumped when rows are taken out (tables derived from it are stale)
        self.columns = list(columns)
        self.column_names = ["row_number", *(column.name for column in self.columns)]
        definitions = [
            "row_number bigint PRIMARY KEY",
            *(f"{column.name} {column.sql_type}" for column in self.columns),
            *(f"{name} {sql_type}" for name, sql_type in extra),
        ]
        suffix = " ON COMMIT DROP" if is_postgresql() else ""
        work_mem = settings.IMPORT_WORK_MEM
        if is_postgresql() and work_mem:  # the checks' sorts and hashes in memory, not on disk
            execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        if is_postgresql():
            # No JIT compilation for the import's statements: each big one compiled ~100
            # functions (about 2 s of the rollup statement's 16 s under EXPLAIN ANALYZE, 1.5 s
            # of the server's CPU over a 1M-line sales import) and ran once.
            execute("SELECT set_config('jit', 'off', true)")
            # An import's set-based statements cover the whole file (its size capped by the
            # IMPORT_*_MAX_BYTES settings): the jobs' statement timeout, in a request too (the
            # web's few seconds is for reads; core/ops/database.py), for this transaction.
            timeout = settings.DB_STATEMENT_TIMEOUT_JOBS_MS
            execute("SELECT set_config('statement_timeout', %s, true)", [f"{timeout}ms"])
        execute(f"DROP TABLE IF EXISTS {self.name}")
        execute(f"CREATE TEMPORARY TABLE {self.name} ({', '.join(definitions)}){suffix}")
        self._adapters = [self._adapter(column) for column in self.columns]
        self._copy_types = ["int8", *(_COPY_TYPES.get(c.kind, "text") for c in self.columns)]

    @staticmethod
    def _adapter(column: Column) -> Callable[[Any], Any] | None:
        ops = connection.ops
        if column.kind == "datetime":
            return ops.adapt_datetimefield_value
        if column.kind == "decimal":
            return lambda value: ops.adapt_decimalfield_value(value, 14, 2)
        return None

    def load(self, rows: Iterable[Sequence[Any]]) -> int:
        """Append rows (``row_number`` first, then the column values in order); returns how
        many."""
        columns = ", ".join(self.column_names)
        count = 0
        if is_postgresql():
            # Binary COPY: the server takes the values as they are instead of parsing text
            # (timestamps and numerics most of all); psycopg's C dumpers write them.
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(self._binary_copy(self.column_names)) as copy,
            ):
                copy.set_types(self._copy_types)
                write_row = copy.write_row
                for count, row in enumerate(rows, start=1):  # noqa: B007 (counted)
                    write_row(row)
            return count
        adapters = [(i, adapt) for i, adapt in enumerate(self._adapters, start=1) if adapt]
        placeholders = ", ".join(["%s"] * len(self.column_names))
        insert = f"INSERT INTO {self.name} ({columns}) VALUES ({placeholders})"
        with connection.cursor() as cursor:
            for batch in _chunks(rows, 5_000):  # batched inserts on SQLite
                adapted = []
                for row in batch:
                    row = list(row)
                    for index, adapt in adapters:
                        if row[index] is not None:
                            row[index] = adapt(row[index])
                    adapted.append(row)
                cursor.executemany(insert, adapted)
                count += len(adapted)
        return count

    def _binary_copy(self, columns: Sequence[str]) -> str:
        return f"COPY {self.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"

    def load_binary(self, columns: Sequence[str], payloads: Iterable[Any]) -> None:
        """PostgreSQL: append rows given as binary COPY data (``payloads``: buffers of whole
        rows of ``columns``, see :mod:`core.dataio.columnar`); no COPY at all when there are
        none."""
        payloads = iter(payloads)
        first = next(payloads, None)
        if first is None:
            return
        with connection.cursor() as cursor, cursor.cursor.copy(self._binary_copy(columns)) as copy:
            copy.write(BINARY_SIGNATURE)
            copy.write(first)
            for payload in payloads:
                copy.write(payload)
            copy.write(BINARY_TRAILER)

    def side_table(self, suffix: str, definition: str) -> str:
        """A temporary table of this import (dropped with the stage); its name."""
        name = f"{self.name}_{suffix}"
        execute(f"DROP TABLE IF EXISTS {name}")
        on_commit = " ON COMMIT DROP" if is_postgresql() else ""
        execute(f"CREATE TEMPORARY TABLE {name} ({definition}){on_commit}")
        self.also_drop.append(name)
        return name

    def analyze(self) -> None:
        if is_postgresql():
            execute(f"ANALYZE {self.name}")

    def delete_rows(self, row_numbers: Iterable[int]) -> None:
        """Take rows out (``row_numbers`` is streamed, 10,000 at a time)."""
        self.version += 1
        for chunk in _chunks(row_numbers, 10_000):
            placeholders = ", ".join(["%s"] * len(chunk))
            execute(f"DELETE FROM {self.name} WHERE row_number IN ({placeholders})", chunk)

    def drop(self) -> None:
        if not is_postgresql():  # PostgreSQL drops them at commit or rollback
            for name in [*self.also_drop, self.name]:
                execute(f"DROP TABLE IF EXISTS {name}")


# --- Secondary indexes built in bulk for a large load ------------------------------------------


@contextlib.contextmanager
def indexes_built_after(loads: Sequence[tuple[str, int]], percent: int) -> Iterator[list[str]]:
    """PostgreSQL: for each ``(table, rows to insert)`` of ``loads`` where the rows number at
    least ``percent`` % of the rows the table holds (``pg_class.reltuples``; 0 = never), drop
    the table's plain secondary indexes (neither unique nor backing a constraint: those check
    the rows as they come) inside the transaction, and create them again, the same
    definitions and names, when the block ends without an error; yields the indexes' names.

    Building an index over all the rows at once is cheaper than inserting a large load's rows
    into it one by one (the GIN trigram index most of all). The cost: ``DROP INDEX`` takes the
    table's ACCESS EXCLUSIVE lock until the commit, so readers of the table wait for the load
    to end; hence only for loads large relative to the table (an initial load, a
    migration). On an error the transaction rolls back and the indexes are there as they were.
    """
    if not is_postgresql() or percent <= 0:
        yield []
        return
    definitions: list[tuple[str, str]] = []
    for table, rows in loads:
        held = fetch_value(
            "SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", [table]
        )
        if rows <= 0 or rows * 100 < held * percent:
            continue
        definitions += fetch_all(
            """
            SELECT format('%%I.%%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND i.indisvalid
              AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
            ORDER BY c.relname
            """,
            [table],
        )
    if not definitions:
        yield []
        return
    execute(f"DROP INDEX {', '.join(name for name, _ in definitions)}")
    yield [name for name, _ in definitions]
    work_mem = settings.IMPORT_WORK_MEM
    if work_mem:  # the sorts of the index builds
        execute("SELECT set_config('maintenance_work_mem', %s, true)", [work_mem])
    # Foreign key checks queued by the block's inserts (the row-by-row triggers: set-based
    # checks off, or a role that may not use them, as on most managed databases) refuse
    # CREATE INDEX on their table ("pending trigger events"): they run now, and the rest of
    # the transaction defers them again (Django's foreign keys are all INITIALLY DEFERRED).
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    for _, definition in definitions:
        execute(definition)
    execute("SET CONSTRAINTS ALL DEFERRED")


# --- Planner statistics after a load ------------------------------------------------------------


_CHANGES = "s.n_tup_ins + s.n_tup_upd + s.n_tup_del"


def table_changes() -> dict[int, int]:
    """PostgreSQL: rows changed per table (oid) as ``pg_stat_xact_user_tables`` counts them now:
    this transaction's changes plus the session's earlier ones not yet sent to the statistics
    collector (so ``analyze_changed_tables`` takes the difference)."""
    if not is_postgresql():
        return {}
    return dict(fetch_all(f"SELECT s.relid, {_CHANGES} FROM pg_stat_xact_user_tables s"))


def analyze_changed_tables(percent: int, before: dict[int, int]) -> list[str]:
    """PostgreSQL: ``ANALYZE`` every ordinary table whose rows changed (inserted, updated,
    deleted) since ``before`` (``table_changes()``) number more than ``percent`` % of the rows
    it held (``pg_class.reltuples``; a table never analyzed counts as empty); returns their
    names. Run before the commit: the statistics become visible with the rows, and ANALYZE
    counts this transaction's own new rows. Temporary tables are left out."""
    if not is_postgresql():
        return []
    names = [
        name
        for name, relid, total, held in fetch_all(
            f"""
            SELECT format('%%I.%%I', s.schemaname, s.relname), s.relid, {_CHANGES},
                   GREATEST(c.reltuples, 0)
            FROM pg_stat_xact_user_tables s JOIN pg_class c ON c.oid = s.relid
            WHERE c.relpersistence = 'p' AND {_CHANGES} > 0 ORDER BY 1
            """
        )
        if (changes := total - before.get(relid, 0)) > 0 and changes > held * percent / 100
    ]
    if names:
        execute(f"ANALYZE {', '.join(names)}")
    return names


# --- Foreign keys checked as a set -------------------------------------------------------------


@contextlib.contextmanager
def trusted_references(
    tables: Sequence[str], references: Sequence[tuple[str, str]]
) -> Iterator[bool]:
    """Inside the block, inserts into ``tables`` skip PostgreSQL's row-by-row foreign key
    triggers (``session_replication_role = replica``); yields whether they do.

    Django's foreign keys are ``DEFERRABLE INITIALLY DEFERRED``: each inserted row queues one
    trigger per foreign key that, at commit, runs ``SELECT 1 FROM <referenced> WHERE id = $1
    FOR KEY SHARE`` for that row (about 30 s for the two million checks of a million-line sales
    import). The same guarantee, taken as a set: ``references`` are (referenced table, SQL
    giving every id the block's inserts will reference) pairs; each referenced row is locked
    ``FOR KEY SHARE`` here (in id order, as the triggers would, until the commit), and only if
    every id is found and locked are the triggers skipped. Any other foreign key of ``tables``
    must point to rows the caller holds (its own new rows, rows it updated). So no row can be
    written that references a missing row, and none can be deleted before the commit.
    ``tables`` empty: the block's writes go to tables the caller does not name (a signal's
    receivers), so no table of the database may have triggers of its own.

    It falls back to the ordinary triggers, silently, when: ``IMPORT_SET_BASED_FK_CHECKS`` is
    False; the database is not PostgreSQL; the role may not set ``session_replication_role``
    (superuser, or ``GRANT SET ON PARAMETER session_replication_role``, PostgreSQL 15+); the
    session is not in the ``origin`` role already; ``tables`` have triggers of their own
    (replica mode would silence them too); or a referenced row is missing.
    """
    trusted = _enter_trusted(tables, references)
    try:
        yield trusted
    finally:
        if trusted:
            execute("SET LOCAL session_replication_role = origin")


def _enter_trusted(tables: Sequence[str], references: Sequence[tuple[str, str]]) -> bool:
    if not settings.IMPORT_SET_BASED_FK_CHECKS or not is_postgresql():
        return False
    if connection.pg_version >= 150000:  # type: ignore[attr-defined]  # PostgreSQL's wrapper
        allowed = "has_parameter_privilege('session_replication_role', 'SET')"
    else:
        allowed = "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)"
    names = ", ".join(f"'{table}'::regclass" for table in tables)
    on_tables = f"tgrelid IN ({names}) AND " if tables else ""  # none named: any table
    allowed, role, own_triggers = fetch_all(
        f"SELECT {allowed}, current_setting('session_replication_role'), "
        f"EXISTS (SELECT 1 FROM pg_trigger WHERE {on_tables}NOT tgisinternal)"
    )[0]
    if not allowed or role != "origin" or own_triggers:
        return False
    for table, ids in references:
        wanted, locked = fetch_all(
            f"""
            SELECT (SELECT COUNT(DISTINCT id) FROM ({ids}) w (id) WHERE id IS NOT NULL),
                   (SELECT COUNT(*) FROM (SELECT r.id FROM {table} r
                                          WHERE r.id IN (SELECT id FROM ({ids}) w (id))
                                          ORDER BY r.id FOR KEY SHARE) l)
            """
        )[0]
        if wanted != locked:  # deleted meanwhile: let the triggers report it
            return False
    try:
        with transaction.atomic():
            execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:  # not allowed after all (e.g. a managed service's restrictions)
        logger.info("session_replication_role cannot be set: foreign keys checked row by row")
        return False
    return True
