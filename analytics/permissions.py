"""Who may read analytics: users with ``analytics.view_analytics`` (every role: analyst, sales,
manager; given by the analytics migration), superusers; an OAuth2 token also needs one of the
scopes of the analytics endpoints (``ANALYTICS_OAUTH_SCOPES``)."""

from __future__ import annotations

from django.http import HttpRequest
from oauth2_provider.models import get_access_token_model
from rest_framework import permissions
from rest_framework.request import Request

from accounts.oauth.scopes import ANALYTICS, READ

VIEW_ANALYTICS = "analytics.view_analytics"
# The scopes of which a token needs one to read analytics: ``/api/analytics/`` (its views'
# ``oauth_scopes``) and the analytics figures other endpoints carry (a customer's lifetime).
ANALYTICS_OAUTH_SCOPES = (ANALYTICS, READ)


def may_view_analytics(request: Request | HttpRequest) -> bool:
    """Whether this request (an API request or an admin page's) may see analytics figures
    wherever they appear: the user has ``VIEW_ANALYTICS`` and, with an OAuth2 token, the token
    has a scope of ``ANALYTICS_OAUTH_SCOPES``: exactly who may read ``/api/analytics/``."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated and user.has_perm(VIEW_ANALYTICS)):
        return False
    token = getattr(request, "auth", None)
    if isinstance(token, get_access_token_model()):
        return not set(token.scope.split()).isdisjoint(ANALYTICS_OAUTH_SCOPES)
    return True


class CanViewAnalytics(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(VIEW_ANALYTICS))
