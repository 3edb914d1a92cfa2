"""The admin index links to the analytics dashboard (``/dashboard/``); customers' lifetime
figures, read-only; and the customers' and products' admins extended with their analytics: a
customer's lifetime, a product's "bought together"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from analytics import selectors
from analytics.models import CustomerLifetime
from analytics.permissions import VIEW_ANALYTICS, may_view_analytics
from analytics.selectors import CENT, AnalyticsFilters
from core.admin_readonly import ReadOnlyAdminMixin
from core.money import money_str
from customers import admin as customers_admin
from customers.models import Customer
from products import admin as products_admin
from products.models import Product

admin.site.index_template = "analytics/admin_index.html"


@admin.register(CustomerLifetime)
class CustomerLifetimeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: each customer's first and last completed sale, sales and revenue ever (kept
    by the sale services, see analytics.models.CustomerLifetime), for the analytics roles."""

    list_display = ("customer", "first_day", "last_day", "orders", "revenue")
    list_select_related = ("customer",)
    list_filter = ("first_day",)
    ordering = ("-revenue", "customer_id")
    show_full_result_count = False
    raw_id_fields = ("customer",)

    def has_module_permission(self, request):
        return request.user.has_perm(VIEW_ANALYTICS)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_ANALYTICS)


# --- The customers' and products' admins, extended with analytics (issue 17) ------------------
#
# customers and products never import analytics (layering): analytics replaces their admins with
# subclasses, as Django's docs extend UserAdmin. Everything of the originals stays (writes
# through the services, import/export, the bounded search, the stock ledger inline); the
# sections below are read-only and shown only to staff who may read analytics.

LIFETIME_FIELDS = ("first_sale", "last_sale", "completed_sales", "lifetime_revenue")
BASKET_DAYS = 365
BASKET_LIMIT = 10


def _customer_lifetime(customer: Customer) -> CustomerLifetime | None:
    """The customer's lifetime row, read once per page (kept on the instance)."""
    if not hasattr(customer, "analytics_lifetime"):
        rows = selectors.customer_lifetimes(customer_ids=[customer.pk])
        customer.analytics_lifetime = rows.get(customer.pk)  # type: ignore[attr-defined]
    row: CustomerLifetime | None = customer.analytics_lifetime  # type: ignore[attr-defined]
    return row


class AnalyticsSectionAdminMixin:
    """A read-only section of analytics on an object's change page (title, fields and
    description in ``analytics_section``), shown only to who may read analytics."""

    analytics_section: tuple[str, tuple[str, ...], str]

    def _shows_section(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and may_view_analytics(request)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        if not self._shows_section(request, obj):
            return fieldsets
        title, fields, description = self.analytics_section
        return [*fieldsets, (title, {"fields": fields, "description": description})]

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        if not self._shows_section(request, obj):
            return readonly
        return (*readonly, *self.analytics_section[1])


admin.site.unregister(Customer)


@admin.register(Customer)
class CustomerAdmin(AnalyticsSectionAdminMixin, customers_admin.CustomerAdmin):
    """The customers' admin, plus a read-only "Lifetime" section on the change page: first and
    last completed sale, how many, their revenue, and a link to those sales."""

    analytics_section = (
        "Lifetime",
        LIFETIME_FIELDS,
        "Completed sales ever (analytics; cancelled sales do not count).",
    )

    @admin.display(description="first sale")
    def first_sale(self, obj: Customer) -> Any:
        row = _customer_lifetime(obj)
        return row.first_day.isoformat() if row else "No completed sale yet"

    @admin.display(description="last sale")
    def last_sale(self, obj: Customer) -> Any:
        row = _customer_lifetime(obj)
        return row.last_day.isoformat() if row else None

    @admin.display(description="sales")
    def completed_sales(self, obj: Customer) -> Any:
        row = _customer_lifetime(obj)
        if row is None:
            return 0
        url = (
            reverse("admin:sales_sale_changelist")
            + "?"
            + urlencode({"customer__id__exact": obj.pk, "status__exact": "completed"})
        )
        return format_html('{} (<a href="{}">see them</a>)', row.orders, url)

    @admin.display(description="revenue")
    def lifetime_revenue(self, obj: Customer) -> str:
        row = _customer_lifetime(obj)
        return f"{money_str(row.revenue if row else 0)} {settings.CURRENCY}"


admin.site.unregister(Product)


@admin.register(Product)
class ProductAdmin(AnalyticsSectionAdminMixin, products_admin.ProductAdmin):
    """The products' admin, plus a read-only "Bought together" section on the change page: the
    products most often in the same completed sales over the last 365 days (the basket report,
    cached like the API's), with a link to the dashboard for that product."""

    analytics_section = (
        f"Bought together (last {BASKET_DAYS} days)",
        ("bought_together",),
        "Other products in the same completed sales as this one (analytics).",
    )

    @admin.display(description=f"top {BASKET_LIMIT}")
    def bought_together(self, obj: Product) -> str:
        today = timezone.localdate()
        filters = AnalyticsFilters(
            date_from=today - timedelta(days=BASKET_DAYS - 1), date_to=today, product=obj.pk
        )
        basket = selectors.analytics_basket(filters=filters, product=obj.pk, limit=BASKET_LIMIT)
        rows = [
            {
                **row,
                "url": reverse("admin:products_product_change", args=[row["product_id"]]),
                "confidence_pct": (row["confidence"] * 100).quantize(CENT),
            }
            for row in basket["results"]
        ]
        query = urlencode({"product": obj.pk, "preset": BASKET_DAYS})
        return render_to_string(
            "analytics/admin_bought_together.html",
            {
                "basket": basket,
                "rows": rows,
                "days": BASKET_DAYS,
                "dashboard_url": f"{reverse('analytics-dashboard')}?{query}",
            },
        )
