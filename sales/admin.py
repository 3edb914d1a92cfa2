"""Admin for sales: every write goes through ``sales.services``, exactly like the API.

The admin never saves ``Sale`` or ``SaleItem`` rows itself. A new sale is recorded by
``sale_create`` with the inline lines; editing a completed sale calls ``sale_update(lines=…)``
(stock moves by the difference); the "Cancel selected sales" action calls ``sale_cancel``;
deleting calls ``sale_delete`` (stock comes back first). A service's refusal (not enough stock,
an inactive product, …) rolls everything back and comes back as errors on the form (see
``accounts.admin.ServiceAdminMixin``). Cancelled sales are read-only.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms.models import BaseInlineFormSet

from accounts.admin import (
    SERVICE_ERRORS,
    ServiceAdminMixin,
    admin_service_error,
    copy_model_fields,
    service_error_fields,
    service_error_message,
)
from core.admin_search import BoundedSearchAdminMixin
from core.api.filtering import search_in
from core.dataio.admin import TableImportExportAdmin
from core.errors import ConflictError
from sales import services
from sales.models import IdempotencyKey, Sale, SaleItem, SaleStatus
from sales.resources import SaleResource
from sales.services import MAX_LINE_QUANTITY, SaleLine

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


class SaleItemInlineForm(forms.ModelForm):
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)

    class Meta:
        model = SaleItem
        fields = ("product", "quantity")


class SaleItemInlineFormSet(BaseInlineFormSet):
    """The sale's lines. Never saved by itself: :class:`SaleAdmin` hands :meth:`sale_lines` to
    the sale services and records what they did for the admin's history."""

    service_error: Exception | None = None

    def sale_lines(self) -> list[tuple[forms.BaseForm, SaleLine]]:
        """``(form, line)`` for every filled-in, not deleted row, in form order."""
        pairs: list[tuple[forms.BaseForm, SaleLine]] = []
        for form in self.forms:
            # Django's own test of a row's DELETE box (private, not in the stubs).
            if self.can_delete and self._should_delete_form(form):  # type: ignore[attr-defined]
                continue
            data = getattr(form, "cleaned_data", None) or {}
            product, quantity = data.get("product"), data.get("quantity")
            if product is None or quantity is None:
                continue  # an extra row left empty
            product_id = getattr(product, "pk", product)
            pairs.append((form, SaleLine(product_id=product_id, quantity=quantity)))
        return pairs

    def clean(self):
        super().clean()
        if self.service_error is not None:
            self._show_service_error(self.service_error)

    def _show_service_error(self, exc: Exception) -> None:
        """Put the error the sale service raised on the rows it is about (the services number
        the lines in the order they were given, which is :meth:`sale_lines` order)."""
        pairs = self.sale_lines()
        general: list[str] = []
        items = service_error_fields(exc).get("items")
        if isinstance(items, list):
            for index, error in enumerate(items):
                if isinstance(error, dict) and index < len(pairs):
                    form = pairs[index][0]
                    for field, texts in error.items():
                        form.add_error(field if field in form.fields else None, texts)
                elif isinstance(error, str):
                    general.append(error)
        product_id = getattr(exc, "extra", {}).get("product")
        if product_id is not None:
            for form, line in pairs:
                if line.product_id == product_id:
                    form.add_error("quantity", service_error_message(exc))
        if general:
            raise ValidationError(general)

    def record_changes(self, before: dict[int, SaleItem], after: list[SaleItem]) -> None:
        """What the service did to the lines, for the admin's change message."""
        after_by_product = {item.product_id: item for item in after}
        self.new_objects = [
            item for product_id, item in after_by_product.items() if product_id not in before
        ]
        self.changed_objects = [
            (item, ["quantity"])
            for product_id, item in after_by_product.items()
            if product_id in before and before[product_id].quantity != item.quantity
        ]
        self.deleted_objects = [
            item for product_id, item in before.items() if product_id not in after_by_product
        ]


