"""Analytics query parameters (validated: a bad value is a 400 naming it) and the answers'
shapes (for the OpenAPI schema; the views render the selectors' answers directly)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django_countries import countries
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from analytics.selectors import (
    COHORT_INTERVALS,
    DIMENSIONS,
    INTERVALS,
    RFM_SEGMENTS,
    TOP_CUSTOMERS_BY,
    TOP_PRODUCTS_BY,
    AnalyticsFilters,
    default_period,
)
from core.api.filtering import check_date_in_range
from customers.models import Customer, CustomerSegment
from products.models import Category, Product

MAX_DAYS = 3660  # ten years
MAX_LIMIT = 100


class AnalyticsQuerySerializer(serializers.Serializer):
    """The period and the filters every analytics endpoint takes."""

    date_from = serializers.DateField(
        required=False,
        validators=[check_date_in_range],
        help_text="First day (local, inclusive). Default: 29 days before date_to.",
    )
    date_to = serializers.DateField(
        required=False,
        validators=[check_date_in_range],
        help_text=(
            "Last day (local, inclusive). Default: today; with only date_from, date_from + 29 "
            "days (a 30-day period)."
        ),
    )
    category = serializers.IntegerField(
        required=False, min_value=1, help_text="Only lines of products of this category id."
    )
    product = serializers.IntegerField(
        required=False, min_value=1, help_text="Only lines of this product id."
    )
    customer = serializers.IntegerField(
        required=False, min_value=1, help_text="Only sales of this customer id."
    )
    country = serializers.CharField(
        required=False,
        max_length=2,
        help_text="Only sales of customers of this country (ISO 3166 alpha-2).",
    )
    segment = serializers.ChoiceField(
        required=False,
        choices=CustomerSegment.choices,
        help_text="Only sales of customers of this segment.",
    )

    def validate_country(self, value: str) -> str:
        code = value.strip().upper()
        if code not in dict(countries):
            raise serializers.ValidationError(f"{value!r} is not an ISO 3166 alpha-2 country code.")
        return code

    def validate(self, attrs):
        date_from, date_to = attrs.get("date_from"), attrs.get("date_to")
        if date_to is None:
            date_to = default_period()[1] if date_from is None else None
        if date_to is None:  # only date_from: a 30-day period from it
            date_to = date_from + timedelta(days=29)
        if date_from is None:
            date_from = date_to - timedelta(days=29)
        if date_to < date_from:
            raise serializers.ValidationError({"date_to": ["Must be on or after date_from."]})
        if (date_to - date_from).days + 1 > MAX_DAYS:
            raise serializers.ValidationError(
                {"date_to": [f"The period is at most {MAX_DAYS} days long."]}
            )
        unknown = {}
        for name, model in (("category", Category), ("product", Product), ("customer", Customer)):
            value = attrs.get(name)
            if value is not None and not model.objects.filter(pk=value).exists():
                verbose_name = str(model._meta.verbose_name)
                unknown[name] = [f"{verbose_name.capitalize()} {value} does not exist."]
        if unknown:
            raise serializers.ValidationError(unknown)
        attrs["filters"] = AnalyticsFilters(
            date_from=date_from,
            date_to=date_to,
            category=attrs.get("category"),
            product=attrs.get("product"),
            customer=attrs.get("customer"),
            country=attrs.get("country") or None,
            segment=attrs.get("segment") or None,
        )
        return attrs


class RevenueQuerySerializer(AnalyticsQuerySerializer):
    interval = serializers.ChoiceField(
        choices=INTERVALS, default="day", help_text="Bucket size: day, ISO week or month."
    )


class _TopQuerySerializer(AnalyticsQuerySerializer):
    limit = serializers.IntegerField(
        default=10, min_value=1, max_value=MAX_LIMIT, help_text="How many (1 to 100)."
    )


class TopProductsQuerySerializer(_TopQuerySerializer):
    by = serializers.ChoiceField(choices=TOP_PRODUCTS_BY, default="revenue")


class TopCustomersQuerySerializer(_TopQuerySerializer):
    by = serializers.ChoiceField(choices=TOP_CUSTOMERS_BY, default="revenue")


class BreakdownQuerySerializer(AnalyticsQuerySerializer):
    dimension = serializers.ChoiceField(choices=DIMENSIONS, default="category")


class _PerCustomerQuerySerializer(AnalyticsQuerySerializer):
    """Reports per customer: the customer, country and segment filters only."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        refused = {
            name: ["Not available for this report (it is per customer, not per line)."]
            for name in ("product", "category")
            if attrs.get(name) is not None
        }
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class CohortsQuerySerializer(_PerCustomerQuerySerializer):
    interval = serializers.ChoiceField(
        choices=COHORT_INTERVALS,
        default="month",
        help_text="Cohort and period size: calendar month or ISO week.",
    )


