"""The customers file: columns, natural key (email, whatever the letter case) and export rows."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet

from core.dataio.columns import Column
from core.dataio.exporter import queryset_rows
from core.dataio.upsert import Target, UpsertTable
from customers.models import Customer, CustomerSegment

COLUMNS = (
    Column("email", "email", max_length=254),
    Column("name", max_length=200),
    Column("phone", required=False, blank=True, default="", max_length=32),
    Column("city", required=False, blank=True, default="", max_length=100),
    Column("country", "country", required=False, blank=True, default=""),
    Column(
        "segment",
        "choice",
        required=False,
        blank=True,
        default=CustomerSegment.CONSUMER.value,
        choices=tuple(CustomerSegment.values),
    ),
)


class CustomerTable(UpsertTable):
    name = "customers"
    model = Customer
    columns = COLUMNS
    key = ("email",)
    key_case_insensitive = True
    key_join = "lower(t.email) = lower(s.email)"
    conflict = "(lower(email))"
    targets = (
        Target("email", "s.email"),
        Target("name", "s.name"),
        Target("phone", "s.phone", "phone", "''"),
        Target("city", "s.city", "city", "''"),
        Target("country", "s.country", "country", "''"),
        Target("segment", "s.segment", "segment", f"'{CustomerSegment.CONSUMER.value}'"),
    )

    def export_rows(self, queryset: QuerySet[Customer] | None = None) -> Iterator[list[str]]:
        queryset = Customer.objects.all() if queryset is None else queryset
        return queryset_rows(queryset, self.columns, self.column_names, ("email", "id"))
