"""Admin for categories, products and the stock ledger.

Writes go through ``products.services``, like the API: a product's opening stock and any later
change of ``stock_quantity`` are written to the ledger. The ledger itself is read-only here.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import ServiceAdminMixin, copy_model_fields
from core.admin_readonly import ReadOnlyAdminMixin
from core.admin_search import BoundedSearchAdminMixin
from core.dataio.admin import TableImportExportAdmin
from core.errors import ApplicationError
from core.protection import protected_by_other_apps
from products import services
from products.models import CatalogOutboxEntry, Category, Product, StockMovement
from products.resources import CategoryResource, ProductResource

LEDGER_INLINE_ROWS = 50


@admin.register(Category)
class CategoryAdmin(
    BoundedSearchAdminMixin, TableImportExportAdmin, ServiceAdminMixin, admin.ModelAdmin
):
    resource_classes = [CategoryResource]
    list_display = ("name", "product_count", "created_at")
    search_fields = ("name",)
    list_filter = ("created_at",)
    fields = ("name", "description", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="products", ordering="product_count")
    def product_count(self, obj):
        return obj.product_count

    def save_model(self, request, obj, form, change):
        data = {"name": form.cleaned_data["name"], "description": form.cleaned_data["description"]}
        if change:
            stored = Category.objects.get(pk=obj.pk)
            category = services.category_update(
                category=stored, data={f: data[f] for f in form.changed_data if f in data}
            )
        else:
            category = services.category_create(**data)
        copy_model_fields(category, obj)

    def delete_model(self, request, obj):
        services.category_delete(category=obj)

    def delete_queryset(self, request, queryset):
        for category in queryset:
            services.category_delete(category=category)


class RecentStockMovementFormSet(BaseInlineFormSet):
    """Only the newest rows of the product's ledger (the full ledger has its own admin page)."""

    def get_queryset(self):
        if not hasattr(self, "_recent_queryset"):
            self._recent_queryset = super().get_queryset()[:LEDGER_INLINE_ROWS]
        return self._recent_queryset


class StockMovementInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StockMovement
    formset = RecentStockMovementFormSet
    fields = ("created_at", "delta", "reason", "reference", "actor")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = f"stock ledger (latest {LEDGER_INLINE_ROWS} movements)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class ProductAdminForm(forms.ModelForm):
    """On an existing product, the stock field remembers the figure the user was shown, so that
    saving the form without touching it never puts back a stale figure (sales take stock
    meanwhile), and changing it is refused if the stock moved since the page was loaded."""

    class Meta:
        model = Product
        fields = ("sku", "name", "category", "price", "cost", "stock_quantity", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "stock_quantity" in self.fields:
            self.fields["stock_quantity"].show_hidden_initial = True

    def clean_stock_quantity(self):
        value = self.cleaned_data["stock_quantity"]
        if not self.instance.pk or "stock_quantity" not in self.changed_data:
            return value
        field = self.fields["stock_quantity"]
        shown = field.hidden_widget().value_from_datadict(
            self.data, self.files, self.add_initial_prefix("stock_quantity")
        )
        stored = (
            Product.objects.filter(pk=self.instance.pk)
            .values_list("stock_quantity", flat=True)
            .first()
        )
        if str(shown) != str(stored):
            raise forms.ValidationError(
                f"The stock changed to {stored} since this page was loaded (sales or other "
                "changes); check the new figure and save again.",
                code="stale_stock",
            )
        return value


class PriceChangeForm(forms.Form):
    percent = forms.DecimalField(
        max_digits=7, decimal_places=2, required=False, help_text="E.g. 5 or -10 (percent)."
    )
    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, required=False, help_text="Or add this to each price."
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # forms.Form.clean hands back cleaned_data
        if (data.get("percent") is None) == (data.get("amount") is None):
            raise forms.ValidationError("Give a percentage or an amount (one of them).")
        return data


@admin.register(Product)
class ProductAdmin(
    BoundedSearchAdminMixin, TableImportExportAdmin, ServiceAdminMixin, admin.ModelAdmin
):
    resource_classes = [ProductResource]
    form = ProductAdminForm
    list_display = (
        "sku",
        "name",
        "category",
        "price",
        "cost",
        "stock_quantity",
        "is_active",
    )
    list_select_related = ("category",)
    search_fields = ("sku", "name")
    list_filter = ("category", "is_active")
    autocomplete_fields = ("category",)
    inlines = (StockMovementInline,)
    show_full_result_count = False
    add_fields = ("sku", "name", "category", "price", "cost", "stock_quantity", "is_active")
    actions = ["change_prices"]

    @admin.action(description="Change prices of the selected products", permissions=["change"])
    def change_prices(self, request, queryset):
        """A form (percent or amount), a preview of the new prices, then the change in one
        transaction through ``products.services.product_price_update``."""
        submitted = "preview" in request.POST or "apply" in request.POST
        form = PriceChangeForm(request.POST if submitted else None)
        preview = None
        if form.is_bound and form.is_valid():
            try:
                result = services.product_price_update(
                    products=queryset,
                    percent=form.cleaned_data["percent"],
                    amount=form.cleaned_data["amount"],
                    dry_run="apply" not in request.POST,
                )
            except ApplicationError as error:
                form.add_error(None, error.message)
            else:
                if not result.dry_run:
                    self.message_user(
                        request, f"{result.changed} of {result.matched} prices changed."
                    )
                    return None
                preview = result
        return TemplateResponse(
            request,
            "admin/products/product/change_prices.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Change prices",
                "form": form,
                "preview": preview,
                "count": queryset.count(),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            },
        )

    change_readonly_fields = ("ledger", "created_at", "updated_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.add_fields
        return (*self.add_fields, *self.change_readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.change_readonly_fields

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if "stock_quantity" in form.base_fields:
            form.base_fields["stock_quantity"].help_text = (
                "Opening stock, recorded in the ledger as a restock."
                if obj is None
                else "Changing it records the difference in the ledger as a manual adjustment."
            )
        return form

    def get_search_results(self, request, queryset, search_term):
        """The product picker of a sale line offers only products that can be sold."""
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = request.resolver_match
        if (
            match is not None
            and match.url_name == "autocomplete"
            and request.GET.get("app_label") == "sales"
            and request.GET.get("field_name") == "product"
        ):
            queryset = queryset.filter(is_active=True)
        return queryset, may_have_duplicates

    @admin.display(description="ledger")
    def ledger(self, obj):
        url = reverse("admin:products_stockmovement_changelist")
        return format_html(
            '<a href="{}?product__id__exact={}">All stock movements</a>', url, obj.pk
        )

    def save_model(self, request, obj, form, change):
        fields = [*services.PRODUCT_EDITABLE_FIELDS, "stock_quantity"]
        data = {field: form.cleaned_data[field] for field in fields if field in form.cleaned_data}
        if change:
            # ``obj`` already carries the form's values; the service compares with the stored
            # row, and a changed stock becomes a ledgered adjustment.
            stored = Product.objects.get(pk=obj.pk)
            changed = {field: data[field] for field in form.changed_data if field in data}
            product = services.product_update(product=stored, data=changed, actor=request.user)
        else:
            product = services.product_create(**data, actor=request.user)
        copy_model_fields(product, obj)

    def save_related(self, request, form, formsets, change):
        # The only inline is the read-only ledger: nothing to save there.
        form.save_m2m()
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.product_delete(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            services.product_delete(product=product)

    def get_deleted_objects(self, objs, request):
        """What ``product_delete`` does: a sold product is protected (deactivate it instead);
        otherwise the product goes with its ledger."""
        objs = list(objs)
        sold = [product for product in objs if protected_by_other_apps(product)]
        if sold:
            protected = [
                f"{product}: appears in sales and cannot be deleted; deactivate it instead."
                for product in sold
            ]
            return [], {}, set(), protected
        ledger_counts = dict(
            StockMovement.objects.filter(product__in=objs)
            .values_list("product")
            .annotate(n=Count("id"))
            .values_list("product", "n")
        )
        deleted: list = []
        for product in objs:
            deleted.append(f"Product: {product}")
            if ledger_counts.get(product.pk):
                deleted.append([f"its stock ledger ({ledger_counts[product.pk]} movements)"])
        model_count = {"products": len(objs)}
        if ledger_counts:
            model_count["stock movements"] = sum(ledger_counts.values())
        return deleted, model_count, set(), []


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdminMixin, BoundedSearchAdminMixin, admin.ModelAdmin):
    """The stock ledger, read-only for everyone: it is written only by the stock services."""

    list_display = ("created_at", "product", "delta", "reason", "reference", "actor")
    list_filter = ("reason", "created_at")
    search_fields = ("product__sku", "reference")
    list_select_related = ("product", "actor")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(CatalogOutboxEntry)
class CatalogOutboxEntryAdmin(ReadOnlyAdminMixin, BoundedSearchAdminMixin, admin.ModelAdmin):
    """Remote catalog stock changes still to make (HTTP catalog): read-only; the retry task
    sends them with backoff, and "Retry now" sends the selected pending ones at once."""

    list_display = (
        "id",
        "status",
        "product",
        "delta",
        "reason",
        "reference",
        "attempts",
        "next_attempt_at",
        "created_at",
        "completed_at",
    )
    list_filter = ("status", "reason")
    search_fields = ("reference", "product__sku", "=product__id")
    list_select_related = ("product",)
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in CatalogOutboxEntry._meta.fields]
    actions = ["retry_now"]

    def has_retry_permission(self, request):
        return request.user.has_perm("products.view_catalogoutboxentry") and request.user.is_staff

    @admin.action(
        description="Retry the selected pending or failed entries now", permissions=["retry"]
    )
    def retry_now(self, request, queryset):
        pending = list(
            queryset.exclude(status=CatalogOutboxEntry.Status.DONE).values_list("pk", flat=True)
        )
        CatalogOutboxEntry.objects.filter(pk__in=pending).update(
            status=CatalogOutboxEntry.Status.PENDING, next_attempt_at=timezone.now()
        )
        counts = services.catalog_outbox_process(entry_ids=pending)
        self.message_user(
            request,
            f"Sent {counts['done']} entr(ies); {counts['failed']} failed again and stay pending.",
            messages.SUCCESS if not counts["failed"] else messages.WARNING,
        )
