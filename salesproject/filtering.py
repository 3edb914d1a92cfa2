"""Filtering helpers shared by every app's FilterSets."""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django_filters.widgets import BooleanWidget
from rest_framework import filters
from rest_framework.exceptions import ValidationError


class StrictOrderingFilter(filters.OrderingFilter):
    """``?ordering=field,-other``: like DRF's, but an unknown field is a 400 naming the
    allowed ones instead of being ignored silently. ``id`` is always allowed, and appended as a
    unique tie-breaker so pages are deterministic."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if not params:
            return self.get_default_ordering(view)
        requested = [term.strip() for term in params.split(",") if term.strip()]
        allowed = {
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        } | {"id"}
        unknown = [term for term in requested if term.removeprefix("-") not in allowed]
        if unknown:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering field {', '.join(unknown)}; "
                        f"use one of {', '.join(sorted(allowed))} (prefix - for descending)."
                    ]
                }
            )
        if not any(term.removeprefix("-") == "id" for term in requested):
            requested.append("-id" if requested[0].startswith("-") else "id")
        return requested


def search_in(*field_names: str):
    """A ``method=`` for a django-filter ``CharFilter``: case-insensitive match of every word
    of the query in any of ``field_names``. django-filter calls a callable ``method`` as
    ``method(queryset, name, value)``, without the FilterSet."""

    def filter_search(queryset, name, value):
        for word in value.split():
            condition = Q()
            for field in field_names:
                condition |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(condition)
        return queryset

    return filter_search


class _RawBooleanWidget(BooleanWidget):
    """The true/false select of the browsable API, handing the raw query value to the field."""

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class StrictBooleanField(forms.NullBooleanField):
    widget = _RawBooleanWidget
    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})

    def to_python(self, value):
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in self.TRUE:
            return True
        if lowered in self.FALSE:
            return False
        raise DjangoValidationError("Must be true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """``?flag=true|false`` (or 1/0, yes/no): any other value is a 400, where django-filter's
    own BooleanFilter would silently ignore it and return everything."""

    field_class = StrictBooleanField


class BoundedDecimalField(forms.DecimalField):
    """A decimal of a sane size: below 1e50 either way, at most 20 decimal places."""

    LIMIT = 10**50
    MAX_PLACES = 20
    default_error_messages = {
        "out_of_range": "Enter a number between -1e50 and 1e50 with at most 20 decimal places.",
    }

    def validate(self, value):
        super().validate(value)  # also rejects NaN and infinities
        if value in self.empty_values:
            return
        if abs(value) >= self.LIMIT or value.as_tuple().exponent < -self.MAX_PLACES:
            raise DjangoValidationError(self.error_messages["out_of_range"], code="out_of_range")


class NumberFilter(django_filters.NumberFilter):
    """django-filter's NumberFilter caps values at 1e50 but not at -1e50 nor their precision:
    ``-1e999999`` or ``1e-999999`` reached the database (a numeric overflow, a 500) or took
    seconds to convert to an integer. This one answers 400 for them."""

    field_class = BoundedDecimalField


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 datetime turned to UTC: PostgreSQL refuses offsets beyond ±15:59 that
    Python accepts (up to ±23:59), which would otherwise be a 500."""

    def to_python(self, value):
        parsed = super().to_python(value)
        return parsed.astimezone(UTC) if parsed is not None and parsed.tzinfo else parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
