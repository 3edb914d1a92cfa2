"""The admin's search box, bounded like the API's ``search=``.

Django's admin search makes, per word, an OR of one ``icontains`` per search field, and ANDs
the words, with no limit: 50 one-letter words on the sales list read the table 50 times. Every
ModelAdmin with ``search_fields`` mixes :class:`BoundedSearchAdminMixin` in: the term is
checked as the API checks it (``core.api.filtering.search_words``: at most
``SEARCH_MAX_WORDS`` different words, ``SEARCH_MAX_LENGTH`` characters, words of at least
three characters). A refused term shows the reason as an error message above an empty list
(the autocomplete of a foreign key just offers nothing yet).

One exception: a short word of digits is searched when the admin has an exact-match field
(``=id``-style, e.g. the stock ledger's ``=product__id``), which an index answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property
from rest_framework.exceptions import ValidationError

from core.api.filtering import FilterMethod, search_words

if TYPE_CHECKING:
    from django.contrib import admin

    _ModelAdmin = admin.ModelAdmin[Any]
    _Paginator = Paginator[Any]
else:
    _ModelAdmin = object
    _Paginator = Paginator


def _first_message(error: ValidationError) -> str:
    detail: Any = error.detail
    if isinstance(detail, dict):
        detail = next(iter(detail.values()))
    if isinstance(detail, list):
        detail = detail[0]
    return str(detail)


class CappedCountPaginator(_Paginator):
    """Counts the rows up to ``ADMIN_COUNT_LIMIT`` (at least a page; ``SELECT COUNT(*)`` of a
    ``LIMIT``ed subquery of the keys) and stops one past it: ``capped`` then says so, the count
    is the limit + 1 (so the list is still paged) and the list says "more than" the limit.
    Counting every sale a common search word matches read them all (0.7 s on 1M sales) for a
    figure nobody pages through; the pages end at the limit."""

    capped = False

    @cached_property
    def limit(self) -> int:
        return max(settings.ADMIN_COUNT_LIMIT, self.per_page)

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):  # the keys only: no annotation, no ordering
            counted = rows.order_by().values("pk")[: self.limit + 1].count()
        else:
            counted = len(rows[: self.limit + 1])
        self.capped = counted > self.limit
        return counted


class BoundedChangeList(ChangeList):
    """Django's ChangeList, with a date hierarchy at the calendar's edge a bad lookup (the
    admin's "?e=1" redirect) rather than a 500: ``?sold_at__year=9999&sold_at__month=12&
    sold_at__day=31`` made Django compute the next day, an OverflowError it does not catch
    (it catches ValueError). A NUL character in a parameter is a bad lookup too.

    With a search term, the date hierarchy is not drawn (a date already chosen in it still
    filters): drawing it read the whole search result three times more (first and last date,
    the years: 1.9 s of a 2.6 s page for a common word on 1M sales). The row count stops at
    ``ADMIN_COUNT_LIMIT`` (:class:`CappedCountPaginator`; ``result_count_capped``)."""

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        if self.query.strip():
            self.date_hierarchy = None
        # (django-import-export's export ChangeList reads no page: no paginator)
        paginator = getattr(self, "paginator", None)
        capped = paginator if isinstance(paginator, CappedCountPaginator) else None
        self.result_count_capped = bool(capped and capped.capped)
        self.result_count_limit = capped.limit if capped and capped.capped else None

    def get_filters(self, request: HttpRequest) -> Any:
        # PostgreSQL text holds no NUL: "?status=%00" reached it as a DataError (a 500).
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            raise IncorrectLookupParameters("A parameter holds a NUL character.")
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc


class BoundedChangeListMixin(_ModelAdmin):
    """For every ModelAdmin of the project (with or without a search)."""

    paginator = CappedCountPaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList


class BoundedSearchAdminMixin(BoundedChangeListMixin):
    # The API's search of the same fields (``staticmethod(search_in(...))``), for a big table:
    # its index-friendly SQL instead of Django's OR of icontains across joins (the sales
    # admin's search of a name took 2.2 s on 1M sales, of 8 words 6 s).
    search_shape: FilterMethod | None = None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        if search_term.strip():
            problem = self.search_term_problem(request, search_term)
            if problem is not None:
                match = getattr(request, "resolver_match", None)
                if match is None or match.url_name != "autocomplete":
                    messages.error(request, f"Search refused: {problem}")
                return queryset.none(), False
            if self.search_shape is not None:
                return self.search_shape(queryset, "q", search_term), False
        return super().get_search_results(request, queryset, search_term)

    def search_term_problem(self, request: HttpRequest, search_term: str) -> str | None:
        """Why ``search_term`` is refused, or None."""
        exact = any(field.startswith("=") for field in self.get_search_fields(request))
        try:
            search_words(search_term, param="q", short_allowed=str.isdigit if exact else None)
        except ValidationError as error:
            return _first_message(error)
        return None
