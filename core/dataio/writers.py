"""Table writers: CSV, JSON and XLSX bytes streamed in chunks from rows of cell text.

The CSV writer escapes text cells against spreadsheet formula injection (XLSX cells are typed
text, JSON keeps the stored value). :data:`WRITERS` maps a format to its writer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence

from core.dataio.formats import FORMULA_PREFIXES, escape_formula

_CHUNK = 1 << 16


def iter_csv(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int] = ()
) -> Iterator[bytes]:
    """CSV bytes in chunks of about 64 KiB (UTF-8, comma, minimal quoting, ``\\r\\n``). The
    cells of ``text_columns`` (positions) are escaped with :func:`escape_formula`: a CSV file
    is opened by spreadsheets, which would run ``=...`` as a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    risky = (*FORMULA_PREFIXES, "'")
    for row in rows:
        for index in text_columns:
            cell = row[index]
            if cell.startswith(risky):
                row = list(row)
                row[index] = escape_formula(cell)
        writer.writerow(row)
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def iter_json(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int] = ()
) -> Iterator[bytes]:
    """A JSON array of objects, one per line, every value a string (decimals stay exact) and
    the stored text as it is (no formula escaping: no spreadsheet reads JSON)."""
    from json.encoder import encode_basestring  # json's own (C) string encoder

    # The same text as json.dumps(dict(zip(header, row)), ensure_ascii=False), 5x faster: the
    # keys are written once into a template, the values encoded by one C call each.
    keys = ", ".join(f"{encode_basestring(name).replace('%', '%%')}: %s" for name in header)
    template = "{" + keys + "}"
    buffer = io.StringIO()
    buffer.write("[")
    separator = "\n"
    for row in rows:
        buffer.write(separator)
        buffer.write(template % tuple(map(encode_basestring, row)))
        separator = ",\n"
        if buffer.tell() >= _CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    buffer.write("\n]\n")
    yield buffer.getvalue().encode()


def iter_xlsx(
    header: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int] = ()
) -> Iterator[bytes]:
    """An XLSX workbook streamed as the rows come (see :mod:`core.dataio.xlsx_stream`).
    Every cell is a text cell, as in the CSV: a spreadsheet must not reinterpret SKUs or
    prices, nor run ``=...`` as a formula, so no apostrophe is needed."""
    from core.dataio.xlsx_stream import iter_xlsx_stream

    return iter_xlsx_stream(header, rows)


# writer(header, rows, text_columns) -> the file's bytes in chunks
WRITERS: dict[str, Callable[..., Iterator[bytes]]] = {
    "csv": iter_csv,
    "json": iter_json,
    "xlsx": iter_xlsx,
}
