"""Writes on OAuth2 applications: a new client secret, every token revoked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, RefreshToken


def oauth_application_rotate_secret(*, application: Application) -> str:
    """Give ``application`` a new client secret and return it in clear: it is stored hashed
    only and cannot be shown again. The old secret is refused from now on; tokens already
    issued live on (revoke them too if the old secret leaked)."""
    secret: str = generate_client_secret()
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        locked.client_secret = secret
        locked.hash_client_secret = True
        locked.save(update_fields=["client_secret", "hash_client_secret", "updated"])
    application.refresh_from_db(fields=["client_secret", "hash_client_secret", "updated"])
    return secret


@dataclass(frozen=True)
class Revoked:
    access_tokens: int
    refresh_tokens: int
    grants: int


def _revoke(**owner: Any) -> Revoked:
    with transaction.atomic():
        refresh = RefreshToken.objects.filter(revoked__isnull=True, **owner)
        refresh_count = refresh.update(revoked=timezone.now(), access_token=None)
        access_count, _ = AccessToken.objects.filter(**owner).delete()
        grant_count, _ = Grant.objects.filter(**owner).delete()
    return Revoked(access_count, refresh_count, grant_count)


def oauth_application_revoke_tokens(*, application: Application) -> Revoked:
    """End every access token, refresh token and pending authorization code of
    ``application`` at once (the authentication reads tokens from the database on every
    request: the next request with any of them is a 401)."""
    return _revoke(application=application)


def oauth_user_revoke_tokens(*, user_id: int) -> Revoked:
    """End every OAuth2 token and pending code acting as or for the user, in every
    application ("log out everywhere"). The applications stay: they may get new tokens (a
    person's, only through the consent page again)."""
    return _revoke(user_id=user_id)
