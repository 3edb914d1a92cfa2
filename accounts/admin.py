"""Admin for API keys, and the admin plumbing every app's admin shares.

The admin is a door onto the services, like the API: :class:`ServiceAdminMixin` makes a
ModelAdmin whose writes go through a service show the service's errors (``ApplicationError``,
Django ``ValidationError``) as form errors or admin messages, never as a 500, with nothing
half-written. (It lives here, next to ``accounts.permissions``, because like the permissions it is
shared by every app.)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import ProtectedError, QuerySet, RestrictedError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from accounts.forms import LockoutAdminAuthenticationForm
from accounts.models import ApiKey
from accounts.services import api_key_create, user_logout_everywhere
from core.admin_search import BoundedSearchAdminMixin
from core.errors import ApplicationError, protected_error_message

if TYPE_CHECKING:
    from django import forms

    _ModelForm = forms.ModelForm[Any]
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelForm = _ModelAdmin = object

SERVICE_ERRORS = (ApplicationError, ValidationError)
DELETE_ERRORS = (*SERVICE_ERRORS, ProtectedError, RestrictedError)

_SERVICE_ERROR_ATTR = "_admin_service_error"


def service_error_message(exc: Exception) -> str:
    """The human message of an error raised by a service (or a protected delete)."""
    if isinstance(exc, ApplicationError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, ProtectedError | RestrictedError):
        return protected_error_message(exc)
    return str(exc)


def service_error_fields(exc: Exception) -> dict[str, Any]:
    """``{field: [messages]}`` of a service error (``__all__`` for the non-field ones)."""
    if isinstance(exc, ApplicationError):
        return dict(exc.fields)
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        return dict(exc.message_dict)
    return {}


def show_service_error_on_form(form, exc: Exception, *, skip: tuple[str, ...] = ()) -> None:
    """Put a service error on a (bound, cleaned) form: field errors on their fields, the rest
    and the summary as non-field errors. ``skip`` names fields shown elsewhere (an inline)."""
    summary_needed = isinstance(exc, ApplicationError) or not hasattr(exc, "error_dict")
    for field, errors in service_error_fields(exc).items():
        if field in skip:
            continue
        texts = [str(error) for error in errors] if isinstance(errors, list) else [str(errors)]
        if field in form.fields:
            form.add_error(field, texts)
        elif field in (NON_FIELD_ERRORS, "non_field_errors"):
            form.add_error(None, texts)
        else:
            form.add_error(None, [f"{field}: {text}" for text in texts])
    if summary_needed:
        form.add_error(None, service_error_message(exc))


def copy_model_fields(source: models.Model, target: models.Model) -> None:
    """Make ``target`` (the admin's form instance) the object the service saved, so that the
    admin's log entry, messages and redirects use the saved row."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class ServiceErrorFormMixin(_ModelForm):
    """Mixed into the admin form on the second pass of :meth:`ServiceAdminMixin.changeform_view`:
    shows the error the service raised on the first pass."""

    service_error: Exception | None = None
    service_error_skip_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any] | None:
        cleaned_data = super().clean()
        if self.service_error is not None:
            show_service_error_on_form(
                self, self.service_error, skip=self.service_error_skip_fields
            )
        return cleaned_data


def admin_service_error(request) -> Exception | None:
    """The service error of this request's first save attempt, if it failed."""
    return getattr(request, _SERVICE_ERROR_ATTR, None)


