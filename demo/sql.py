"""The demo load's hand-written SQL, one named function per statement.

Table and column names come from the models' ``_meta`` and are quoted with the connection's
``quote_name``; values are always query parameters. The functions take the Django cursor of the
loading transaction (the PostgreSQL ones also reach the psycopg 3 cursor under it for ``COPY``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _columns(model: type[models.Model], names: Sequence[str]) -> str:
    """The quoted columns of the model fields ``names`` (field names, e.g. ``"customer"``)."""
    columns = []
    for name in names:
        field = model._meta.get_field(name)
        if not isinstance(field, models.Field) or field.column is None:
            raise ValueError(f"{model.__name__}.{name} is not a column")
        columns.append(connection.ops.quote_name(field.column))
    return ", ".join(columns)


def _tables(tables: Iterable[type[models.Model]]) -> str:
    return ", ".join(_table(model) for model in tables)


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_lock_for_load(cursor, tables: Sequence[type[models.Model]]) -> None:
    """``LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE``: other writers wait until the load
    commits, so the ids it takes from the sequences stay its own."""
    cursor.execute(f"LOCK TABLE {_tables(tables)} IN SHARE ROW EXCLUSIVE MODE")


def pg_run_deferred_checks(cursor) -> None:
    """Run the deferred foreign-key checks still pending in this transaction (rows written
    before the load, e.g. in a test): they would make ``TRUNCATE`` and ``ALTER TABLE`` fail."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def pg_truncate(cursor, tables: Sequence[type[models.Model]]) -> None:
    """``TRUNCATE ... RESTART IDENTITY CASCADE``: empties the tables, restarts their id
    sequences, and (CASCADE) empties tables outside Django that reference them."""
    cursor.execute(f"TRUNCATE TABLE {_tables(tables)} RESTART IDENTITY CASCADE")


def pg_next_id(cursor, model: type[models.Model]) -> int:
    """The next value of the model's primary-key sequence (``nextval``)."""
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s))",
        [model._meta.db_table, model._meta.pk.column],
    )
    return cursor.fetchone()[0]


def pg_set_last_id(cursor, model: type[models.Model], last: int) -> None:
    """Move the model's primary-key sequence to ``last`` (at least 1): ids up to it are taken."""
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence(%s, %s), GREATEST(%s, 1))",
        [model._meta.db_table, model._meta.pk.column, last],
    )


def pg_copy(cursor, model: type[models.Model], names: Sequence[str], text: str) -> None:
    """``COPY table (columns) FROM STDIN`` of ``text``, rows in PostgreSQL's COPY text format
    (tab-separated, ``\\N`` for NULL), through the psycopg 3 cursor under Django's."""
    sql = f"COPY {_table(model)} ({_columns(model, names)}) FROM STDIN"
    with cursor.cursor.copy(sql) as copy:
        copy.write(text)


def pg_foreign_keys(
    cursor, tables: Sequence[type[models.Model]]
) -> list[tuple[type[models.Model], str, str]]:
    """The foreign-key constraints *of* the tables, as ``(model, constraint name, definition)``
    (``pg_get_constraintdef``, the text ``pg_add_constraint`` re-creates it from), in the order
    of ``tables`` then by name."""
    found: list[tuple[type[models.Model], str, str]] = []
    for model in tables:
        cursor.execute(
            """
            SELECT con.conname, pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            WHERE con.contype = 'f' AND con.conrelid = %s::regclass
            ORDER BY con.conname
            """,
            [_table(model)],
        )
        found.extend((model, name, definition) for name, definition in cursor.fetchall())
    return found


def pg_drop_constraint(cursor, model: type[models.Model], name: str) -> None:
    """``ALTER TABLE ... DROP CONSTRAINT name``."""
    cursor.execute(f"ALTER TABLE {_table(model)} DROP CONSTRAINT {connection.ops.quote_name(name)}")


def pg_add_constraint(cursor, model: type[models.Model], name: str, definition: str) -> None:
    """``ALTER TABLE ... ADD CONSTRAINT name definition``, ``definition`` being the text
    PostgreSQL itself gave for it (:func:`pg_foreign_keys`); checks every row at once."""
    quoted = connection.ops.quote_name(name)
    cursor.execute(f"ALTER TABLE {_table(model)} ADD CONSTRAINT {quoted} {definition}")


def pg_analyze(cursor, tables: Sequence[type[models.Model]]) -> None:
    """``ANALYZE`` the tables in one statement (fresh planner statistics after a bulk load)."""
    cursor.execute(f"ANALYZE {_tables(tables)}")


# --- Other databases (SQLite) -------------------------------------------------------------------


def insert_many(
    cursor, model: type[models.Model], names: Sequence[str], rows: list[tuple[Any, ...]], batch: int
) -> None:
    """``INSERT INTO table (columns) VALUES (%s, ...)`` of ``rows`` (database-ready values),
    ``executemany`` by ``batch`` rows."""
    placeholders = ", ".join(["%s"] * len(names))
    sql = f"INSERT INTO {_table(model)} ({_columns(model, names)}) VALUES ({placeholders})"
    for start in range(0, len(rows), batch):
        cursor.executemany(sql, rows[start : start + batch])


def sqlite_analyze(cursor, tables: Sequence[type[models.Model]]) -> None:
    """``ANALYZE`` each table (SQLite takes one name per statement)."""
    for model in tables:
        cursor.execute(f"ANALYZE {_table(model)}")
