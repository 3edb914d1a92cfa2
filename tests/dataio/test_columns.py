"""Column.parse / Column.format for each kind, and the formula escaping of text cells."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from core.dataio.columns import CellError, Column, format_datetime
from core.dataio.formats import (
    TableFileError,
    escape_formula,
    format_from_name,
    unescape_formula,
)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+33 1 23", "'+33 1 23"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("'quoted", "'quoted"),
        ("", ""),
        ("=", "'="),
    ],
)
def test_escape_and_unescape_formula(text, escaped):
    assert escape_formula(text) == escaped
    assert unescape_formula(escaped) == text


def test_unescape_leaves_other_apostrophes_alone():
    assert unescape_formula("'") == "'"
    assert unescape_formula("'abc") == "'abc"
    assert unescape_formula("'=x") == "=x"  # typed in a spreadsheet: imports as it shows


@pytest.mark.parametrize("text", ["'=x", "''=x", "'-1", "'", "''", "'a", "=", "'\tx"])
def test_escape_formula_is_invertible_for_text_starting_with_apostrophes(text):
    assert unescape_formula(escape_formula(text)) == text


def test_text_column():
    column = Column("name", max_length=5)
    assert column.parse("  abcde ") == "abcde"
    assert column.parse("'=1+2") == "=1+2"
    with pytest.raises(CellError, match=r"has 6 characters; at most 5 are allowed"):
        column.parse("abcdef")
    with pytest.raises(CellError, match=r"is required"):
        column.parse("   ")
    assert Column("x", blank=True, default="d").parse("") == "d"
    assert (
        column.format("=1+2") == "'=1+2" and column.format(None) == "" and column.format("é") == "é"
    )


def test_email_column():
    column = Column("email", "email", max_length=254)
    assert column.parse("Ab.C@Example.com") == "Ab.C@Example.com"
    for bad in ("a@", "@b.com", "a b@c.com", "plain"):
        with pytest.raises(CellError, match=r"is not a valid email address"):
            column.parse(bad)
    with pytest.raises(CellError, match=r"at most 254"):
        column.parse("a" * 250 + "@b.com")


def test_email_cells_are_escaped_against_formulas():
    column = Column("email", "email")
    assert column.format("=1+2@example.com") == "'=1+2@example.com"
    assert column.format("-x@example.com") == "'-x@example.com"


def test_decimal_column_boundaries():
    column = Column("price", "decimal", min_value=Decimal(0), max_value=Decimal("9999999999.99"))
    assert column.parse("12.5") == Decimal("12.50")
    assert str(column.parse("12.5")) == "12.50"
    assert column.parse("0") == Decimal("0.00")
    assert column.parse("1.010") == Decimal("1.01")  # trailing zeros are not more decimals
    assert column.parse("9999999999.99") == Decimal("9999999999.99")
    assert column.parse("1E+2") == Decimal("100.00")
    with pytest.raises(CellError, match=r"10000000000 is more than 9999999999.99"):
        column.parse("10000000000")
    with pytest.raises(CellError, match=r"-0.01 is negative; it must be 0 or more"):
        column.parse("-0.01")
    with pytest.raises(CellError, match=r"1.001 has more than 2 decimal places"):
        column.parse("1.001")
    for bad in ("1,50", "abc", "12.50€"):
        with pytest.raises(CellError, match=r"is not a number"):
            column.parse(bad)
    for bad in ("NaN", "Infinity", "-inf"):
        with pytest.raises(CellError, match=r"is not a number"):
            column.parse(bad)
    assert Column("p", "decimal", min_value=Decimal(5)).parse("5") == Decimal("5.00")
    with pytest.raises(CellError, match=r"4 is less than 5"):
        Column("p", "decimal", min_value=Decimal(5)).parse("4")
    assert column.format(Decimal("3")) == "3.00" and column.format(Decimal("0.1")) == "0.10"


def test_integer_column_boundaries():
    column = Column("qty", "integer", min_value=1, max_value=1_000_000)
    assert (
        column.parse("1") == 1 and column.parse("+7") == 7 and column.parse("1000000") == 1_000_000
    )
    with pytest.raises(CellError, match=r"0 is less than 1"):
        column.parse("0")
    with pytest.raises(CellError, match=r"1000001 is more than 1000000"):
        column.parse("1000001")
    for bad in ("1.0", "1e3", "one", "1 000"):
        with pytest.raises(CellError, match=r"is not a whole number"):
            column.parse(bad)
    stock = Column("stock", "integer", min_value=0)
    with pytest.raises(CellError, match=r"-1 is negative; it must be 0 or more"):
        stock.parse("-1")
    assert column.format(12) == "12"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("Y", True),
        ("t", True),
        ("false", False),
        ("0", False),
        ("No", False),
        ("n", False),
        ("F", False),
    ],
)
def test_boolean_column(text, value):
    assert Column("b", "boolean").parse(text) is value


def test_boolean_column_errors_and_format():
    column = Column("b", "boolean", blank=True, default=True)
    assert column.parse("") is True
    with pytest.raises(CellError, match=r"'maybe' is not true or false"):
        column.parse("maybe")
    assert column.format(True) == "true" and column.format(False) == "false"


def test_choice_and_country_columns():
    choice = Column("segment", "choice", choices=("consumer", "corporate"))
    assert choice.parse("Corporate") == "corporate"
    with pytest.raises(CellError, match=r"'vip' is not one of consumer, corporate"):
        choice.parse("vip")
    country = Column("country", "country", blank=True, default="")
    assert country.parse("fr") == "FR" and country.parse("") == ""
    for bad in ("XX", "FRA", "France"):
        with pytest.raises(CellError, match=r"is not an ISO 3166-1 alpha-2 country code"):
            country.parse(bad)
    assert country.format("DK") == "DK"


def test_datetime_column_naive_is_in_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    column = Column("sold_at", "datetime")
    naive = column.parse("2025-07-01T12:00:00")
    assert naive.utcoffset().total_seconds() == 7200
    assert naive.astimezone(UTC) == datetime(2025, 7, 1, 10, 0, tzinfo=UTC)
    assert column.parse("2025-01-31T14:30:00+01:00") == datetime(2025, 1, 31, 13, 30, tzinfo=UTC)
    assert column.parse("2025-01-31T14:30:00Z") == datetime(2025, 1, 31, 14, 30, tzinfo=UTC)
    assert column.parse("2025-01-31").astimezone(UTC) == datetime(2025, 1, 30, 23, 0, tzinfo=UTC)
    micro = column.parse("2025-01-31T14:30:00.000001Z")
    assert micro.microsecond == 1
    for bad in ("31/01/2025", "2025-02-30", "tomorrow", "2025-01-31T25:00"):
        with pytest.raises(CellError, match=r"is not a date and time; use ISO 8601"):
            column.parse(bad)


def test_datetime_format_is_utc_with_z():
    tokyo = datetime(2025, 3, 1, 23, 59, 59, 123456, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert format_datetime(tokyo) == "2025-03-01T14:59:59.123456Z"
    assert format_datetime(datetime(2025, 3, 1, tzinfo=UTC)) == "2025-03-01T00:00:00Z"
    column = Column("sold_at", "datetime")
    assert column.format(tokyo) == "2025-03-01T14:59:59.123456Z"
    assert column.parse(column.format(tokyo)) == tokyo


@pytest.mark.parametrize(
    ("name", "explicit", "fmt"),
    [
        ("a.csv", None, "csv"),
        ("A.XLSX", None, "xlsx"),
        ("x.json", None, "json"),
        ("x.txt", "csv", "csv"),
        ("x.csv", ".JSON", "json"),
    ],
)
def test_format_from_name(name, explicit, fmt):
    assert format_from_name(name, explicit) == fmt


def test_format_from_name_errors():
    with pytest.raises(TableFileError, match=r"Cannot tell the format of 'data'"):
        format_from_name("data")
    with pytest.raises(TableFileError, match=r"Unknown format 'xml': use one of csv, xlsx, json"):
        format_from_name("x.csv", "xml")
