"""Exports: a table's rows as cell text, streamed (server-side cursor on PostgreSQL) into CSV,
XLSX or JSON. The columns are the import's, so an exported file imports back unchanged."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import QuerySet

from salesproject.dataio.columns import Column
from salesproject.dataio.formats import WRITERS

EXPORT_CHUNK_ROWS = 5_000


def queryset_rows(
    queryset: QuerySet, columns: Sequence[Column], fields: Sequence[str], order: Sequence[str]
) -> Iterator[list[str]]:
    """``fields`` (ORM paths, one per column) of every row, formatted by the columns."""
    formats = [column.format for column in columns]
    rows = queryset.order_by(*order).values_list(*fields).iterator(EXPORT_CHUNK_ROWS)
    for values in rows:
        yield [fmt(value) for fmt, value in zip(formats, values, strict=True)]


def export_stream(table, fmt: str, queryset: QuerySet | None = None) -> Iterator[bytes]:
    """The file's bytes, in chunks."""
    return WRITERS[fmt](table.column_names, table.export_rows(queryset))
