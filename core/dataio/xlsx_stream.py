"""An XLSX workbook written as a stream: the first bytes leave before the last row is read.

openpyxl (even in write-only mode) writes the whole workbook to a file before the first byte can
be sent, keeps its shared strings in memory, and costs several microseconds a cell: a 2.5M-line
sales export took minutes, beyond the worker timeout. This writer emits the few parts of a
SpreadsheetML package itself and deflates them into a ZIP written to a non-seekable sink
(``zipfile`` then puts the sizes in data descriptors), so memory stays flat and the time is close
to the CSV export's.

Every cell is an inline string (``t="inlineStr"``): text stays text, never a formula or a number
(``=1+2``, ``+44 7302 616414`` and ``-5`` are written as they are, without an apostrophe), as in
the CSV. A sheet holds at most :data:`SHEET_MAX_ROWS` rows (Excel's limit, the header included):
longer exports continue on sheets ``data 2``, ``data 3``…, each with the header.
"""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO
from xml.sax.saxutils import quoteattr

SHEET_MAX_ROWS = 1_048_576  # Excel's rows per sheet, the header included
# A ZIP member over 2 GiB needs ZIP64, which must be declared before its size is known; a sheet
# is cut once its XML passes this size (7 columns of sales fill about 0.6 GB at 1M rows).
SHEET_MAX_BYTES = 1_900_000_000
COMPRESS_LEVEL = 1  # most of the XML is repeated markup: level 1 is 3x faster, 10 % larger
_FLUSH_BYTES = 1 << 16
_BATCH_ROWS = 1000
# A batch of rows is escaped as one string: cells joined by _SEPARATOR, rows by _ROW_SEPARATOR,
# two characters XML cannot carry (PostgreSQL text cannot hold the first one).
_SEPARATOR = "\x00"
_ROW_SEPARATOR = "\x01"
_SEPARATORS = re.compile(r"[\x00\x01]")

# Characters XML 1.0 cannot carry (the same set openpyxl drops), but not the separators.
_ILLEGAL = re.compile(r"[\x02-\x08\x0b\x0c\x0e-\x1f]")

