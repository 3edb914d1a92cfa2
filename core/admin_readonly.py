"""Read-only admins: a ``ModelAdmin`` or inline that shows rows but adds, changes and deletes
none (the rows are written only by services)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """No add, change or delete permission for anyone; put it before ``admin.ModelAdmin`` (or
    an inline class). ``obj`` is optional on add: inlines pass it, model admins do not."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