def _references(references: list[str], shown: int = 20) -> str:
    more = len(references) - shown
    return ", ".join(references[:shown]) + (f" and {more} more" if more > 0 else "")


def _is_cancelled(sale: Sale | None) -> bool:
    return sale is not None and sale.status == SaleStatus.CANCELLED


class SaleItemInline(admin.TabularInline):
    model = SaleItem
    form = SaleItemInlineForm
    formset = SaleItemInlineFormSet
    fields = ("product", "quantity", "unit_price", "line_total")
    readonly_fields = ("unit_price", "line_total")
    autocomplete_fields = ("product",)

    def get_extra(self, request, obj=None, **kwargs):
        return 3 if obj is None else 1

    def get_max_num(self, request, obj=None, **kwargs):
        return settings.SALE_MAX_LINES

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    def get_formset(self, request, obj=None, **kwargs):
        kwargs.setdefault("validate_max", True)
        formset = super().get_formset(request, obj, **kwargs)
        error = admin_service_error(request)
        if error is None:
            return formset
        return type(formset.__name__, (formset,), {"service_error": error})

    def has_add_permission(self, request, obj=None):
        return not _is_cancelled(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _is_cancelled(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_cancelled(obj) and super().has_delete_permission(request, obj)


class SaleAdminForm(forms.ModelForm):
    class Meta:
        model = Sale
        fields = ("reference", "customer", "sold_at")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "reference" in self.fields:
            self.fields["reference"].required = False
            self.fields["reference"].help_text = "Leave empty to generate one."


class RemoteCatalogTransactionMixin(_ModelAdmin):
    """With the HTTP catalog (``CATALOG_BACKEND=http``) the sale services make remote calls,
    which never run inside a database transaction; each service call commits or compensates as
    one unit by itself. So the admin's own outer transaction is left out in that mode."""

    @staticmethod
    def catalog_is_remote() -> bool:
        return settings.CATALOG_BACKEND == "http"

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if self.catalog_is_remote():
            # ModelAdmin's view without its transaction.atomic (private, not in the stubs).
            return self._changeform_view(  # type: ignore[attr-defined]
                request, object_id, form_url, extra_context
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if self.catalog_is_remote():
            # ModelAdmin's view without its transaction.atomic (private, not in the stubs).
            return self._delete_view(  # type: ignore[attr-defined]
                request, object_id, extra_context
            )
        return super().delete_view(request, object_id, extra_context)

    def action_transaction(self, queryset: QuerySet[Any]) -> AbstractContextManager[Any]:
        """No transaction around an action with the remote catalog; ServiceAdminMixin's
        otherwise. A class mixing both in must name this one (ServiceAdminMixin comes first in
        its bases, for its changeform_view's error handling, and would shadow it)."""
        if self.catalog_is_remote():
            return nullcontext()
        return transaction.atomic(using=queryset.db)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(BoundedSearchAdminMixin, admin.ModelAdmin):
    """Stored answers of ``POST /api/sales/`` with an ``Idempotency-Key`` (read-only)."""

    list_display = ("key", "user", "status", "response_status", "sale", "created_at", "expires_at")
    list_filter = ("status",)
    search_fields = ("key", "user__username", "sale__reference")
    list_select_related = ("user", "sale")
    readonly_fields = [field.name for field in IdempotencyKey._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Sale)
class SaleAdmin(
    BoundedSearchAdminMixin,
    TableImportExportAdmin,
    ServiceAdminMixin,
    RemoteCatalogTransactionMixin,
    admin.ModelAdmin,
):
    resource_classes = [SaleResource]
    form = SaleAdminForm
    action_transaction = RemoteCatalogTransactionMixin.action_transaction
    list_display = ("reference", "sold_at", "customer_name", "status", "total", "item_count")
    list_select_related = ("customer",)
    list_filter = ("status",)
    search_fields = ("reference", "customer__name", "customer__email")
    search_shape = staticmethod(search_in(*search_fields))  # the API's, from the indexes
    date_hierarchy = "sold_at"
    autocomplete_fields = ("customer",)
    inlines = (SaleItemInline,)
    actions = ("cancel_sales",)
    show_full_result_count = False
    service_error_skip_fields = ("items",)  # shown on the inline rows
    add_fields = ("reference", "customer", "sold_at")
    change_fields = (
        "reference",
        "status",
        "customer",
        "sold_at",
        "total",
        "created_by",
        "created_at",
        "cancelled_at",
    )
    change_readonly_fields = (
        "reference",
        "status",
        "total",
        "created_by",
        "created_at",
        "cancelled_at",
    )

    def get_queryset(self, request):
        item_count = (
            SaleItem.objects.filter(sale=OuterRef("pk"))
            .order_by()
            .values("sale")
            .annotate(n=Count("id"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(item_count=Coalesce(Subquery(item_count, output_field=IntegerField()), 0))
        )

    @admin.display(description="customer", ordering="customer__name")
    def customer_name(self, obj):
        # The name only: "Name <email>" made the list wider than a laptop's screen.
        return obj.customer.name if obj.customer_id else "-"

    @admin.display(description="items", ordering="item_count")
    def item_count(self, obj):
        return obj.item_count

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.change_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.change_readonly_fields

    def has_change_permission(self, request, obj=None):
        return not _is_cancelled(obj) and super().has_change_permission(request, obj)

    def has_cancel_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.cancel_sale")

    # --- Writes: all through sales.services -----------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Nothing here: the sale and its items are written together by the service, in
        :meth:`save_related`, once the inline lines are known."""

    def save_related(self, request, form, formsets, change):
        items = next(fs for fs in formsets if isinstance(fs, SaleItemInlineFormSet))
        lines = [line for _, line in items.sale_lines()]
        data = form.cleaned_data
        sale = form.instance
        if not change:
            before: dict[int, SaleItem] = {}
            customer = data.get("customer")
            saved = services.sale_create(
                lines=lines,
                customer_id=customer.pk if customer else None,
                sold_at=data.get("sold_at"),
                reference=data.get("reference") or None,
                created_by=request.user,
            )
        else:
            before = {item.product_id: item for item in SaleItem.objects.filter(sale=sale)}
            changes = {}
            if "customer" in form.changed_data:
                customer = data.get("customer")
                changes["customer_id"] = customer.pk if customer else None
            if "sold_at" in form.changed_data:
                changes["sold_at"] = data.get("sold_at")
            saved = services.sale_update(
                sale=sale,
                lines=lines if items.has_changed() else None,
                actor=request.user,
                **changes,
            )
        copy_model_fields(saved, sale)
        items.record_changes(before, list(SaleItem.objects.filter(sale=sale)))

    def delete_model(self, request, obj):
        services.sale_delete(sale=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for sale in queryset:
            services.sale_delete(sale=sale, actor=request.user)

    @admin.action(description="Cancel selected sales", permissions=["cancel"])
    def cancel_sales(self, request, queryset):
        cancelled, already, failed = [], [], []
        for sale in queryset.order_by("pk"):
            if sale.status == SaleStatus.CANCELLED:
                already.append(sale.reference)
                continue
            try:
                services.sale_cancel(sale=sale, actor=request.user)
            except ConflictError as exc:
                if exc.code != "sale_cancelled":
                    failed.append(f"{sale.reference}: {exc.message}")
                else:  # cancelled meanwhile by someone else
                    already.append(sale.reference)
            except SERVICE_ERRORS as exc:
                failed.append(f"{sale.reference}: {service_error_message(exc)}")
            else:
                cancelled.append(sale.reference)
        if cancelled:
            self.message_user(
                request,
                f"Cancelled {len(cancelled)} sale(s); their stock was returned: "
                f"{_references(cancelled)}.",
                messages.SUCCESS,
            )
        if already:
            self.message_user(
                request,
                f"{len(already)} sale(s) were already cancelled and were left as they are "
                f"(no stock returned twice): {_references(already)}.",
                messages.WARNING,
            )
        for failure in failed:
            self.message_user(request, f"Could not cancel {failure}", messages.ERROR)
