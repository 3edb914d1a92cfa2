"""Import and export, as services: the commands, the API, the admin and the jobs call these."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO, Any

from django.db.models import QuerySet

from core.dataio.exporter import export_stream
from core.dataio.importer import ImportOptions, ImportReport, run_import
from core.dataio.readers import RecordsReader, open_table
from core.dataio.tables import get_table


def data_import(*, table: str, source: IO[bytes], fmt: str, options: ImportOptions) -> ImportReport:
    """Import a table file (see :mod:`core.dataio.importer`). File-level problems raise
    ``TableFileError``; row problems are in the report (``aborted`` when nothing was written)."""
    import_table = get_table(table)
    reader = open_table(source, fmt, import_table.column_names)
    return run_import(import_table, reader, options)


def data_import_records(
    *, table: str, records: Sequence[Any], options: ImportOptions
) -> ImportReport:
    """Import objects already parsed (an API request's items), with the same columns, checks and
    merge as a file. Rows are numbered by item index (from 0)."""
    import_table = get_table(table)
    return run_import(import_table, RecordsReader(records, import_table.column_names), options)


def data_export(*, table: str, fmt: str, queryset: QuerySet[Any] | None = None) -> Iterator[bytes]:
    """The table (or the rows of ``queryset``) as a file, in chunks of bytes."""
    return export_stream(get_table(table), fmt, queryset)