_CELL_OPEN = '<c t="inlineStr"><is><t xml:space="preserve">'
_CELL_CLOSE = "</t></is></c>"
_CELL_SEPARATOR = _CELL_CLOSE + _CELL_OPEN
_EMPTY_CELL = _CELL_OPEN + _CELL_CLOSE

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_SHEET_START = f'{_XML_DECLARATION}<worksheet xmlns="{_MAIN}"><sheetData>'
_SHEET_END = "</sheetData></worksheet>"
_STYLES = (
    f'{_XML_DECLARATION}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_ROOT_RELS = (
    f'{_XML_DECLARATION}<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)


class _Sink:
    """A write-only, non-seekable file: ``zipfile`` writes into it, the generator takes the
    bytes out."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:  # zipfile never closes a file it was given
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return data


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if _ILLEGAL.search(text):
        text = _ILLEGAL.sub("", text)  # XLSX cannot hold control characters (tab, newlines can)
    return text


def _rows_xml(first: int, batch: Sequence[Sequence[str]]) -> str:
    """The XML of ``batch`` (rows of cell text), numbered from ``first``: joined, escaped and
    split in a few string operations over the whole batch rather than per cell."""
    text = _ROW_SEPARATOR.join([_SEPARATOR.join(cells) for cells in batch])
    if (
        text.count(_SEPARATOR) != sum(map(len, batch)) - len(batch)
        or text.count(_ROW_SEPARATOR) != len(batch) - 1
    ):  # a cell held a separator (control characters are dropped anyway)
        text = _ROW_SEPARATOR.join(
            [_SEPARATOR.join([_SEPARATORS.sub("", cell) for cell in cells]) for cells in batch]
        )
    rows = _escape(text).replace(_SEPARATOR, _CELL_SEPARATOR).split(_ROW_SEPARATOR)
    xml = "".join(
        [
            f'<row r="{number}">{_CELL_OPEN}{row}{_CELL_CLOSE}</row>'
            for number, row in enumerate(rows, first)
        ]
    )
    if _EMPTY_CELL in xml:  # an empty cell is an empty <c/>, as a spreadsheet writes it
        xml = xml.replace(_EMPTY_CELL, "<c/>")
    return xml


def _sheet_name(index: int) -> str:
    return "data" if index == 1 else f"data {index}"


def _workbook_parts(sheets: int) -> list[tuple[str, str]]:
    sheet_list = "".join(
        f'<sheet name={quoteattr(_sheet_name(i))} sheetId="{i}" r:id="rId{i}"/>'
        for i in range(1, sheets + 1)
    )
    workbook = (
        f'{_XML_DECLARATION}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        f"<sheets>{sheet_list}</sheets></workbook>"
    )
    relations = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, sheets + 1)
    )
    relations += f'<Relationship Id="rId{sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, sheets + 1)
    )
    content_types = (
        f"{_XML_DECLARATION}"
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        f"{sheet_types}</Types>"
    )
    return [
        ("xl/workbook.xml", workbook),
        (
            "xl/_rels/workbook.xml.rels",
            f'{_XML_DECLARATION}<Relationships xmlns="{_PKG_REL}">{relations}</Relationships>',
        ),
        ("xl/styles.xml", _STYLES),
        ("_rels/.rels", _ROOT_RELS),
        ("[Content_Types].xml", content_types),
    ]


def iter_xlsx_stream(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    sheet_max_rows: int = SHEET_MAX_ROWS,
    sheet_max_bytes: int = SHEET_MAX_BYTES,
) -> Iterator[bytes]:
    """The workbook's bytes in chunks of about 64 KiB, as the rows come."""
    sink = _Sink()
    archive = zipfile.ZipFile(
        sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
    )
    header_xml = _rows_xml(1, [list(header)])
    sheets = 0
    sheet: IO[bytes] | None = None
    row_number = sheet_bytes = 0
    buffer: list[str] = []
    buffered = 0

    def write_buffer() -> None:
        nonlocal buffered, sheet_bytes
        data = "".join(buffer).encode()
        assert sheet is not None  # opened before any row
        sheet.write(data)
        sheet_bytes += len(data)
        buffer.clear()
        buffered = 0

    def open_sheet() -> IO[bytes]:
        nonlocal sheets, row_number, sheet_bytes, buffered
        sheets += 1
        member = archive.open(f"xl/worksheets/sheet{sheets}.xml", "w")
        buffer.extend((_SHEET_START, header_xml))
        row_number, sheet_bytes = 1, 0
        buffered = len(_SHEET_START) + len(header_xml)
        return member

    try:
        sheet = open_sheet()
        source = iter(rows)
        while batch := list(itertools.islice(source, _BATCH_ROWS)):
            start = 0
            while start < len(batch):
                if row_number >= sheet_max_rows or sheet_bytes >= sheet_max_bytes:
                    buffer.append(_SHEET_END)
                    write_buffer()
                    sheet.close()
                    sheet = open_sheet()
                part = batch[start : start + sheet_max_rows - row_number]
                start += len(part)
                xml = _rows_xml(row_number + 1, part)
                row_number += len(part)
                buffer.append(xml)
                buffered += len(xml)
                if buffered >= _FLUSH_BYTES:
                    write_buffer()
                    if sink.size >= _FLUSH_BYTES:
                        yield sink.take()
        buffer.append(_SHEET_END)
        write_buffer()
        sheet.close()
        sheet = None
        for name, text in _workbook_parts(sheets):
            archive.writestr(name, text)
        archive.close()
        yield sink.take()
    finally:
        if sheet is not None:  # the rows failed or the client left: nothing more to write
            sheet.close()
