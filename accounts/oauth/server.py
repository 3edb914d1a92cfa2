"""The authorization server: which grants exist, and who a token acts as.

- Grants: authorization code (PKCE required, ``PKCE_REQUIRED``), client credentials and refresh
  tokens (rotated, ``ROTATE_REFRESH_TOKEN``; a reused one ends its family,
  ``REFRESH_TOKEN_REUSE_PROTECTION``). The implicit, password and device grants do not exist
  here: the server does not know them (oauthlib answers ``unsupported_grant_type`` /
  ``unsupported_response_type``), whatever an application's row says.
- A client-credentials token acts as the user the application is registered to (django-oauth-
  toolkit leaves its user empty): that user's role bounds the application. An application
  without a user gets no such token.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import AbstractApplication
from oauth2_provider.oauth2_validators import OAuth2Validator as BaseOAuth2Validator
from oauthlib.oauth2 import Server

# The grant types an application may be registered with (the admin offers only these).
ALLOWED_GRANT_TYPES = (
    AbstractApplication.GRANT_AUTHORIZATION_CODE,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS,
)
_TOKEN_GRANTS = ("authorization_code", "client_credentials", "refresh_token")


class OAuth2Server(Server):
    """oauthlib's server with only our grants: ``response_type=code`` at /o/authorize/ and the
    authorization_code, client_credentials and refresh_token grants at /o/token/."""

    _grant_types: dict[str, Any]  # oauthlib's grant handlers by grant type (untyped library)

    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        self._response_types = {"code": self.auth_grant}
        self._grant_types = {name: self._grant_types[name] for name in _TOKEN_GRANTS}


class OAuth2Validator(BaseOAuth2Validator):
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        if grant_type not in _TOKEN_GRANTS:
            return False
        if grant_type == "client_credentials" and client.user_id is None:
            return False  # whose role would bound it?
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        if request.grant_type == "client_credentials":
            request.user = request.client.user
        return super()._create_access_token(expires, request, token, source_refresh_token)
