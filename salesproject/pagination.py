"""Pagination: page numbers with a capped ``page_size`` everywhere, cursors on sales."""

from django.conf import settings
from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"count", "next", "previous", "results"}``; ``?page_size=`` up to ``API_MAX_PAGE_SIZE``."""

    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE


class CursorPagination(pagination.CursorPagination):
    """Cursor pagination for tables that grow without bound (sales, the stock ledger): no
    ``COUNT(*)``, stable pages, each page read from an index whatever its depth.

    Answers ``{"next", "previous", "results"}``. The ordering comes from ``?ordering=`` (see
    :class:`salesproject.filtering.StrictOrderingFilter`) or the view's ``ordering``.
    """

    ordering = ("-id",)
    page_size = settings.API_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = settings.API_MAX_PAGE_SIZE


class SaleCursorPagination(CursorPagination):
    """Sales: newest first by default."""

    ordering = ("-sold_at", "-id")
