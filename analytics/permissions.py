"""Who may read analytics: users with ``analytics.view_analytics`` (every role: analyst, sales,
manager; given by the analytics migration), superusers."""

from rest_framework import permissions

VIEW_ANALYTICS = "analytics.view_analytics"


class CanViewAnalytics(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(VIEW_ANALYTICS))
