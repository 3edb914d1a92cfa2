"""The XLSX table reader: the first worksheet (and the sheets continuing it) read as a stream;
the declared size, parts too big to load whole and any DTD refused before a row is read."""

from __future__ import annotations

import codecs
import zipfile
from collections.abc import Iterator, Sequence
from typing import IO, Any

from django.conf import settings

from core.dataio.formats import TableFileError
from core.dataio.reading import (
    BadRow,
    TableReader,
    cell_text,
    check_width,
    empty_file_error,
    max_columns,
    max_line_length,
    normalize_header,
    rewind,
    too_long,
)


class XlsxReader(TableReader):
    """The first worksheet (and the sheets continuing it), read as a stream."""

    format = "xlsx"

    def __init__(self, raw: IO[bytes], expected: Sequence[str]) -> None:
        super().__init__()
        from openpyxl import load_workbook

        self._source, self._expected = raw, expected
        try:
            _check_parts(raw)
            raw.seek(0)
            self._workbook = load_workbook(raw, read_only=True, data_only=True)
            sheet = self._workbook.worksheets[0]
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError, SyntaxError) as e:
            raise TableFileError(
                f"The file is not a valid XLSX workbook ({type(e).__name__}). Export it "
                "from your spreadsheet as .xlsx, or import a CSV."
            ) from None
        # Read-only mode takes the sheet's size from its <dimension> tag and pads every row to
        # it: a tiny file declaring A1:XFD1048576 would make a billion cells. Refuse a declared
        # size over the limits, then forget it and read each row no wider than the limit.
        declared_width, declared_rows = sheet.max_column, sheet.max_row
        if declared_width and declared_width > max_columns():
            raise TableFileError(
                f"The sheet declares {declared_width} columns (its dimension "
                f"{sheet.calculate_dimension()}); an import file has at most {max_columns()} "
                "(IMPORT_MAX_COLUMNS). Copy only the table into a new sheet and save it again."
            )
        if declared_rows and declared_rows - 1 > settings.IMPORT_MAX_ROWS:
            raise TableFileError(
                f"The sheet declares {declared_rows - 1} data rows; an import file has at most "
                f"{settings.IMPORT_MAX_ROWS} (IMPORT_MAX_ROWS). Split it into smaller files."
            )
        self._rows = _sheet_rows(sheet, max_columns() + 1)
        for _, header in self._rows:
            if any(cell not in (None, "") for cell in header):
                break
        else:
            raise empty_file_error(expected)
        self.header = normalize_header(header)
        while self.header and not self.header[-1]:
            self.header.pop()
        check_width(len(self.header))

    def _continued_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """The first sheet's rows, then those of each later sheet that starts with the same
        header (an export longer than a sheet continues on "data 2", "data 3"…), numbered on
        as if in one sheet. Other sheets (notes, pivots) are not read."""
        last = 0
        for last, values in self._rows:
            yield last, values
        for sheet in self._workbook.worksheets[1:]:
            rows = _sheet_rows(sheet, max_columns() + 1)
            first = next(rows, None)
            if first is None or normalize_header(first[1])[: len(self.header)] != self.header:
                continue
            offset = last - first[0]
            for number, values in rows:
                last = offset + number
                yield last, values

    def rows(self) -> Iterator[tuple[int, list[str] | BadRow]]:
        width, limit = len(self.header), max_line_length()
        for row_number, values in self._continued_rows():
            end = len(values)  # up to the last cell with a value (at most IMPORT_MAX_COLUMNS + 1)
            while end and values[end - 1] in (None, ""):
                end -= 1
            if not end:
                continue
            cells = [cell_text(value) for value in values[: max(end, width)]]
            length = sum(map(len, cells))
            yield row_number, (too_long(length) if length > limit else cells)
        self._workbook.close()

    @property
    def bytes_read(self) -> int:
        """How far into the file the worksheet has been read (its compressed bytes)."""
        try:
            return self._source.tell()
        except (AttributeError, OSError, ValueError):
            return 0

    def again(self) -> XlsxReader | None:
        return XlsxReader(self._source, self._expected) if rewind(self._source) else None


