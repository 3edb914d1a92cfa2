"""Login forms that say so when a login is locked out (``accounts.lockout``), instead of
Django's "Please enter a correct username and password"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts.lockout import locked_for, lockout_message

if TYPE_CHECKING:
    _AuthenticationForm = AuthenticationForm
else:
    _AuthenticationForm = object


class LockoutMessageMixin(_AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            seconds = locked_for(self.request)
            if seconds:
                raise forms.ValidationError(lockout_message(seconds), code="locked_out") from None
            raise


class LockoutAuthenticationForm(LockoutMessageMixin, AuthenticationForm):
    """The browsable API's login (``/api-auth/login/``)."""


class LockoutAdminAuthenticationForm(LockoutMessageMixin, AdminAuthenticationForm):
    """The admin's login (``/admin/login/``)."""