class BasketQuerySerializer(AnalyticsQuerySerializer):
    product = serializers.IntegerField(
        min_value=1, help_text="The product whose basket companions are wanted (required)."
    )
    limit = serializers.IntegerField(
        default=10, min_value=1, max_value=MAX_LIMIT, help_text="How many (1 to 100)."
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("category") is not None:
            raise serializers.ValidationError(
                {"category": ["Not available for this report (it is about one product)."]}
            )
        return attrs


class RfmQuerySerializer(_PerCustomerQuerySerializer):
    pass


class RfmCustomersQuerySerializer(_PerCustomerQuerySerializer):
    """Here ``segment`` is the RFM segment (the customer-segment filter is not available)."""

    segment = serializers.ChoiceField(
        choices=list(RFM_SEGMENTS), help_text="The RFM segment (required)."
    )
    page = serializers.IntegerField(default=1, min_value=1, max_value=1_000_000)
    page_size = serializers.IntegerField(
        default=settings.API_PAGE_SIZE, min_value=1, max_value=settings.API_MAX_PAGE_SIZE
    )

    def validate(self, attrs):
        rfm_segment = attrs.pop("segment")
        attrs = super().validate(attrs)
        attrs["rfm_segment"] = rfm_segment
        return attrs


# --- Answers (documentation) ---------------------------------------------------------------------


@extend_schema_field({"type": "integer", "deprecated": True})
class DeprecatedIntegerField(serializers.IntegerField):
    """An id kept under its old name for existing clients (marked deprecated in the schema)."""


def _money(help_text: str = "", allow_null: bool = False) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text=help_text, allow_null=allow_null
    )


def _pct(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, help_text=help_text
    )


class PeriodSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    days = serializers.IntegerField()


class FiltersEchoSerializer(serializers.Serializer):
    category = serializers.IntegerField(allow_null=True)
    product = serializers.IntegerField(allow_null=True)
    customer = serializers.IntegerField(allow_null=True)
    country = serializers.CharField(allow_null=True)
    segment = serializers.CharField(allow_null=True)


def _currency() -> serializers.CharField:
    return serializers.CharField(
        help_text="The ISO 4217 code of every amount (the CURRENCY setting), e.g. USD."
    )


class _AnswerSerializer(serializers.Serializer):
    currency = _currency()
    period = PeriodSerializer(help_text="The resolved period.")
    filters = FiltersEchoSerializer(help_text="The filters applied (null = not filtered).")
    # A field named like Field.source (DRF declares fields as class attributes).
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=["rollups", "sales"],
        help_text="Where the figures were read: the daily rollups, or the sales tables.",
    )


class FiguresSerializer(serializers.Serializer):
    revenue = _money("Sum of line totals.")
    cost = _money("Sum of unit cost x quantity at sale time.")
    margin = _money("Revenue - cost.")
    margin_pct = _pct("Margin / revenue x 100; null without revenue.")
    orders = serializers.IntegerField(help_text="Completed sales (with a line in scope).")
    units = serializers.IntegerField()
    average_order_value = _money("Revenue / orders; null without orders.", allow_null=True)


class SummaryFiguresSerializer(FiguresSerializer):
    unique_customers = serializers.IntegerField()
    repeat_customer_rate = _pct(
        "% of the period's customers with two or more completed sales in it; null without any."
    )
    new_customers = serializers.IntegerField(
        help_text="Customers whose first completed sale ever is in the period."
    )
    returning_customers = serializers.IntegerField(
        help_text="The period's other customers (they had bought before)."
    )


class ChangeSerializer(serializers.Serializer):
    revenue = _pct("Change vs the previous period in %; null when it was 0.")
    cost = _pct("")
    margin = _pct("")
    margin_pct = _pct("Relative change of the margin %.")
    orders = _pct("")
    units = _pct("")
    average_order_value = _pct("")
    unique_customers = _pct("")
    repeat_customer_rate = _pct("Relative change of the repeat customer rate.")
    new_customers = _pct("")
    returning_customers = _pct("")


class SummaryResponseSerializer(_AnswerSerializer):
    previous_period = PeriodSerializer(help_text="The period of the same length just before.")
    current = SummaryFiguresSerializer()
    previous = SummaryFiguresSerializer()
    change_pct = ChangeSerializer()


class RevenuePointSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The bucket's calendar start (day, Monday, 1st).")
    start = serializers.DateField(help_text="First day of the bucket inside the period.")
    end = serializers.DateField(help_text="Last day of the bucket inside the period.")
    revenue = _money()
    cost = _money()
    margin = _money()
    orders = serializers.IntegerField()
    units = serializers.IntegerField()


