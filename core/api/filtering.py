"""Filtering helpers shared by every app's FilterSets."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, F, Func, Q, QuerySet, Subquery
from django.db.models.sql.compiler import SQLCompiler
from django.forms.utils import ErrorDict
from django.http import HttpRequest, QueryDict
from django_filters.widgets import BooleanWidget
from rest_framework import filters
from rest_framework.exceptions import ValidationError

from core.api.choices import choices_text
from core.api.choices import install as _install_choice_errors

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

# DRF's choice fields name the valid choices too (loaded with the API's filter backends).
_install_choice_errors()

# A django-filter ``method=``: (queryset, filter name, value) -> queryset.
FilterMethod = Callable[[QuerySet[Any], str, str], QuerySet[Any]]


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet with its form class built once per FilterSet class.

    django-filter builds a new form class for every request, making a form field for each
    filter (labels, lookups, translations): on a filtered sales list that was about a tenth of
    the request's CPU. Our FilterSets declare their filters statically, so the form class of the
    first instance serves every later one (each request still gets its own form instance, whose
    fields Django copies).

    Each instance also copies the filters shallowly, not deeply as django-filter does (its
    deep copy of every filter, with its labels and options, was another tenth): a filter
    holds nothing a request changes but its ``parent`` and ``model``, which are set here, and
    a ``method=`` filter is bound to its own copy again.
    """

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: HttpRequest | None = None,
        prefix: str | None = None,
    ) -> None:
        # django-filter's BaseFilterSet.__init__, with copy.copy instead of copy.deepcopy.
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters: dict[str, Any] = {}
        for name, base_filter in self.base_filters.items():
            filter_ = copy.copy(base_filter)
            if base_filter.method is not None:
                filter_.method = base_filter.method  # a FilterMethod bound to this copy
            filter_.model = queryset.model
            filter_.parent = self
            self.filters[name] = filter_

    def get_form_class(self) -> type[forms.Form]:
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            for field in form_class.base_fields.values():
                # A bad choice names the valid ones; not a model choice (its choices are rows:
                # listing them here would query at class build and freeze a stale list).
                if isinstance(field, forms.ChoiceField) and not isinstance(
                    field, forms.ModelChoiceField
                ):
                    valid = choices_text(value for value, _label in field.choices)  # type: ignore[misc,union-attr]
                    field.error_messages = {
                        **field.error_messages,
                        "invalid_choice": f"%(value)s is not a valid choice: {valid}.",
                    }
            cls._form_class = form_class
        return form_class  # type: ignore[no-any-return]  # django-filter is untyped

    # Filtering validates only the filters the request names: a form of those fields alone
    # (Django deep-copies every field of a form it builds, and cleans each one). A filter the
    # request leaves out filters nothing either way. ``form`` stays the whole form: the
    # browsable API renders it.

    MAX_CACHED_FILTER_FORMS = 256

    def _filter_form(self) -> forms.Form:
        if not hasattr(self, "_named_form"):
            names = [name for name in self.filters if name in self.data]
            form_class = self._form_class_of(tuple(names)) if not self.form_prefix else None
            self._named_form: forms.Form
            if form_class is None:
                self._named_form = self.form
            elif self.is_bound:
                self._named_form = form_class(self.data)
            else:
                self._named_form = form_class()
        return self._named_form

    def _form_class_of(self, names: tuple[str, ...]) -> type[forms.Form] | None:
        cls = type(self)
        forms_by_names = cls.__dict__.get("_forms_by_names")
        if forms_by_names is None:
            forms_by_names = cls._forms_by_names = {}
        form_class = forms_by_names.get(names)
        if form_class is None:
            full = self.get_form_class()
            if any(
                isinstance(field.widget, forms.MultiWidget) for field in full.base_fields.values()
            ):
                return None  # a widget reading several keys: validate the whole form
            fields = {name: full.base_fields[name] for name in names}
            form_class = type(full.__name__, (self._meta.form,), fields)
            if len(forms_by_names) < self.MAX_CACHED_FILTER_FORMS:
                forms_by_names[names] = form_class
        return form_class

    def is_valid(self) -> bool:
        return self.is_bound and self._filter_form().is_valid()

    @property
    def errors(self) -> ErrorDict:
        return self._filter_form().errors

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        for name, value in self._filter_form().cleaned_data.items():
            queryset = self.filters[name].filter(queryset, value)
        return queryset


