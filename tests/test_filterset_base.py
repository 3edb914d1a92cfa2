"""core.api.filtering.FilterSet: django-filter's FilterSet with the form class built once per
class and the filters copied shallowly. Each instance must still filter by its own data."""

import django_filters
import pytest
from django.http import QueryDict

from core.api.filtering import FilterSet
from customers.models import Customer
from sales.filters import SaleFilter
from tests.factories import make_customer, make_product, make_sale

pytestmark = pytest.mark.django_db


class CustomerNameFilter(FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")
    initial = django_filters.CharFilter(method="filter_initial")

    class Meta:
        model = Customer
        fields = ["name"]

    def filter_initial(self, queryset, name, value):
        self.seen_by = value  # the bound method must be this instance's
        return queryset.filter(name__istartswith=value)


def test_instances_share_the_form_class_but_not_filters_or_forms():
    first = CustomerNameFilter(QueryDict("name=ann"))
    second = CustomerNameFilter(QueryDict("name=bob"))
    assert first.get_form_class() is second.get_form_class()
    assert first.form is not second.form
    assert first.filters["name"] is not second.filters["name"]
    assert first.filters["name"].parent is first and second.filters["name"].parent is second
    assert CustomerNameFilter.base_filters["name"].__dict__.get("parent") is None


def test_each_instance_filters_by_its_own_data_and_method():
    ann = make_customer(name="Ann Lee")
    bob = make_customer(name="Bob Ray")
    first = CustomerNameFilter(QueryDict("initial=an"), queryset=Customer.objects.all())
    second = CustomerNameFilter(QueryDict("initial=bo"), queryset=Customer.objects.all())
    assert list(second.qs) == [bob]
    assert list(first.qs) == [ann]
    assert first.seen_by == "an" and second.seen_by == "bo"
    assert not hasattr(CustomerNameFilter.base_filters["initial"], "seen_by")


def test_errors_belong_to_their_own_request():
    bad = SaleFilter(QueryDict("customer=abc"))
    good = SaleFilter(QueryDict("customer=12"))
    assert not bad.is_valid() and "customer" in bad.errors
    assert good.is_valid() and not good.errors


def test_the_sale_filter_methods_still_filter():
    pen, ink = make_product(stock=50), make_product(stock=50)
    with_pen = make_sale(items=[(pen, 1)])
    make_sale(items=[(ink, 1)])
    for _ in range(2):  # the second instance uses the cached form class
        result = SaleFilter(
            QueryDict(f"product={pen.pk}"), queryset=with_pen.__class__.objects.all()
        )
        assert list(result.qs) == [with_pen]


def test_filtering_validates_only_the_named_filters_and_the_form_keeps_every_field():
    named = SaleFilter(QueryDict("status=completed&total_min=5"))
    assert named.is_valid()
    assert set(named._filter_form().fields) == {"status", "total_min"}
    assert set(named.form.fields) == set(SaleFilter.base_filters)  # the browsable API's form
    bad = SaleFilter(QueryDict("status=lost&customer=1"))
    assert not bad.is_valid() and set(bad.errors) == {"status"}
    assert SaleFilter(QueryDict("")).is_valid()
    again = SaleFilter(QueryDict("status=cancelled&total_min=7"))
    assert again.is_valid() and type(again._filter_form()) is type(named._filter_form())


def test_an_unknown_parameter_is_not_a_filter():
    result = SaleFilter(QueryDict("page_size=5&ordering=-total&cursor=abc"))
    assert result.is_valid() and result._filter_form().fields == {}