def _sheet_rows(sheet: Any, width: int) -> Iterator[tuple[int, list[Any]]]:
    """(row number, the values of its first ``width`` columns) for each row the worksheet's XML
    holds, read as a stream. openpyxl's own read-only rows are padded to the declared (or the
    row's last) column, and each parsed row, though cleared, stays in the XML tree: memory grew
    with the number of rows (about 85 MB per million). Here rows are parsed by openpyxl's
    ``WorkSheetParser.parse_row`` (types, shared strings, dates as openpyxl reads them) and
    dropped from the tree at once; missing rows are not made up."""
    from xml.etree.ElementTree import iterparse

    from openpyxl.worksheet._reader import ROW_TAG, WorkSheetParser

    workbook = sheet.parent
    with workbook._archive.open(sheet._worksheet_path) as source:
        parser = WorkSheetParser(
            source,
            sheet._shared_strings,
            data_only=True,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        parents: list[Any] = []
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                parents.append(element)
                continue
            parents.pop()
            if element.tag != ROW_TAG:
                continue
            number, cells = parser.parse_row(element)
            if parents:
                parents[-1].clear()  # the rows read so far (sheetData holds nothing else)
            parser.row_dimensions.clear()
            values: list[Any] = [None] * width
            for cell in cells:
                if cell["column"] <= width:
                    values[cell["column"] - 1] = cell["value"]
            yield number, values


_PROLOG_LIMIT = 1 << 16


def _is_worksheet(name: str) -> bool:
    """A worksheet part: read as a stream, row by row (its rows are bounded)."""
    return name.startswith("xl/worksheets/") and name.endswith(".xml")


def _check_parts(raw: IO[bytes]) -> None:
    """Refuse, before openpyxl opens the workbook, a part it would load whole that is bigger
    than ``IMPORT_XLSX_MAX_PART_BYTES`` unpacked (the shared strings, styles, workbook and
    relationships; a zip bomb of a few hundred KB can declare gigabytes), and any part that
    declares a DTD. The sizes are the archive's own: Python's zipfile never unpacks more than
    a member declares."""
    limit = settings.IMPORT_XLSX_MAX_PART_BYTES
    with zipfile.ZipFile(raw) as archive:
        for info in archive.infolist():
            if info.file_size > limit and not _is_worksheet(info.filename):
                raise TableFileError(
                    f"The workbook's {info.filename} unpacks to {info.file_size:,} bytes; a "
                    f"part read whole may unpack to at most {limit:,} "
                    "(IMPORT_XLSX_MAX_PART_BYTES). Save the table alone as .xlsx again, or "
                    "import a CSV."
                )
        _refuse_dtds(archive)


def _refuse_dtds(archive: zipfile.ZipFile) -> None:
    """Refuse a workbook whose XML parts declare a DTD (entities: "billion laughs", external
    references), as defusedxml does. A DTD can only stand in an XML document's prolog, before
    its root element, so only each part's start is read."""
    for info in archive.infolist():
        with archive.open(info) as part:
            start = _xml_text(part.read(_PROLOG_LIMIT))
        # openpyxl finds parts through the relationships, whatever their names: every part
        # is looked at; those named as XML have their whole prolog checked.
        if (
            _declares_dtd(start, complete=info.file_size <= _PROLOG_LIMIT)
            if info.filename.endswith((".xml", ".rels", ".vml"))
            else "<!DOCTYPE" in start or "<!ENTITY" in start
        ):
            raise TableFileError(
                f"The workbook's {info.filename} declares a DTD (<!DOCTYPE>/<!ENTITY>): "
                "refused, as a spreadsheet never needs one. Save it again from your "
                "spreadsheet as .xlsx."
            )


def _xml_text(start: bytes) -> str:
    """The start of an XML part as text: UTF-16 (with or without a BOM) or else UTF-8 (the
    encodings expat reads without a declaration; ASCII-compatible ones read as UTF-8 here)."""
    if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return start.decode("utf-16", errors="replace")
    if start[:2] == b"<\x00":
        return start.decode("utf-16-le", errors="replace")
    if start[:2] == b"\x00<":
        return start.decode("utf-16-be", errors="replace")
    return start.decode("utf-8", errors="replace")


def _declares_dtd(text: str, *, complete: bool) -> bool:
    """Whether the XML prolog at the start of ``text`` holds a DTD (a prolog longer than the
    text read counts as one: it cannot be checked)."""
    position = 0
    while True:
        position = text.find("<", position)
        if position < 0:
            return not complete
        if text.startswith("<?", position):
            end = text.find("?>", position)
        elif text.startswith("<!--", position):
            end = text.find("-->", position)
        else:  # <!DOCTYPE (or another declaration) before the root element, or the root
            return text.startswith("<!", position)
        if end < 0:
            return not complete
        position = end + 2
