"""Filtering helpers shared by every app's FilterSets."""

from django.db.models import Q
from rest_framework import filters
from rest_framework.exceptions import ValidationError


class StrictOrderingFilter(filters.OrderingFilter):
    """``?ordering=field,-other``: like DRF's, but an unknown field is a 400 naming the
    allowed ones instead of being ignored silently. A unique tie-breaker (``id``) is appended so
    pages are deterministic."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if not params:
            return self.get_default_ordering(view)
        requested = [term.strip() for term in params.split(",") if term.strip()]
        allowed = {
            name for name, _label in self.get_valid_fields(queryset, view, {"request": request})
        }
        unknown = [term for term in requested if term.lstrip("-") not in allowed]
        if unknown:
            raise ValidationError(
                {
                    self.ordering_param: [
                        f"Unknown ordering field {', '.join(unknown)}; "
                        f"use one of {', '.join(sorted(allowed))} (prefix - for descending)."
                    ]
                }
            )
        if not any(term.lstrip("-") == "id" for term in requested):
            requested.append("-id" if requested[0].startswith("-") else "id")
        return requested


def search_in(*field_names: str):
    """A ``method=`` for a django-filter ``CharFilter``: case-insensitive match of every word
    of the query in any of ``field_names``."""

    def filter_search(filterset, queryset, name, value):
        for word in value.split():
            condition = Q()
            for field in field_names:
                condition |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(condition)
        return queryset

    return filter_search