class StrictOrderingFilter(filters.OrderingFilter):
    """``?ordering=field,-other``: like DRF's, but an unknown field is a 400 naming the
    allowed ones instead of being ignored silently. ``id`` is always allowed, and appended as a
    unique tie-breaker so pages are deterministic."""

    def get_ordering(
        self, request: Request, queryset: QuerySet[Any], view: APIView
    ) -> Sequence[str] | None:
        params = request.query_params.get(self.ordering_param)
        if not params:
            return self.get_default_ordering(view)
        requested = [term.strip() for term in params.split(",") if term.strip()]
        if not requested:  # "?ordering=,,," names no field: the default order
            return self.get_default_ordering(view)
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


class _EqualsAnyOfSubquery(Func):
    """``<column> = ANY(ARRAY(<subquery>))`` (PostgreSQL). Unlike ``column IN (SELECT ...)``
    inside an OR (a hashed SubPlan, checked row by row), the array is computed once and
    ``column = ANY($array)`` is an index condition, so an OR of it with other indexable
    conditions is a BitmapOr."""

    arity = 2
    output_field = BooleanField()

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        column, subquery = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        subquery_sql, subquery_params = compiler.compile(subquery)  # "(SELECT ...)"
        return f"{column_sql} = ANY(ARRAY{subquery_sql})", (*column_params, *subquery_params)


class _TextHasWord(Func):
    """``UPPER(f1 || ' ' || f2 || ...) LIKE UPPER('%word%')``: the word (``%`` and ``_`` taken
    literally) anywhere in the fields' text. The left side is the expression of the trigram
    index ``customer_search_text_trgm_idx`` (customers/migrations/0003), so PostgreSQL answers
    it from that index; SQLite runs the same SQL."""

    output_field = BooleanField()

    def __init__(self, fields: Iterable[str], word: str) -> None:
        super().__init__(*[F(field) for field in fields])
        self.word = word

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        parts: list[str] = []
        params: list[Any] = []
        for expression in self.get_source_expressions():
            sql, expression_params = compiler.compile(expression)
            parts.append(sql)
            params.extend(expression_params)
        pattern = f"%{connection.ops.prep_for_like_query(self.word)}%"
        escape = " ESCAPE '\\'" if connection.vendor == "sqlite" else ""
        text = " || ' ' || ".join(parts)
        return f"UPPER({text}) LIKE UPPER(%s){escape}", (*params, pattern)


# The bounds of every search (the API's ``search=`` and the admin's search box): what the worst
# value costs is one trigram-index condition per word, so the words are de-duplicated and
# counted, each must hold a trigram, and the whole term is capped.
SEARCH_MIN_WORD_LENGTH = 3  # pg_trgm takes no trigram from ``%ab%``: its index cannot serve it


def search_words(
    value: str, *, param: str = "search", short_allowed: Callable[[str], bool] | None = None
) -> list[str]:
    """The distinct words of a search term (case-insensitively, first spelling kept), or a
    ValidationError naming the bound it breaks: a term over ``SEARCH_MAX_LENGTH`` characters,
    more than ``SEARCH_MAX_WORDS`` distinct words, or a word shorter than
    ``SEARCH_MIN_WORD_LENGTH`` characters (no index can find it: it would read the whole
    table). The word count is checked before the lengths, so a flood of one-letter words is
    named as too many words. ``short_allowed(word)`` may let some short words through (an
    exact-match field of the admin answers them)."""
    from django.conf import settings

    max_length, max_words = settings.SEARCH_MAX_LENGTH, settings.SEARCH_MAX_WORDS
    if len(value) > max_length:
        raise ValidationError(
            {param: [f"The search is at most {max_length} characters long ({len(value)} given)."]}
        )
    words: dict[str, str] = {}
    for word in value.split():
        words.setdefault(word.casefold(), word)
    if len(words) > max_words:
        raise ValidationError(
            {param: [f"The search takes at most {max_words} different words ({len(words)} given)."]}
        )
    short = [
        word
        for word in words.values()
        if len(word) < SEARCH_MIN_WORD_LENGTH and not (short_allowed and short_allowed(word))
    ]
    if short:
        raise ValidationError(
            {
                param: [
                    f"Search words must be at least {SEARCH_MIN_WORD_LENGTH} characters long: "
                    f"{', '.join(repr(word) for word in short)} "
                    f"{'is' if len(short) == 1 else 'are'} too short."
                ]
            }
        )
    return list(words.values())


