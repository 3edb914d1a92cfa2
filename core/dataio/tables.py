"""The importable/exportable tables by name (``customers``, ``categories``, ``products``,
``sales``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from core.errors import ApplicationError

if TYPE_CHECKING:
    from core.dataio.importer import ImportTable

TABLES = {
    "customers": "customers.tables.CustomerTable",
    "categories": "products.tables.CategoryTable",
    "products": "products.tables.ProductTable",
    "sales": "sales.tables.SaleTable",
}


def get_table(name: str) -> ImportTable:
    """A fresh table object (an import keeps per-run state on it)."""
    try:
        path = TABLES[name]
    except KeyError:
        raise ApplicationError(
            f"Unknown table {name!r}: use one of {', '.join(TABLES)}.",
            fields={"table": [f"Use one of {', '.join(TABLES)}."]},
        ) from None
    table: ImportTable = import_string(path)()
    return table