class ServiceAdminMixin(_ModelAdmin):
    """For a ModelAdmin whose ``save_model``/``save_related``/``delete_model``/
    ``delete_queryset`` call services.

    - Saving: Django runs ``save_model`` and ``save_related`` inside one transaction, after the
      forms were found valid. If a service refuses there, the exception rolls that transaction
      back (nothing is half-written) and the view runs once more on the same POST with the error
      attached to the form (:class:`ServiceErrorFormMixin`), so the user sees the form again with
      the error on the right fields. The second pass cannot save: its form is invalid.
    - Deleting (the delete page) and actions (bulk delete, custom actions): a refusal rolls back
      and becomes an error message.
    """

    service_error_skip_fields: tuple[str, ...] = ()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SERVICE_ERRORS as exc:
            if request.method != "POST" or admin_service_error(request) is not None:
                raise
            setattr(request, _SERVICE_ERROR_ATTR, exc)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        error = admin_service_error(request)
        if error is None:
            return form_class
        return type(
            form_class.__name__,
            (ServiceErrorFormMixin, form_class),
            {"service_error": error, "service_error_skip_fields": self.service_error_skip_fields},
        )

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DELETE_ERRORS as exc:  # the delete view's transaction was rolled back
            self.message_user(request, service_error_message(exc), messages.ERROR)
            opts = self.opts
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[object_id],
                current_app=self.admin_site.name,
            )
            return HttpResponseRedirect(url)

    def action_transaction(self, queryset: QuerySet[Any]) -> AbstractContextManager[Any]:
        """The transaction around an action (one unit: all or nothing)."""
        return transaction.atomic(using=queryset.db)

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Any], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        try:
            with self.action_transaction(queryset):
                return super().response_action(request, queryset, *args, **kwargs)
        except DELETE_ERRORS as exc:
            self.message_user(request, service_error_message(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


@admin.register(ApiKey)
class ApiKeyAdmin(BoundedSearchAdminMixin, ServiceAdminMixin, admin.ModelAdmin):
    """API keys. Adding asks only for a name; the full key is shown once, on the page that
    answers the save (never in a message: messages travel in a signed, not encrypted, cookie).
    Only the hash of the secret is stored, and it is never displayed. A key can then only be
    renamed or deactivated."""

    list_display = ("name", "prefix", "is_active", "created_at", "last_used_at", "created_by")
    list_filter = ("is_active",)
    search_fields = ("name", "=prefix")
    list_select_related = ("created_by",)
    ordering = ("-created_at",)
    change_readonly_fields = ("prefix", "created_by", "created_at", "last_used_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name",)
        return ("name", "is_active", *self.change_readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.change_readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.name = obj.name.strip()
            obj.save(update_fields=["name", "is_active"])
            return
        api_key, full_key = api_key_create(name=form.cleaned_data["name"], created_by=request.user)
        copy_model_fields(api_key, obj)
        request._api_key_full_key = full_key

    def response_add(self, request, obj, post_url_continue=None):
        full_key = getattr(request, "_api_key_full_key", None)
        if not full_key:
            return super().response_add(request, obj, post_url_continue)
        # The key is on this page only: no redirect, no message (a cookie), never cached.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"API key “{obj.name}” created",
            "api_key": obj,
            "full_key": full_key,
        }
        response = TemplateResponse(request, "admin/accounts/apikey/created.html", context)
        add_never_cache_headers(response)
        return response


# Every admin login goes through the lockout (accounts.lockout) and says so when locked.
admin.site.login_form = LockoutAdminAuthenticationForm

User = get_user_model()


class UserAdmin(BoundedSearchAdminMixin, DjangoUserAdmin):
    """Django's user admin, with "log out everywhere"."""

    actions = ["logout_everywhere"]

    @admin.action(
        description="Log out everywhere (end all their tokens and sessions)",
        permissions=["change"],
    )
    def logout_everywhere(self, request, queryset):
        user_ids = list(queryset.values_list("pk", flat=True))
        for user_id in user_ids:
            user_logout_everywhere(user_id=user_id)
        self.message_user(
            request,
            f"{len(user_ids)} user(s) logged out everywhere: every token and session they had "
            "is ended.",
            messages.SUCCESS,
        )


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, UserAdmin)


# The admins registered before ours by other apps (django.contrib.auth's users and groups,
# django-oauth-toolkit's tokens and grants) search too: each one with search fields is
# re-registered with the bound of every other admin search (core/admin_search.py). The apps
# after accounts in INSTALLED_APPS are ours, and bound their searches themselves.
for _model, _model_admin in list(admin.site._registry.items()):
    _registered = type(_model_admin)
    if _model_admin.search_fields and not issubclass(_registered, BoundedSearchAdminMixin):
        admin.site.unregister(_model)
        admin.site.register(
            _model, type(_registered.__name__, (BoundedSearchAdminMixin, _registered), {})
        )