# A search word found in more related rows than this (e.g. "example" in most customers' emails)
# is matched through the join, in the list's order, rather than by the related ids.
RELATED_MATCHES_MAX = 1000


def search_in(*field_names: str, one_text: bool = False) -> FilterMethod:
    """A ``method=`` for a django-filter ``CharFilter``: case-insensitive match of every word
    of the query in any of ``field_names``. django-filter calls a callable ``method`` as
    ``method(queryset, name, value)``, without the FilterSet.

    The SQL is shaped so that PostgreSQL answers each word from the trigram indexes on
    ``UPPER(col::text)`` (``icontains``) instead of reading the tables:

    - fields of the model itself only: ``pk = ANY(ARRAY(SELECT pk ... WHERE f1 LIKE OR f2 LIKE
      ...))``: the matching ids from a BitmapOr of the trigram indexes, computed once, then the
      rows by primary key (a plain OR in the list's query let the planner walk the ordering's
      index for small results; ``pk IN (SELECT ...)`` made it read the whole table to join
      it, for the list's ``COUNT(*)`` too). Elsewhere than PostgreSQL, ``pk IN (SELECT ...)``.
      With ``one_text=True`` the word is looked for in one text, ``UPPER(f1 || ' ' || f2 ...)``,
      one condition answered by one trigram index on that expression (customers: the OR of
      four per-column index scans was priced above a Seq Scan); a word holds no space, so the
      results are the same;
    - with fields across a foreign key (``customer__name``): the related ids are read first
      (one query, at most ``RELATED_MATCHES_MAX`` + 1), then the model's own fields OR
      ``customer_id IN (ids)``, a BitmapOr of the model's indexes (an OR across a join can
      only be answered by reading both tables). A search of one word found in more related
      rows than that is matched through the join, which lets the planner walk the list's
      ordering index and stop at the first page (a BitmapOr over the 92,000 customers whose
      email holds "example" took 1.8 s on 1M sales); several words across one foreign key
      are ``several_words_across`` (the related rows holding every word first). Elsewhere
      than PostgreSQL, ``customer_id IN (SELECT ...)``. Paths of more than one
      relation keep the plain join. The results are the same in every shape.

    Every search is bounded first (``search_words``: distinct words, their count, length)."""
    local = [field for field in field_names if "__" not in field]
    related: dict[str, list[str]] = {}
    for field in field_names:
        if "__" in field:
            prefix, _, rest = field.partition("__")
            related.setdefault(prefix, []).append(rest)

    def any_contains(fields: Iterable[str], word: str) -> Q:
        condition = Q()
        for field in fields:
            condition |= Q(**{f"{field}__icontains": word})
        return condition

    def own_rows(queryset: QuerySet[Any], condition: Q) -> QuerySet[Any]:
        ids = queryset.model._base_manager.filter(condition).order_by().values("pk")
        if connections[queryset.db].vendor == "postgresql":
            return queryset.filter(_EqualsAnyOfSubquery(F("pk"), Subquery(ids)))
        return queryset.filter(pk__in=ids)

    def several_words_across(
        queryset: QuerySet[Any], prefix: str, relation: Any, fields: list[str], words: list[str]
    ) -> QuerySet[Any]:
        """Several words, one foreign key (a sale's customer), on PostgreSQL. A row matches
        when each word is in its own fields or its related row's; so either its related row
        holds every word, or its own fields hold at least one. The related rows holding every
        word are read first (one query, an AND of trigram conditions): if they are more than
        ``RELATED_MATCHES_MAX`` the matches are dense and the list's order is walked through
        the join; otherwise the candidates, ``fk IN (those ids)`` or a word in the row's own
        fields, are read from the indexes once (``pk = ANY(ARRAY(...))``), and each word is
        then checked on them through the join. Matching each word by its related ids instead
        scanned most sales once per common word (``exa com mar son ...``, 8 words: past the
        5 s statement timeout on 1M sales)."""
        every_word = Q()
        for word in words:
            every_word &= any_contains(fields, word)
        holding_all = relation.related_model._base_manager.filter(every_word).order_by()
        holding_all = holding_all.values_list(relation.target_field.attname, flat=True)
        found = list(holding_all[: RELATED_MATCHES_MAX + 1])
        if len(found) <= RELATED_MATCHES_MAX:
            candidates = Q(**{f"{relation.attname}__in": found})
            for word in words:
                candidates |= any_contains(local, word)
            queryset = own_rows(queryset, candidates)
        for word in words:
            through_join = any_contains([f"{prefix}__{field}" for field in fields], word)
            queryset = queryset.filter(any_contains(local, word) | through_join)
        return queryset

    def filter_search(queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        model = queryset.model
        postgres = connections[queryset.db].vendor == "postgresql"
        words = search_words(value, param=name)
        if not related and one_text and words:
            # Every word in the one text: one subquery, one index scan for all the words.
            condition = Q()
            for word in words:
                condition &= Q(_TextHasWord(local, word))
            return own_rows(queryset, condition)
        if not related:
            for word in words:
                queryset = own_rows(queryset, any_contains(local, word))
            return queryset
        if postgres and len(words) > 1 and len(related) == 1:
            ((prefix, fields),) = related.items()
            relation = model._meta.get_field(prefix)
            if (relation.many_to_one or relation.one_to_one) and relation.concrete:
                return several_words_across(queryset, prefix, relation, fields, words)
        for word in words:
            condition = any_contains(local, word)
            for prefix, fields in related.items():
                relation = model._meta.get_field(prefix)
                through_join = any_contains([f"{prefix}__{field}" for field in fields], word)
                if not (relation.many_to_one or relation.one_to_one) or not relation.concrete:
                    condition |= through_join
                    continue
                ids = relation.related_model._base_manager.filter(any_contains(fields, word))
                ids = ids.order_by().values_list(relation.target_field.attname, flat=True)
                if not postgres:
                    condition |= Q(**{f"{relation.attname}__in": ids})
                    continue
                found = list(ids[: RELATED_MATCHES_MAX + 1])
                if len(found) <= RELATED_MATCHES_MAX:
                    condition |= Q(**{f"{relation.attname}__in": found})
                elif len(words) == 1:  # one common fragment: walk the list's order
                    condition |= through_join
                else:
                    condition |= Q(_EqualsAnyOfSubquery(F(relation.attname), Subquery(ids)))
            queryset = queryset.filter(condition)
        return queryset

    return filter_search


class _RawBooleanWidget(BooleanWidget):
    """The true/false select of the browsable API, handing the raw query value to the field."""

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> Any:
        return data.get(name)


class StrictBooleanField(forms.NullBooleanField):
    widget = _RawBooleanWidget
    TRUE = frozenset({"true", "1", "yes", "on"})
    FALSE = frozenset({"false", "0", "no", "off"})

    def to_python(self, value: Any) -> bool | None:  # type: ignore[override]  # None: unset
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

    def validate(self, value: Any) -> None:
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


# The days a date or datetime filter takes. At the edges of Python's calendar (0001-01-01,
# 9999-12-31) the filters' arithmetic (the day after date_to, a period before date_from, the
# conversion to UTC) overflowed: a 500. Nothing is sold a thousand years away from now.
DATE_MIN = date(1000, 1, 1)
DATE_MAX = date(8999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}."


def check_date_in_range(value: date) -> None:
    """A ValidationError (Django's) for a date outside ``DATE_MIN``..``DATE_MAX``."""
    day = value.date() if isinstance(value, datetime) else value
    if not DATE_MIN <= day <= DATE_MAX:
        raise DjangoValidationError(DATE_RANGE_MESSAGE, code="date_out_of_range")


class BoundedDateField(forms.DateField):
    def validate(self, value: Any) -> None:
        super().validate(value)
        if value not in self.empty_values:
            check_date_in_range(value)


class DateFilter(django_filters.DateFilter):
    """django-filter's DateFilter, the day between ``DATE_MIN`` and ``DATE_MAX`` (else 400)."""

    field_class = BoundedDateField


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 datetime turned to UTC: PostgreSQL refuses offsets beyond ±15:59 that
    Python accepts (up to ±23:59), which would otherwise be a 500. Its day is between
    ``DATE_MIN`` and ``DATE_MAX`` (``9999-12-31T23:00-05:00`` overflowed in UTC)."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return parsed
        check_date_in_range(parsed)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
