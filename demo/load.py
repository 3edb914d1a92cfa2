"""Writing the demo rows: ``COPY`` on PostgreSQL, batched ``executemany`` elsewhere.

A loader writes for one database vendor. Small tables take typed rows (int, str, None, bool,
Decimal, datetime); sale chunks are formatted by :meth:`Loader.format_chunk` (which runs in the
generating thread, so it must not touch the database) and written by :meth:`Loader.write_chunk`.
On PostgreSQL ids come from the tables' own sequences while the tables are locked against other
writers, and for big loads the foreign keys of the two sales tables can be dropped and re-added
(:meth:`PostgresLoader.suspend_foreign_keys`), which checks every row at once. The SQL is in
:mod:`demo.sql`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, connection, models, transaction

from demo import sql
from demo.generate import DAY, SaleSpec
from demo.tables import SEEDED_MODELS, count_rows, dependent_models
from sales.models import Sale, SaleItem, SaleStatus

SQLITE_BATCH = 2_000
NULL = "\\N"  # NULL in the COPY text format

SALE_FIELDS = (
    "id", "reference", "customer", "sold_at", "status", "total", "created_by", "created_at",
    "updated_at", "cancelled_at",
)  # fmt: skip
ITEM_FIELDS = ("id", "sale", "product", "quantity", "unit_price", "unit_cost", "line_total")


def as_datetime(ts: int) -> datetime:
    """Epoch seconds -> an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


def cents_text(value: int) -> str:
    """Cents -> ``"12.34"``."""
    return f"{value // 100}.{value % 100:02d}"


class _TimestampText:
    """Epoch seconds -> the database's text for a timestamp, with the date part cached."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix
        self._days: dict[int, str] = {}

    def __call__(self, ts: int) -> str:
        day, second = divmod(ts, DAY)
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = as_datetime(day * DAY).strftime("%Y-%m-%d")
        hour, rest = divmod(second, 3600)
        return f"{text} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}{self.suffix}"


@dataclass
class Chunk:
    """A chunk of sales ready to write, in the loader's own format."""

    sales: Any
    items: Any
    sale_count: int
    line_count: int


class Loader:
    """Writes rows for one database vendor (see the module docstring)."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def lock_tables(self) -> None:
        raise NotImplementedError

    def reset(self) -> dict[str, int]:
        raise NotImplementedError

    def first_id(self, model: type[models.Model]) -> int:
        raise NotImplementedError

    def last_id_used(self, model: type[models.Model], last: int) -> None:
        """Tell the id generator that ids up to ``last`` are taken."""

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
        raise NotImplementedError

    def format_chunk(
        self,
        chunk: list[SaleSpec],
        first_sale_id: int,
        first_item_id: int,
        customer_ids: list[int],
        product_ids: list[int],
    ) -> Chunk:
        raise NotImplementedError

    def write_chunk(self, chunk: Chunk) -> None:
        raise NotImplementedError

    def suspend_foreign_keys(self) -> bool:
        return False

    def restore_foreign_keys(self) -> None:
        pass

    def analyze(self, tables: Sequence[type[models.Model]]) -> None:
        pass


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if any(ch in text for ch in "\\\t\n\r"):
        for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            text = text.replace(raw, escaped)
    return text


class PostgresLoader(Loader):
    """``COPY ... FROM STDIN`` (text format) through the psycopg 3 cursor under Django's."""

    def __init__(self, cursor) -> None:
        super().__init__(cursor)
        self.ts = _TimestampText("+00")
        self._suspended: list[tuple[type[models.Model], str, str]] = []

    def lock_tables(self) -> None:
        sql.pg_lock_for_load(self.cursor, SEEDED_MODELS)

    def reset(self) -> dict[str, int]:
        deleted = count_rows()
        sql.pg_run_deferred_checks(self.cursor)
        sql.pg_truncate(self.cursor, [*dependent_models(), *SEEDED_MODELS])
        return deleted

    def first_id(self, model: type[models.Model]) -> int:
        return sql.pg_next_id(self.cursor, model)

    def last_id_used(self, model: type[models.Model], last: int) -> None:
        sql.pg_set_last_id(self.cursor, model, last)

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
        if rows:
            text = "".join("\t".join(map(_copy_text, row)) + "\n" for row in rows)
            sql.pg_copy(self.cursor, model, names, text)

    def format_chunk(self, chunk, first_sale_id, first_item_id, customer_ids, product_ids):
        ts = self.ts
        sale_lines = []
        item_lines = []
        item_id = first_item_id
        sale_id = first_sale_id
        for reference, customer, sold_at, cancelled_at, total, lines in chunk:
            sold = ts(sold_at)
            customer_id = NULL if customer is None else customer_ids[customer]
            if cancelled_at is None:
                status, updated, cancelled = "completed", sold, NULL
            else:
                status, updated = "cancelled", ts(cancelled_at)
                cancelled = updated
            sale_lines.append(
                f"{sale_id}\t{reference}\t{customer_id}\t{sold}\t{status}\t"
                f"{total // 100}.{total % 100:02d}\t{NULL}\t{sold}\t{updated}\t{cancelled}\n"
            )
            for product, quantity, price, cost, line_total in lines:
                item_lines.append(
                    f"{item_id}\t{sale_id}\t{product_ids[product]}\t{quantity}\t"
                    f"{price // 100}.{price % 100:02d}\t{cost // 100}.{cost % 100:02d}\t"
                    f"{line_total // 100}.{line_total % 100:02d}\n"
                )
                item_id += 1
            sale_id += 1
        return Chunk("".join(sale_lines), "".join(item_lines), len(chunk), len(item_lines))

    def write_chunk(self, chunk: Chunk) -> None:
        sql.pg_copy(self.cursor, Sale, SALE_FIELDS, chunk.sales)
        sql.pg_copy(self.cursor, SaleItem, ITEM_FIELDS, chunk.items)

    def suspend_foreign_keys(self) -> bool:
        """Drop the foreign keys *of* the two sales tables until :meth:`restore_foreign_keys`.

        PostgreSQL checks a foreign key row by row (~10 µs each here: 6 million checks for a
        million sales), but re-adding the constraint checks every row at once with one join.
        Both happen in the seeding transaction: the constraints are back, identical (same names
        and definitions), before it commits, and nothing is changed if anything fails. Indexes
        are untouched. Returns False (constraints kept, checked row by row) if they cannot be
        dropped, e.g. when the database user does not own the tables.
        """
        sql.pg_run_deferred_checks(self.cursor)
        foreign_keys = sql.pg_foreign_keys(self.cursor, [Sale, SaleItem])
        try:
            with transaction.atomic():  # a savepoint: a refusal leaves every constraint in place
                for model, name, _ in foreign_keys:
                    sql.pg_drop_constraint(self.cursor, model, name)
        except DatabaseError:
            return False
        self._suspended = foreign_keys
        return True

    def restore_foreign_keys(self) -> None:
        for model, name, definition in self._suspended:
            sql.pg_add_constraint(self.cursor, model, name, definition)
        self._suspended = []

    def analyze(self, tables: Sequence[type[models.Model]]) -> None:
        sql.pg_analyze(self.cursor, tables)


