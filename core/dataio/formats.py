"""Tables in files: the formats (CSV, XLSX, JSON), their content types, the file-level error
and the spreadsheet formula escaping shared by the readers (:mod:`core.dataio.readers`,
:mod:`core.dataio.xlsx_reader`) and the writers (:mod:`core.dataio.writers`).
"""

from __future__ import annotations

from core.errors import ApplicationError

FORMATS = ("csv", "xlsx", "json")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
DELIMITERS = (",", ";", "\t")
# A text cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class TableFileError(ApplicationError):
    """The file as a whole cannot be read: wrong format, encoding, headers, empty."""

    code = "invalid_file"


def escape_formula(text: str) -> str:
    """``=SUM(A1)`` is exported as ``'=SUM(A1)``: spreadsheets show it as text, never run it.
    Text that already starts with apostrophes before such a character gets one more, so that
    :func:`unescape_formula` gives it back exactly."""
    if text.lstrip("'").startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def unescape_formula(text: str) -> str:
    """The inverse of :func:`escape_formula`, so an exported file imports back unchanged (and
    ``'=x`` typed in a spreadsheet imports as ``=x``, as the spreadsheet shows it)."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def format_from_name(name: str | None, explicit: str | None = None) -> str:
    """The format given explicitly, else guessed from the file name's extension."""
    if explicit:
        fmt = explicit.lower().lstrip(".")
        if fmt not in FORMATS:
            raise TableFileError(
                f"Unknown format {explicit!r}: use one of {', '.join(FORMATS)}.",
                fields={"format": [f"Use one of {', '.join(FORMATS)}."]},
            )
        return fmt
    suffix = (name or "").rsplit(".", 1)[-1].lower() if "." in (name or "") else ""
    if suffix in FORMATS:
        return suffix
    raise TableFileError(
        f"Cannot tell the format of {name or 'the file'!r} from its name: "
        f"name it .csv, .xlsx or .json, or give the format ({', '.join(FORMATS)}).",
        fields={"format": ["Give the format: csv, xlsx or json."]},
    )
