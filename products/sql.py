"""The products app's hand-written SQL, in one place (issue 15: raw SQL where it pays).

Every statement here is a named function with the reason it is not the ORM. Table and column
names come from the models' ``_meta`` and are quoted with ``connection.ops.quote_name``; values
are always parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import Field, Model

from products.models import Product


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model: type[Model], field: str) -> str:
    """The quoted column of ``model``'s concrete field ``field``."""
    concrete = model._meta.get_field(field)
    if not isinstance(concrete, Field) or concrete.column is None:
        raise ValueError(f"{model.__name__}.{field} is not a column")
    return _q(concrete.column)


def apply_stock_deltas(changes: Iterable[tuple[int, int]], now: datetime) -> tuple[int, int] | None:
    """Add each ``(product_id, delta)`` to the product's stock and set its ``updated_at``, in
    the order given; a decrement only if the stock covers it (``stock_quantity >= -delta``).
    Stops at the first row not updated (unknown product, or not enough stock) and returns its
    ``(product_id, delta)``; ``None`` when every row was updated. Run it in a transaction.

    Plain SQL: this is the hottest statement of a sale (one per line), and the ORM's query
    building costs more CPU than the UPDATE itself (docs/PERFORMANCE.md).
    """
    stock, pk = _column(Product, "stock_quantity"), _column(Product, Product._meta.pk.name)
    increment = (
        f"UPDATE {_q(Product._meta.db_table)} SET {stock} = {stock} + %s, "
        f"{_column(Product, 'updated_at')} = %s WHERE {pk} = %s"
    )
    decrement = f"{increment} AND {stock} >= %s"
    with connection.cursor() as cursor:
        for product_id, delta in changes:
            if delta < 0:
                cursor.execute(decrement, [delta, now, product_id, -delta])
            else:
                cursor.execute(increment, [delta, now, product_id])
            if cursor.rowcount != 1:
                return product_id, delta
    return None


def advance_product_id_sequence(pk: int) -> None:
    """Move PostgreSQL's product id sequence past ``pk`` (never backwards), after a row was
    inserted with an explicit id. No-op elsewhere (SQLite's next id already follows the
    largest). The ORM has no sequence API."""
    if connection.vendor != "postgresql":
        return
    table, column = Product._meta.db_table, Product._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, %s), "
            "GREATEST(%s, nextval(pg_get_serial_sequence(%s, %s))))",
            [table, column, pk, table, column],
        )


def _table_state_select(model: type[Model]) -> str:
    """Row count, newest ``updated_at``, and the exact sum of every row's ``updated_at``."""
    table, updated = _q(model._meta.db_table), _column(model, "updated_at")
    if connection.vendor == "postgresql":
        return f"SELECT COUNT(*), MAX({updated}), SUM(EXTRACT(EPOCH FROM {updated})) FROM {table}"
    if connection.vendor == "sqlite":
        # Stored as text 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds and microseconds,
        # summed apart (integers, exact, no overflow).
        return (
            f"SELECT COUNT(*), MAX({updated}), "
            f"SUM(CAST(strftime('%s', {updated}) AS INTEGER)), "
            f"SUM(CAST(substr({updated}, 21) AS INTEGER)) FROM {table}"
        )
    return f"SELECT COUNT(*), MAX({updated}) FROM {table}"


def tables_state_row(*models: type[Model]) -> tuple:
    """One query, one row: for each model's table in turn, its row count, newest
    ``updated_at`` and (PostgreSQL, SQLite) the sum of every row's ``updated_at``.

    Per table the three come from one sequential scan (both tables are small: ~0.7 ms on
    5,000 products); the ORM would need one aggregate query per table and cannot sum a
    timestamp exactly. See products.selectors for what the row is used for.
    """
    subqueries = ", ".join(f"({_table_state_select(model)}) t{i}" for i, model in enumerate(models))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {subqueries}")
        return tuple(cursor.fetchone())
