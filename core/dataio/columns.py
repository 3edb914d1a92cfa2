"""The columns of an import/export table: how a cell's text is validated into a value (import) and
how a value is written as text (export). One definition serves the commands, the API and the
admin, so a file means the same thing everywhere.

``parse`` raises :class:`CellError` with a message that names the problem; the importer adds the
row and the column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django_countries import countries

from core.dataio.formats import escape_formula, unescape_formula


class CellError(ValueError):
    """A cell's text is not a valid value for its column."""


_INTEGER = re.compile(r"[+-]?\d+")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Column:
    """One column of a table file.

    ``kind`` is one of text, email, decimal, integer, datetime, boolean, choice, country.
    ``required``: the header must have it (an optional column left out keeps the stored
    value, or the default for new rows). ``blank``: an empty cell is allowed (gives ``default``).
    """

    name: str
    kind: str = "text"
    required: bool = True
    blank: bool = False
    default: Any = None
    max_length: int | None = None
    min_value: int | Decimal | None = None
    max_value: int | Decimal | None = None
    decimal_places: int = 2
    choices: tuple[str, ...] = ()
    help: str = ""
    parse: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # ``parse(cell text) -> value`` (raises CellError). Cells repeat a lot in big files (a
        # sale's lines, a product's price, quantities, a customer's sales): results are
        # remembered per column, so a repeated cell costs one dictionary lookup.
        parser = getattr(self, f"_parse_{self.kind}")
        blank, default = self.blank, self.default

        def parse_cell(text: str) -> Any:
            stripped = text.strip()
            if not stripped:
                if blank:
                    return default
                raise CellError("is required.")
            return parser(stripped)

        object.__setattr__(self, "parse", lru_cache(maxsize=1 << 16)(parse_cell))

    @property
    def sql_type(self) -> str:
        return {
            "decimal": "numeric(14, 2)",
            "integer": "bigint",
            "datetime": "timestamp with time zone",
            "boolean": "boolean",
        }.get(self.kind, "text")

    # -- parsing, by kind ------------------------------------------------------------------------

    def _parse_text(self, text: str) -> str:
        if "\x00" in text:
            raise CellError("holds a NUL character (byte 0), which no text can hold.")
        text = unescape_formula(text)
        if self.max_length is not None and len(text) > self.max_length:
            raise CellError(f"has {len(text)} characters; at most {self.max_length} are allowed.")
        return text

    def _parse_email(self, text: str) -> str:
        text = self._parse_text(text)
        try:
            validate_email(text)
        except ValidationError:
            raise CellError(f"{text!r} is not a valid email address.") from None
        return text

    def _parse_decimal(self, text: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise CellError(f"{text!r} is not a number (use a dot for decimals: 12.50).") from None
        if not value.is_finite():
            raise CellError(f"{text!r} is not a number.")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # a finite number's ('n', 'N', 'F': NaN, infinity)
        if exponent < -self.decimal_places and value != round(value, self.decimal_places):
            raise CellError(f"{text} has more than {self.decimal_places} decimal places.")
        self._check_range(value, text)
        return value.quantize(Decimal(1).scaleb(-self.decimal_places))

    def _parse_integer(self, text: str) -> int:
        if not _INTEGER.fullmatch(text):
            raise CellError(f"{text!r} is not a whole number.")
        value = int(text)
        self._check_range(value, text)
        return value

    def _check_range(self, value: int | Decimal, text: str) -> None:
        if self.min_value is not None and value < self.min_value:
            if self.min_value == 0:
                raise CellError(f"{text} is negative; it must be 0 or more.")
            raise CellError(f"{text} is less than {self.min_value}.")
        if self.max_value is not None and value > self.max_value:
            raise CellError(f"{text} is more than {self.max_value}.")

    def _parse_datetime(self, text: str) -> datetime:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise CellError(
                f"{text!r} is not a date and time; use ISO 8601, e.g. 2025-01-31T14:30:00+01:00 "
                "(without an offset, the server's time zone is assumed)."
            ) from None
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        return value

    def _parse_boolean(self, text: str) -> bool:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise CellError(f"{text!r} is not true or false.")

    def _parse_choice(self, text: str) -> str:
        lowered = text.lower()
        if lowered not in self.choices:
            raise CellError(f"{text!r} is not one of {', '.join(self.choices)}.")
        return lowered

    def _parse_country(self, text: str) -> str:
        code = text.upper()
        if code not in countries:
            raise CellError(f"{text!r} is not an ISO 3166-1 alpha-2 country code (e.g. FR).")
        return code

    # -- export ----------------------------------------------------------------------------------

    def format(self, value: Any) -> str:
        """The cell text for a stored value (the inverse of ``parse``)."""
        if value is None:
            return ""
        if self.kind in ("text", "email"):  # "=1+2@example.com" is a valid address
            return escape_formula(value)
        if self.kind == "datetime":
            return format_datetime(value)
        if self.kind == "boolean":
            return "true" if value else "false"
        if self.kind == "decimal":
            return f"{value:.{self.decimal_places}f}"
        return str(value)


def format_datetime(value: datetime | date | time) -> str:
    """ISO 8601 in UTC with the ``Z`` suffix (microseconds only when there are some)."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()
