"""A bad choice names the valid ones, as a bad ``ordering`` does.

Django's and DRF's messages ("Select a valid choice. x is not one of the available choices.",
'"x" is not a valid choice.') leave a client guessing. :func:`choices_text` words the list;
the FilterSet base (``core.api.filtering``) puts it in its choice filters' messages and
:func:`install` makes DRF's ``ChoiceField`` (every serializer's, model-derived or declared)
say it too. Long lists (countries) are not spelled out: the OpenAPI schema has them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework import serializers

MAX_LISTED = 30


def choices_text(values: Iterable[Any]) -> str:
    names = [str(value) for value in values if str(value) != ""]
    if not names or len(names) > MAX_LISTED:
        return "see the API schema for the valid values"
    return "use one of " + ", ".join(names)


def _to_internal_value(self: serializers.ChoiceField, data: Any) -> Any:
    if data == "" and self.allow_blank:
        return ""
    try:
        return self.choice_strings_to_values[str(data)]
    except KeyError:
        shown = str(data) if len(str(data)) <= 100 else str(data)[:100] + "…"
        raise serializers.ValidationError(
            f'"{shown}" is not a valid choice: {choices_text(self.choice_strings_to_values)}.',
            code="invalid_choice",
        ) from None


def install() -> None:
    """DRF's ChoiceField (and MultipleChoiceField, which calls it per item) lists the choices."""
    serializers.ChoiceField.to_internal_value = _to_internal_value  # type: ignore[method-assign,assignment]
