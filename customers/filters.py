import django_filters
from django_countries import countries

from core.api.filtering import FilterSet, IsoDateTimeFilter, search_in
from customers.models import Customer, CustomerSegment


class CustomerFilter(FilterSet):
    search = django_filters.CharFilter(
        method=search_in("name", "email", "city", "phone", one_text=True),
        label="Words to find in name, email, city or phone",
    )
    email = django_filters.CharFilter(lookup_expr="iexact")
    country = django_filters.ChoiceFilter(choices=list(countries))
    segment = django_filters.ChoiceFilter(choices=CustomerSegment.choices)
    city = django_filters.CharFilter(lookup_expr="iexact")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = ["search", "email", "country", "segment", "city"]
