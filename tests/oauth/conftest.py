"""OAuth2 test helpers: applications and tokens made in the database, and the HTTP token
endpoint."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, set_token_value


def make_application(*, user=None, grant="client-credentials", client_type="confidential", **extra):
    """An application and its client secret in clear (stored hashed)."""
    secret = secrets.token_urlsafe(32)
    application = Application.objects.create(
        name=extra.pop("name", f"App {secrets.token_hex(3)}"),
        user=user,
        client_type=client_type,
        authorization_grant_type=grant,
        client_secret=secret,
        **extra,
    )
    return application, secret


def make_token(application, *, scope: str, user=None) -> str:
    """An access token in the database, as the token endpoint would store it."""
    raw = secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    token = AccessToken(
        user=user if user is not None else application.user,
        application=application,
        scope=scope,
        expires=timezone.now() + timedelta(hours=1),
    )
    set_token_value(token, raw)
    token.save()
    return raw


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _fast_hashes(fast_password_hasher):
    """Client secrets are hashed with the password hashers: the cheap one in tests."""
