from datetime import datetime, time, timedelta

import django_filters
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.api.filtering import (
    DateFilter,
    FilterSet,
    IsoDateTimeFilter,
    NumberFilter,
    StrictBooleanFilter,
    search_in,
)
from sales.models import Sale, SaleItem, SaleStatus


def _start_of_day(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())


class SaleFilter(FilterSet):
    sold_after = IsoDateTimeFilter(
        field_name="sold_at", lookup_expr="gte", label="Sold at or after (ISO 8601 datetime)"
    )
    sold_before = IsoDateTimeFilter(
        field_name="sold_at", lookup_expr="lt", label="Sold before (ISO 8601 datetime)"
    )
    date_from = DateFilter(method="filter_date_from", label="From this day (incl.)")
    date_to = DateFilter(method="filter_date_to", label="To this day (inclusive)")
    customer = NumberFilter(field_name="customer_id")
    has_customer = StrictBooleanFilter(
        field_name="customer",
        lookup_expr="isnull",
        exclude=True,
        label="Has a customer (true: sales to a known customer; false: anonymous sales)",
    )
    product = NumberFilter(method="filter_product", label="Has a line of product id")
    category = NumberFilter(method="filter_category", label="Has a line in category id")
    status = django_filters.ChoiceFilter(choices=SaleStatus.choices)
    total_min = NumberFilter(field_name="total", lookup_expr="gte")
    total_max = NumberFilter(field_name="total", lookup_expr="lte")
    reference = django_filters.CharFilter(lookup_expr="iexact")
    search = django_filters.CharFilter(
        method=search_in("reference", "customer__name", "customer__email"),
        label="Words to find in reference or customer name/email",
    )

    class Meta:
        model = Sale
        fields = ["status", "customer", "reference"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(sold_at__gte=_start_of_day(value))

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(sold_at__lt=_start_of_day(value + timedelta(days=1)))

    def filter_product(self, queryset, name, value):
        lines = SaleItem.objects.filter(sale=OuterRef("pk"), product_id=value)
        return queryset.filter(Exists(lines))

    def filter_category(self, queryset, name, value):
        lines = SaleItem.objects.filter(sale=OuterRef("pk"), product__category_id=value)
        return queryset.filter(Exists(lines))
