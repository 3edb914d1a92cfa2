"""The OpenAPI ``oauth2`` security scheme: flows and scopes from ``SPECTACULAR_SETTINGS``
(drf-spectacular's django-oauth-toolkit extension), and each operation's scopes from the
view's ``oauth_scopes`` (an operation closed to tokens lists no oauth2 requirement)."""

from __future__ import annotations

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme

from accounts.oauth.scopes import required_scopes


class OAuth2Scheme(DjangoOAuthToolkitScheme):
    target_class = "accounts.oauth.authentication.OAuth2Authentication"
    name = "oauth2"

    def get_security_requirement(self, auto_schema):
        needed = required_scopes(auto_schema.view, auto_schema.method)
        if needed is None:
            return None
        return [{self.name: [scope]} for scope in needed]
