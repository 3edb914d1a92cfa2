"""The customers API with each customer's lifetime figures (issue 17).

The customers app knows nothing of analytics (layering, docs/architecture.md): analytics
extends it, as Django's docs extend ``UserAdmin``. :class:`CustomerViewSet` is the customers'
viewset with :class:`CustomerOutputSerializer` adding ``lifetime``; the composition root
(``salesproject/api.py``) registers it in place of the plain one, under the same basename and
URLs.

``lifetime`` is analytics data: it is in the answer only for whoever may read
``/api/analytics/`` (``analytics.permissions.may_view_analytics``: the ``view_analytics``
permission and, with an OAuth2 token, the scope ``analytics`` or ``read``); for anyone else the
key is left out, so that ``null`` always means "no completed sale". A list reads the lifetime
rows of its page in one query (a primary-key lookup), whatever the page size.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.db.models.manager import BaseManager
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from analytics import selectors
from analytics.models import CustomerLifetime
from analytics.permissions import may_view_analytics
from core.money import money_str
from customers import serializers as customer_serializers
from customers import views as customer_views

LIFETIME_HELP = (
    "The customer's completed sales ever (analytics data): first and last sale (local days), "
    "how many, and their revenue. Null: no completed sale yet. Left out of the answer unless "
    "the user may read the analytics (the analytics.view_analytics permission, which every "
    "role has, and with an OAuth2 token the scope analytics or read)."
)


class LifetimeFiguresSerializer(serializers.Serializer[Any]):
    """A customer's completed sales ever (analytics data)."""

    # Documentation only: the answer is built by ``lifetime_figures``.

    first_sale = serializers.DateField(help_text="Local day of the first completed sale.")
    last_sale = serializers.DateField(help_text="Local day of the latest completed sale.")
    orders = serializers.IntegerField(help_text="Completed sales ever.")
    revenue = serializers.DecimalField(
        max_digits=18, decimal_places=2, help_text="Their revenue ever (lifetime value)."
    )


def lifetime_figures(row: CustomerLifetime | None) -> dict[str, Any] | None:
    """``lifetime`` of the answer: the row's figures, money as the analytics write it."""
    if row is None:
        return None
    return {
        "first_sale": row.first_day.isoformat(),
        "last_sale": row.last_day.isoformat(),
        "orders": row.orders,
        "revenue": money_str(row.revenue),
    }


class CustomerListSerializer(serializers.ListSerializer[Any]):
    """A page of customers: their lifetime rows in one query, handed to the child."""

    def to_representation(self, data: Any) -> list[Any]:
        customers = list(data.all() if isinstance(data, BaseManager) else data)
        child = self.child
        if isinstance(child, CustomerOutputSerializer) and "lifetime" in child.fields:
            child.lifetimes = selectors.customer_lifetimes(
                customer_ids=[customer.pk for customer in customers]
            )
        return super().to_representation(customers)


@extend_schema_serializer(component_name="CustomerOutput")  # the plain serializer's name
class CustomerOutputSerializer(customer_serializers.CustomerOutputSerializer):
    lifetime = serializers.SerializerMethodField(help_text=LIFETIME_HELP)

    lifetimes: dict[int, CustomerLifetime] | None = None  # set by CustomerListSerializer

    class Meta(customer_serializers.CustomerOutputSerializer.Meta):
        fields = [*customer_serializers.CustomerOutputSerializer.Meta.fields, "lifetime"]
        read_only_fields = fields
        list_serializer_class = CustomerListSerializer

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        view = self.context.get("view")
        request = self.context.get("request")
        documenting = getattr(view, "swagger_fake_view", False)  # the OpenAPI schema
        if not documenting and (request is None or not may_view_analytics(request)):
            del fields["lifetime"]
        return fields

    @extend_schema_field(LifetimeFiguresSerializer(allow_null=True))
    def get_lifetime(self, customer: Model) -> dict[str, Any] | None:
        lifetimes = self.lifetimes
        if lifetimes is None:  # one customer (detail, create, update): its row alone
            lifetimes = selectors.customer_lifetimes(customer_ids=[customer.pk])
        return lifetime_figures(lifetimes.get(customer.pk))


class CustomerOutputSchema(OpenApiSerializerExtension):
    """``lifetime`` is not a required property: the answer leaves it out for users who may not
    read analytics."""

    target_class = CustomerOutputSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super().map_serializer(auto_schema, direction)
        schema["required"] = [name for name in schema.get("required", []) if name != "lifetime"]
        return schema


class CustomerViewSet(customer_views.CustomerViewSet):
    __doc__ = customer_views.CustomerViewSet.__doc__  # the browsable API's and schema's text

    output_serializer_class = CustomerOutputSerializer
