"""DRF authentication by an OAuth2 access token (``Authorization: Bearer <token>``), next to
JWT, sessions and API keys.

- Only a bearer token without a dot is looked at (django-oauth-toolkit's tokens are
  alphanumeric; a JWT has two dots): a JWT request costs no query here and goes on to the JWT
  authentication. A token found neither valid nor known is a 401 at once.
- The token is read from the database on every request (no cache): a revoked token, or one
  whose user was deactivated, is refused from the next request on.
- The scope the endpoint needs (``oauth_scopes`` on the view, :mod:`accounts.oauth.scopes`)
  is checked here, for every view this authentication runs on, so an endpoint that does not
  say is closed to tokens: 403 ``insufficient_scope`` naming the scope missing. The role
  permissions of the view still apply after it.
- The application's name goes on every log line of the request, and one line says which
  application's token was used (``accounts.oauth``).
"""

from __future__ import annotations

import logging

from oauth2_provider.contrib.rest_framework import OAuth2Authentication as BaseOAuth2Authentication
from oauth2_provider.oauth2_backends import get_oauthlib_core
from rest_framework import exceptions

from accounts.oauth.scopes import required_scopes
from core.ops.request_id import set_request_client

logger = logging.getLogger("accounts.oauth")


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


def oauth_bearer_token(request) -> str | None:
    """The OAuth2 token of ``Authorization: Bearer <token>``, or None (no header, another
    scheme, or a JWT)."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer" or "." in parts[1]:
        return None
    return parts[1]


def check_scope(view, request, token) -> None:
    """Raise :class:`InsufficientScope` unless ``token`` has a scope the endpoint needs."""
    needed = required_scopes(view, request.method) if view is not None else None
    path = request.path
    if needed is None:
        raise InsufficientScope(
            f"{request.method} {path} is not open to OAuth2 applications: use a JWT or a session."
        )
    granted = set(token.scope.split())
    if not granted.intersection(needed):
        wanted = " or ".join(repr(scope) for scope in needed)
        raise InsufficientScope(
            f"The token lacks the scope {wanted} that {request.method} {path} needs "
            f"(it has: {', '.join(sorted(granted)) or 'none'})."
        )


class OAuth2Authentication(BaseOAuth2Authentication):
    def authenticate(self, request):
        if oauth_bearer_token(request) is None:
            return None
        # oauthlib's resource check on the header alone: django-oauth-toolkit's own would read
        # (parse) the request body first, before anything is authenticated.
        valid, checked = get_oauthlib_core().server.verify_request(
            request.build_absolute_uri(),
            request.method,
            None,
            {"Authorization": request.META["HTTP_AUTHORIZATION"]},
            scopes=[],
        )
        if not valid:
            request.oauth2_error = getattr(checked, "oauth2_error", {})
            raise exceptions.AuthenticationFailed(  # the JWT's code: one for "bad bearer token"
                "The token is neither a valid JWT nor a live OAuth2 access token (invalid, "
                "expired or revoked).",
                code="token_not_valid",
            )
        user, token = checked.user, checked.access_token
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(
                "The OAuth2 access token's user is inactive.", code="user_inactive"
            )
        application = token.application
        set_request_client(application.name or application.client_id)
        logger.info(
            "OAuth2 token of application %r (id %s) used by %s: %s %s",
            application.name,
            application.pk,
            user.get_username(),
            request.method,
            request.path,
        )
        check_scope(request.parser_context.get("view"), request, token)
        return user, token


from accounts.oauth import schema  # noqa: E402, F401  (registers the OpenAPI scheme)