class RevenueResponseSerializer(_AnswerSerializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    totals = FiguresSerializer()
    points = RevenuePointSerializer(many=True, help_text="Every bucket, zero when empty.")


class TopProductSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    product = serializers.IntegerField(help_text="The product's id (as in a sale's lines).")
    product_id = DeprecatedIntegerField(help_text='Deprecated: the same as "product".')
    sku = serializers.CharField()
    name = serializers.CharField()
    category_id = serializers.IntegerField(allow_null=True)
    category_name = serializers.CharField(allow_null=True)
    revenue = _money()
    cost = _money()
    margin = _money()
    margin_pct = _pct("")
    units = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Sales with a line of the product.")


class TopProductsResponseSerializer(_AnswerSerializer):
    by = serializers.ChoiceField(choices=TOP_PRODUCTS_BY)
    limit = serializers.IntegerField()
    results = TopProductSerializer(many=True)


class TopCustomerSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    customer = serializers.IntegerField(help_text="The customer's id (as in a sale).")
    customer_id = DeprecatedIntegerField(help_text='Deprecated: the same as "customer".')
    name = serializers.CharField()
    email = serializers.EmailField()
    country = serializers.CharField(allow_blank=True)
    segment = serializers.CharField()
    revenue = _money()
    cost = _money()
    margin = _money()
    orders = serializers.IntegerField()
    units = serializers.IntegerField()
    average_order_value = _money()


class TopCustomersResponseSerializer(_AnswerSerializer):
    by = serializers.ChoiceField(choices=TOP_CUSTOMERS_BY)
    limit = serializers.IntegerField()
    results = TopCustomerSerializer(many=True)


class BreakdownTotalSerializer(serializers.Serializer):
    revenue = _money()
    cost = _money()
    margin = _money()
    orders = serializers.IntegerField(help_text="Distinct sales (not the sum of the rows).")
    units = serializers.IntegerField()


class BreakdownRowSerializer(BreakdownTotalSerializer):
    key = serializers.CharField(
        allow_null=True,
        help_text="Category id, country code (empty: none recorded) or segment; null: no "
        "category / sales without customer.",
    )
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    orders = serializers.IntegerField(help_text="Sales with a line in this group.")
    share_pct = _pct("Share of the revenue in %.")


class BreakdownResponseSerializer(_AnswerSerializer):
    dimension = serializers.ChoiceField(choices=DIMENSIONS)
    total = BreakdownTotalSerializer()
    results = BreakdownRowSerializer(many=True)


class CohortPeriodSerializer(serializers.Serializer):
    offset = serializers.IntegerField(help_text="Periods after the cohort's own (0 = its own).")
    start = serializers.DateField(help_text="The period's first day (calendar).")
    active_customers = serializers.IntegerField(help_text="Cohort customers who bought in it.")
    revenue = _money("Their revenue in it.")
    retention_pct = _pct("active_customers / customers x 100.")


class CohortSerializer(serializers.Serializer):
    cohort = serializers.CharField(help_text="2024-01 (month) or 2024-W03 (ISO week).")
    start = serializers.DateField()
    customers = serializers.IntegerField(help_text="Customers whose first sale ever is in it.")
    periods = CohortPeriodSerializer(many=True)


class CohortsResponseSerializer(_AnswerSerializer):
    interval = serializers.ChoiceField(choices=COHORT_INTERVALS)
    results = CohortSerializer(many=True)


class BasketRowSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    orders = serializers.IntegerField(help_text="Completed sales containing both products.")
    confidence = serializers.DecimalField(
        max_digits=7, decimal_places=4, help_text="orders / sales containing the product."
    )
    lift = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        help_text="confidence / (sales containing this one / all sales of the period).",
    )


class BasketResponseSerializer(_AnswerSerializer):
    product = serializers.IntegerField()
    orders = serializers.IntegerField(help_text="Completed sales containing the product.")
    sales = serializers.IntegerField(help_text="All completed sales of the period (in scope).")
    limit = serializers.IntegerField()
    results = BasketRowSerializer(many=True)


class RfmSegmentSerializer(serializers.Serializer):
    segment = serializers.ChoiceField(choices=list(RFM_SEGMENTS))
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    customers = serializers.IntegerField()
    revenue = _money("Their revenue in the period.")
    share_pct = _pct("Share of the period's customers in %.")


class RfmResponseSerializer(_AnswerSerializer):
    customers = serializers.IntegerField(help_text="Customers with a completed sale in the period.")
    segments = RfmSegmentSerializer(many=True)


class RfmCustomerSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    last_sale_day = serializers.DateField()
    recency_days = serializers.IntegerField(help_text="Days from the last sale to date_to.")
    orders = serializers.IntegerField()
    revenue = _money()
    r = serializers.IntegerField(help_text="Recency score 1-5 (5 = most recent).")
    f = serializers.IntegerField(help_text="Frequency score 1-5.")
    m = serializers.IntegerField(help_text="Monetary score 1-5.")


class RfmCustomersResponseSerializer(_AnswerSerializer):
    segment = serializers.ChoiceField(choices=list(RFM_SEGMENTS))
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField(allow_null=True)
    results = RfmCustomerSerializer(many=True)


class CustomerLifetimeSerializer(serializers.Serializer):
    currency = _currency()
    customer_id = serializers.IntegerField()
    first_sale_day = serializers.DateField(allow_null=True, help_text="Null: never bought.")
    last_sale_day = serializers.DateField(allow_null=True)
    orders = serializers.IntegerField(help_text="Completed sales ever.")
    revenue = _money("Their revenue ever (lifetime value).")
    average_order_value = _money("Revenue / orders; null without orders.", allow_null=True)
