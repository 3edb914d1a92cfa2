"""OAuth2 applications in the admin (``OAUTH2_PROVIDER["APPLICATION_ADMIN_CLASS"]``).

- Adding asks for the name, the user the application acts as (client credentials) or is
  registered by, the client type, one of our two grants and the redirect URIs. The client
  secret is generated and shown once, on the page that answers the save (never in a message:
  messages travel in a signed, not encrypted, cookie); only its hash is stored.
- Actions: "Rotate the client secret" (the new one shown once the same way, the old one
  refused from then on) and "Revoke every token" (access and refresh tokens, pending codes).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from oauth2_provider.admin import ApplicationAdmin as BaseApplicationAdmin
from oauth2_provider.models import AbstractApplication, Application

from accounts.oauth.server import ALLOWED_GRANT_TYPES
from accounts.oauth.services import oauth_application_revoke_tokens, oauth_application_rotate_secret
from core.admin_search import BoundedSearchAdminMixin

SECRET_TEMPLATE = "admin/oauth2_provider/application/secret.html"


class ApplicationAdminForm(forms.ModelForm):
    authorization_grant_type = forms.ChoiceField(
        choices=[
            (value, label)
            for value, label in AbstractApplication.GRANT_TYPES
            if value in ALLOWED_GRANT_TYPES
        ],
        widget=forms.RadioSelect,
        help_text="Client credentials: a machine acting as the user below (whose role bounds "
        "it). Authorization code (with PKCE): an application acting for a person who consents "
        "in the browser.",
    )

    class Meta:
        model = Application
        fields = (
            "name",
            "user",
            "client_type",
            "authorization_grant_type",
            "redirect_uris",
            "skip_authorization",
        )

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # forms.Form.clean hands back cleaned_data
        grant = cleaned.get("authorization_grant_type")
        if grant == AbstractApplication.GRANT_CLIENT_CREDENTIALS:
            if not cleaned.get("user"):
                self.add_error("user", "A client-credentials application acts as a user: pick it.")
            if cleaned.get("client_type") != AbstractApplication.CLIENT_CONFIDENTIAL:
                self.add_error(
                    "client_type", "Client credentials need a confidential client (a secret)."
                )
        return cleaned


class ApplicationAdmin(BoundedSearchAdminMixin, BaseApplicationAdmin):
    form = ApplicationAdminForm
    list_display = ("name", "client_id", "user", "client_type", "authorization_grant_type")
    list_filter = ("client_type", "authorization_grant_type")
    list_select_related = ("user",)
    search_fields = ("name", "=client_id")
    readonly_fields = ("client_id", "created", "updated")
    actions = ["rotate_secret", "revoke_tokens"]

    def get_fields(self, request, obj=None):
        fields = list(ApplicationAdminForm.Meta.fields)
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.hash_client_secret = True
            request._oauth_client_secret = obj.client_secret  # generated, not hashed yet
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        secret = getattr(request, "_oauth_client_secret", None)
        if not secret:
            return super().response_add(request, obj, post_url_continue)
        return self._secrets_page(request, f"Application “{obj.name}” created", [(obj, secret)])

    def _secrets_page(self, request, title, secrets):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "secrets": secrets,
        }
        response = TemplateResponse(request, SECRET_TEMPLATE, context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Rotate the client secret (shown once)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        secrets = [
            (application, oauth_application_rotate_secret(application=application))
            for application in queryset.order_by("pk")
        ]
        return self._secrets_page(request, "New client secrets", secrets)

    @admin.action(
        description="Revoke every token (access, refresh, pending codes)", permissions=["change"]
    )
    def revoke_tokens(self, request, queryset):
        totals = [0, 0]
        for application in queryset:
            revoked = oauth_application_revoke_tokens(application=application)
            totals[0] += revoked.access_tokens
            totals[1] += revoked.refresh_tokens
        self.message_user(
            request,
            f"Revoked {totals[0]} access token(s) and {totals[1]} refresh token(s) of "
            f"{len(queryset)} application(s): they are refused from now on.",
            messages.SUCCESS,
        )
