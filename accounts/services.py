"""Writes for API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import ApiKey, TokenGeneration
from core.users import Actor, recorded_user

LAST_USED_RESOLUTION = timedelta(minutes=1)
API_KEY_SCHEME = "Api-Key"


def hash_api_key_secret(secret: str) -> str:
    """SHA-256 of the secret. The secret is 256 random bits, so a fast hash is enough (no
    dictionary to guess from) and checking a key on every request stays cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, name: str, created_by: Actor = None) -> tuple[ApiKey, str]:
    """Create a key. Returns ``(api_key, full_key)``; the full key ``<prefix>.<secret>`` is
    never stored nor shown again, only the hash of its secret is kept."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["An API key needs a name."]})
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        hashed_secret=hash_api_key_secret(secret),
        created_by=recorded_user(created_by),
    )
    return api_key, f"{prefix}.{secret}"


def api_key_authenticate(*, header: str | None) -> ApiKey | None:
    """The active key matching an ``Authorization: Api-Key <prefix>.<secret>`` header, or
    None. The scheme is matched in any case (RFC 9110: ``API-Key``, ``api-key``...).
    ``last_used_at`` is refreshed at most once a minute (no write per request)."""
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != API_KEY_SCHEME.lower():
        return None
    prefix, _, secret = credentials.strip().partition(".")
    if not secret or not (prefix.isascii() and prefix.isalnum()):  # e.g. a NUL: PostgreSQL
        return None  # cannot compare it (a 500), and no prefix we make has one
    api_key = ApiKey.objects.filter(prefix=prefix, is_active=True).first()
    if api_key is None or not hmac.compare_digest(
        api_key.hashed_secret, hash_api_key_secret(secret)
    ):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def user_logout_everywhere(*, user_id: int) -> int:
    """End every JWT (access and refresh) and every session of the user issued before now: their
    token generation goes up by one (``accounts.tokens``). Returns the new generation. Seen at
    once in this process, within ``JWT_USER_CACHE_SECONDS`` in the others. Every OAuth2 token
    acting as or for the user is revoked too (at once everywhere: they are not cached)."""
    from accounts.authentication import cached_user_forget
    from accounts.oauth.services import oauth_user_revoke_tokens

    with transaction.atomic():
        oauth_user_revoke_tokens(user_id=user_id)
        updated = TokenGeneration.objects.filter(user_id=user_id).update(
            value=F("value") + 1, changed_at=timezone.now()
        )
        if not updated:
            try:
                with transaction.atomic():
                    TokenGeneration.objects.create(user_id=user_id, value=1)
            except IntegrityError:  # created meanwhile by a concurrent call
                TokenGeneration.objects.filter(user_id=user_id).update(
                    value=F("value") + 1, changed_at=timezone.now()
                )
        generation = TokenGeneration.objects.values_list("value", flat=True).get(user_id=user_id)
        # Now, and again once committed (a request in between could cache the old generation).
        transaction.on_commit(lambda: cached_user_forget(user_id))
    cached_user_forget(user_id)
    return generation
