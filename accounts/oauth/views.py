"""``/o/``: django-oauth-toolkit's endpoints, ours in three ways.

- ``authorize/``: the consent page; a person who is not logged in goes to our login page (the
  browsable API's, with the lockout), not the admin's (which only staff may use).
- ``token/``, ``revoke_token/``, ``introspect/`` check a client secret (a slow password hash):
  each is limited per client IP by the ``oauth_token`` rate (THROTTLE_OAUTH_TOKEN_RATE), over
  it 429 with Retry-After, in OAuth2's error shape.
- No device flow, no self-service application pages: applications are registered in the admin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.urls import path, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views

from core.api.throttling import ScopedRateThrottle

if TYPE_CHECKING:
    from django.views import View as _View
else:
    _View = object


def _oauth_error(status: int, error: str, description: str, **headers: str) -> HttpResponse:
    body = json.dumps({"error": error, "error_description": description})
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    for name, value in headers.items():
        response[name] = value
    return response


class ThrottledClientAuthMixin(_View):
    """The ``oauth_token`` rate per client IP, before any client secret is hashed."""

    throttle_scope = "oauth_token"

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            throttle = ScopedRateThrottle()
            # The throttle reads the view's throttle_scope only (any view will do).
            if not throttle.allow_request(request, self):  # type: ignore[arg-type]
                wait = throttle.wait()
                seconds = max(1, int(wait or 1))
                return _oauth_error(
                    429,
                    "too_many_requests",
                    f"Too many requests from this address; retry in {seconds} s.",
                    **{"Retry-After": str(seconds)},
                )
        return super().dispatch(request, *args, **kwargs)


class AuthorizationView(dot_views.AuthorizationView):
    login_url = reverse_lazy("rest_framework:login")


# Called by applications, not browsers: no CSRF token, no login (as django-oauth-toolkit's own,
# whose decorated dispatch this class's overrides).
@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class TokenView(ThrottledClientAuthMixin, dot_views.TokenView):
    def post(self, request, *args, **kwargs):
        if request.POST.get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code":
            return _oauth_error(400, "unsupported_grant_type", "The device flow is not offered.")
        return super().post(request, *args, **kwargs)


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class RevokeTokenView(ThrottledClientAuthMixin, dot_views.RevokeTokenView):
    pass


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class IntrospectTokenView(ThrottledClientAuthMixin, dot_views.IntrospectTokenView):
    pass


app_name = "oauth2_provider"  # django-oauth-toolkit reverses "oauth2_provider:authorize"...

urlpatterns = [
    path("authorize/", AuthorizationView.as_view(), name="authorize"),
    path("token/", TokenView.as_view(), name="token"),
    path("revoke_token/", RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", IntrospectTokenView.as_view(), name="introspect"),
]
