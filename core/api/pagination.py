"""Pagination: page numbers with a capped ``page_size`` everywhere, cursors on sales."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

from core.api.filtering import check_date_in_range

if TYPE_CHECKING:
    from rest_framework.pagination import Cursor
    from rest_framework.request import Request
    from rest_framework.views import APIView


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"count", "next", "previous", "results"}``; ``?page_size=`` up to ``API_MAX_PAGE_SIZE``."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination for tables that grow without bound (sales, the stock ledger): no
    ``COUNT(*)``, stable pages, each page read from an index whatever its depth.

    Answers ``{"next", "previous", "results"}``. The ordering comes from ``?ordering=`` (see
    :class:`core.api.filtering.StrictOrderingFilter`) or the view's ``ordering``.
    """

    ordering: str | list[str] | tuple[str, ...] = ("-id",)
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE

    # A cursor is the client's to send back, so it can be crafted: one that does not decode,
    # or whose position is not a value of the ordering's first field (``p=abc`` for a date),
    # is a 400 naming the cursor, not DRF's 404 or the database's error (or a 500).
    INVALID_CURSOR = "Invalid cursor: use the next or previous link of a page as it is."

    def paginate_queryset(
        self,
        queryset: QuerySet[Any, Any] | Sequence[Any],
        request: Request,
        view: APIView | None = None,
    ) -> list[Any] | None:
        self._model: type[Model] | None = queryset.model if isinstance(queryset, QuerySet) else None
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self._invalid() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str | int) -> None:
        field_name = self.ordering[0].lstrip("-")
        try:
            field = self._model._meta.get_field(field_name)  # type: ignore[union-attr]
        except (AttributeError, FieldDoesNotExist):
            return  # an annotation: the database compares it
        if not isinstance(field, Field):
            return  # a reverse relation: the database compares it
        try:
            value = field.to_python(position)
            if isinstance(value, date):
                check_date_in_range(value)
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise DjangoValidationError("out of range")
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise self._invalid() from None

    def _invalid(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.INVALID_CURSOR]})


class SaleCursorPagination(CursorPagination):
    """Sales: newest first by default."""

    ordering = ("-sold_at", "-id")
