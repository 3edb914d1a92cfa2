"""Money: decimal amounts with exactly two places, on both databases.

PostgreSQL's ``numeric`` keeps the scale of the columns, so amounts come back as ``10.49``.
SQLite computes with floating point: a plain column is rounded to its ``decimal_places`` by
Django, but an expression (an annotation such as ``price * 1.05`` or ``price + amount``)
comes back as ``Decimal("10.4900000000000")``. :class:`MoneyField` is the output field for such
expressions: it rounds what the database gives back to the cent, so every amount leaving the
database has two places whatever the database.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

if TYPE_CHECKING:
    _DecimalField = models.DecimalField[Decimal | int | str | None, Decimal]
else:
    _DecimalField = models.DecimalField  # Django's fields are not generic at run time

CENT = Decimal("0.01")


def to_cents(value: Decimal | float | str | None) -> Decimal | None:
    """``value`` rounded to the cent (half up); ``None`` stays ``None``."""
    if value is None:
        return None
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(value: Decimal | float | str | None) -> str | None:
    """An amount as the API writes it: ``"10.49"`` (``None`` stays ``None``)."""
    cents = to_cents(value)
    return None if cents is None else f"{cents:f}"


class MoneyField(_DecimalField):
    """The output field of a money expression (``ExpressionWrapper(..., output_field=
    MoneyField())``): a ``DecimalField`` with two places whose values read from the database
    are rounded to the cent (SQLite hands expressions back unrounded)."""

    def __init__(self, *args: Any, max_digits: int = 14, **kwargs: Any) -> None:
        kwargs["decimal_places"] = 2
        kwargs["max_digits"] = max_digits
        super().__init__(*args, **kwargs)

    def from_db_value(
        self, value: Decimal | float | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> Decimal | None:
        return to_cents(value)
