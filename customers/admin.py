"""Admin for customers: writes go through ``customers.services``, like the API."""

from django.contrib import admin
from django_countries.filters import CountryFilter

from accounts.admin import ServiceAdminMixin, copy_model_fields
from core.admin_search import BoundedSearchAdminMixin
from core.api.filtering import search_in
from core.dataio.admin import TableImportExportAdmin
from core.protection import protected_by_other_apps
from customers import services
from customers.models import Customer
from customers.resources import CustomerResource


@admin.register(Customer)
class CustomerAdmin(
    BoundedSearchAdminMixin, TableImportExportAdmin, ServiceAdminMixin, admin.ModelAdmin
):
    resource_classes = [CustomerResource]
    list_display = ("name", "email", "city", "country", "segment", "created_at")
    search_fields = ("name", "email", "city", "phone")
    search_shape = staticmethod(search_in(*search_fields, one_text=True))  # the API's
    list_filter = ("segment", ("country", CountryFilter))
    date_hierarchy = "created_at"
    fields = (
        "name",
        "email",
        "phone",
        "city",
        "country",
        "segment",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        data = {
            field: form.cleaned_data[field]
            for field in services.CUSTOMER_EDITABLE_FIELDS
            if field in form.cleaned_data
        }
        if change:
            # ``obj`` already carries the form's values; the service compares with the stored row.
            stored = Customer.objects.get(pk=obj.pk)
            changed = {field: data[field] for field in form.changed_data if field in data}
            customer = services.customer_update(customer=stored, data=changed)
        else:
            customer = services.customer_create(**data)
        copy_model_fields(customer, obj)

    def delete_model(self, request, obj):
        services.customer_delete(customer=obj)

    def delete_queryset(self, request, queryset):
        for customer in queryset:
            services.customer_delete(customer=customer)

    def get_deleted_objects(self, objs, request):
        """A customer with sales cannot be deleted (the sales keep it): say so plainly
        instead of listing every one of their sales."""
        objs = list(objs)
        with_sales = [c for c in objs if protected_by_other_apps(c)]
        if with_sales:
            protected = [f"{customer}: has sales and cannot be deleted." for customer in with_sales]
            return [], {}, set(), protected
        return super().get_deleted_objects(objs, request)
