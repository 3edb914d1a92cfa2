"""The staging table of one import: a temporary table the validated rows are loaded into
(PostgreSQL ``COPY``, batched inserts on SQLite), checked with SQL as a set, and merged into the
real tables with ``INSERT … ON CONFLICT``. It lives inside the import's transaction."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection

from salesproject.dataio.columns import Column


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def distinct(left: str, right: str) -> str:
    """SQL: the two values differ, NULLs compared as values."""
    return f"{left} IS DISTINCT FROM {right}" if is_postgresql() else f"{left} IS NOT {right}"


def execute(sql: str, params: Sequence[Any] = ()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def fetch_all(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_value(sql: str, params: Sequence[Any] = ()) -> Any:
    rows = fetch_all(sql, params)
    return rows[0][0] if rows else None


def fetch_iter(sql: str, params: Sequence[Any] = (), size: int = 10_000) -> Iterator[tuple]:
    """Rows in batches (any number of them in constant memory)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(size):
            yield from batch


class Stage:
    """``row_number`` plus one typed column per table column, plus ``extra`` working columns
    (e.g. resolved foreign keys)."""

    _counter = itertools.count(1)

    def __init__(self, columns: Sequence[Column], extra: Sequence[tuple[str, str]] = ()) -> None:
        self.name = f"import_stage_{next(self._counter)}"
        self.present: set[str] = {column.name for column in columns}  # columns in the file
        self.also_drop: list[str] = []  # more temporary tables made from this one
        self.columns = list(columns)
        self.column_names = ["row_number", *(column.name for column in self.columns)]
        definitions = [
            "row_number bigint PRIMARY KEY",
            *(f"{column.name} {column.sql_type}" for column in self.columns),
            *(f"{name} {sql_type}" for name, sql_type in extra),
        ]
        suffix = " ON COMMIT DROP" if is_postgresql() else ""
        execute(f"DROP TABLE IF EXISTS {self.name}")
        execute(f"CREATE TEMPORARY TABLE {self.name} ({', '.join(definitions)}){suffix}")
        self._adapters = [self._adapter(column) for column in self.columns]

    @staticmethod
    def _adapter(column: Column):
        ops = connection.ops
        if column.kind == "datetime":
            return ops.adapt_datetimefield_value
        if column.kind == "decimal":
            return lambda value: ops.adapt_decimalfield_value(value, 14, 2)
        return None

    def load(self, rows: Iterable[Sequence[Any]]) -> None:
        """Append rows (``row_number`` first, then the column values in order)."""
        columns = ", ".join(self.column_names)
        if is_postgresql():
            copy_sql = f"COPY {self.name} ({columns}) FROM STDIN"
            with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
            return
        adapters = list(enumerate(self._adapters, start=1))
        adapted = []
        for row in rows:
            row = list(row)
            for index, adapt in adapters:
                if adapt is not None and row[index] is not None:
                    row[index] = adapt(row[index])
            adapted.append(row)
        placeholders = ", ".join(["%s"] * len(self.column_names))
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name} ({columns}) VALUES ({placeholders})", adapted
            )

    def analyze(self) -> None:
        if is_postgresql():
            execute(f"ANALYZE {self.name}")

    def delete_rows(self, row_numbers: Iterable[int]) -> None:
        numbers = sorted(set(row_numbers))
        for start in range(0, len(numbers), 10_000):
            chunk = numbers[start : start + 10_000]
            placeholders = ", ".join(["%s"] * len(chunk))
            execute(f"DELETE FROM {self.name} WHERE row_number IN ({placeholders})", chunk)

    def drop(self) -> None:
        if not is_postgresql():  # PostgreSQL drops them at commit or rollback
            for name in [*self.also_drop, self.name]:
                execute(f"DROP TABLE IF EXISTS {name}")
