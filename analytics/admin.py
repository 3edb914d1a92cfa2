"""The admin index links to the analytics dashboard (``/dashboard/``); customers' lifetime
figures, read-only."""

from django.contrib import admin

from analytics.models import CustomerLifetime
from analytics.permissions import VIEW_ANALYTICS
from core.admin_readonly import ReadOnlyAdminMixin

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
