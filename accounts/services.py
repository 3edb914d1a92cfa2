"""Writes for API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from accounts.models import ApiKey


def hash_api_key_secret(secret: str) -> str:
    """SHA-256 of the secret. The secret is 256 random bits, so a fast hash is enough (no
    dictionary to guess from) and checking a key on every request stays cheap."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, name: str, created_by: AbstractBaseUser | None = None) -> tuple[ApiKey, str]:
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
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
    )
    return api_key, f"{prefix}.{secret}"