class GenericLoader(Loader):
    """SQLite (the embedded default) and any other database: batched ``executemany``."""

    def __init__(self, cursor) -> None:
        super().__init__(cursor)
        # Django's own storage format for an aware datetime on SQLite: naive UTC text.
        self.ts = _TimestampText("")

    def lock_tables(self) -> None:
        pass  # SQLite has one writer at a time; the transaction's first write takes the lock.

    def reset(self) -> dict[str, int]:
        deleted = count_rows()
        # The same tables as TRUNCATE on PostgreSQL, referencing ones first (PROTECT).
        models_: list[type[models.Model]] = [*dependent_models(), *SEEDED_MODELS]
        for model in models_:
            model._base_manager.all().delete()
        return deleted

    def first_id(self, model: type[models.Model]) -> int:
        biggest = model._default_manager.aggregate(biggest=models.Max("pk"))["biggest"]
        return (biggest or 0) + 1

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
        fields: list[models.Field[Any, Any]] = []
        for name in names:
            field = model._meta.get_field(name)
            assert isinstance(field, models.Field)  # a concrete column
            fields.append(field)
        prepared = [
            tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True))
            for row in rows
        ]
        sql.insert_many(self.cursor, model, names, prepared, SQLITE_BATCH)

    def format_chunk(self, chunk, first_sale_id, first_item_id, customer_ids, product_ids):
        ts = self.ts
        sale_rows = []
        item_rows = []
        item_id = first_item_id
        sale_id = first_sale_id
        for reference, customer, sold_at, cancelled_at, total, lines in chunk:
            sold = ts(sold_at)
            cancelled = None if cancelled_at is None else ts(cancelled_at)
            sale_rows.append(
                (
                    sale_id,
                    reference,
                    None if customer is None else customer_ids[customer],
                    sold,
                    SaleStatus.COMPLETED.value if cancelled is None else SaleStatus.CANCELLED.value,
                    cents_text(total),
                    None,
                    sold,
                    cancelled or sold,
                    cancelled,
                )
            )
            for product, quantity, price, cost, line_total in lines:
                item_rows.append(
                    (
                        item_id,
                        sale_id,
                        product_ids[product],
                        quantity,
                        cents_text(price),
                        cents_text(cost),
                        cents_text(line_total),
                    )
                )
                item_id += 1
            sale_id += 1
        return Chunk(sale_rows, item_rows, len(chunk), len(item_rows))

    def write_chunk(self, chunk: Chunk) -> None:
        sql.insert_many(self.cursor, Sale, SALE_FIELDS, chunk.sales, SQLITE_BATCH)
        sql.insert_many(self.cursor, SaleItem, ITEM_FIELDS, chunk.items, SQLITE_BATCH)

    def analyze(self, tables: Sequence[type[models.Model]]) -> None:
        if connection.vendor == "sqlite":
            sql.sqlite_analyze(self.cursor, tables)


def loader_for(cursor) -> Loader:
    """The loader for the default connection's database."""
    return PostgresLoader(cursor) if connection.vendor == "postgresql" else GenericLoader(cursor)
