"""The sales app's hand-written SQL, in one place (issue 15: raw SQL where it pays).

Named functions, each saying why it is not the ORM. Table and column names come from the
models' ``_meta`` and are quoted with ``connection.ops.quote_name``; values are parameters.
(The sales file import's set-based statements live with the import, in ``sales/tables.py``.)
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Field, Model

from products.models import Product
from sales.models import SaleItem


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(model: type[Model], field: str) -> str:
    """The quoted column of ``model``'s concrete field ``field``."""
    concrete = model._meta.get_field(field)
    if not isinstance(concrete, Field) or concrete.column is None:
        raise ValueError(f"{model.__name__}.{field} is not a column")
    return _q(concrete.column)


def sale_item_rows(sale_ids: list[int]) -> list[tuple]:
    """The lines of these sales as tuples ``(sale_id, product_id, sku, name, quantity,
    unit_price, line_total)``, ordered by sale id then line id: one query.

    Written out: the ORM's query building and row iteration were a fifth of a sales-list
    request's CPU for these ~130 rows (docs/PERFORMANCE.md).
    """
    if not sale_ids:
        return []
    item, product = _q(SaleItem._meta.db_table), _q(Product._meta.db_table)
    sale_id, product_id = _column(SaleItem, "sale"), _column(SaleItem, "product")
    item_pk = _column(SaleItem, SaleItem._meta.pk.name)
    product_pk = _column(Product, Product._meta.pk.name)
    item_columns = ", ".join(
        f"i.{_column(SaleItem, name)}" for name in ("quantity", "unit_price", "line_total")
    )
    placeholders = ", ".join(["%s"] * len(sale_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT i.{sale_id}, i.{product_id}, p.{_column(Product, 'sku')}, "
            f"p.{_column(Product, 'name')}, {item_columns} "
            f"FROM {item} i JOIN {product} p ON p.{product_pk} = i.{product_id} "
            f"WHERE i.{sale_id} IN ({placeholders}) "
            f"ORDER BY i.{sale_id}, i.{item_pk}",
            sale_ids,
        )
        return cursor.fetchall()
