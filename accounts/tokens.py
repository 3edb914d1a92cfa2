"""JWTs that die with their user's credentials.

Every token we issue carries a ``stamp`` claim: an HMAC (keyed by SECRET_KEY) of the user's
password hash and their token generation (:class:`accounts.models.TokenGeneration`). The stamp is
checked on every use of an access token (``accounts.authentication``), on every refresh and on
verify. So:

- a password change (any change of the stored hash: ``set_password``, the admin, the
  ``changepassword`` command, even a raw UPDATE) ends every token issued before it;
- "log out everywhere" (``POST /api/auth/logout-all/``, the admin's user action) adds one to the
  generation, which ends them too, and the sessions (``accounts.middleware``);
- deactivation ends them through the ``is_active`` check (access, refresh and sessions).

In the process that made the change this is immediate; other processes see it within
``JWT_USER_CACHE_SECONDS`` (the per-process user cache), at most. A token without a stamp (one
issued before this existed) is refused: its user logs in again.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils.crypto import salted_hmac
from rest_framework import exceptions
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, UntypedToken

STAMP_CLAIM = "stamp"
_STAMP_ATTR = "_token_stamp"


def token_generation(user) -> int:
    try:
        return user.token_generation.value
    except ObjectDoesNotExist:
        return 0


def token_stamp(user) -> str:
    """The stamp of the user's current credentials (kept on the user object once computed)."""
    stamp = getattr(user, _STAMP_ATTR, None)
    if stamp is None:
        stamp = salted_hmac(
            "accounts.tokens.stamp",
            f"{user.password}|{token_generation(user)}",
            algorithm="sha256",
        ).hexdigest()[:32]
        setattr(user, _STAMP_ATTR, stamp)
    return stamp


def stamp_matches(token, user) -> bool:
    stamp = token.get(STAMP_CLAIM)
    return isinstance(stamp, str) and hmac.compare_digest(stamp, token_stamp(user))


def user_for_token(user_id):
    """The user a token names, with their token generation (one query), or None."""
    return (
        get_user_model()
        .objects.select_related("token_generation")
        .filter(**{api_settings.USER_ID_FIELD: user_id})
        .first()
    )


class StampedAccessToken(AccessToken):
    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[STAMP_CLAIM] = token_stamp(user)
        return token


class StampedRefreshToken(RefreshToken):
    access_token_class = StampedAccessToken  # the stamp is copied into each access token

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[STAMP_CLAIM] = token_stamp(user)
        return token


def access_token_for(user) -> str:
    """A signed access token for ``user`` (tests, scripts)."""
    return str(StampedAccessToken.for_user(user))


def refresh_token_for(user) -> StampedRefreshToken:
    return StampedRefreshToken.for_user(user)


def revoked_error() -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(
        "This token was revoked (password changed, account deactivated or logged out "
        "everywhere); log in again.",
        code="token_revoked",
    )


class StampedTokenObtainPairSerializer(TokenObtainPairSerializer):
    """``POST /api/auth/token/``: issues stamped tokens."""

    token_class = StampedRefreshToken


class StampedTokenRefreshSerializer(TokenRefreshSerializer):
    """``POST /api/auth/token/refresh/``: a refresh token whose user is gone, inactive, or whose
    credentials changed since it was issued mints nothing (401 ``token_revoked``)."""

    token_class = StampedRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])  # bad signature or expired: 401
        user = user_for_token(refresh.payload.get(api_settings.USER_ID_CLAIM))
        if (
            user is None
            or not api_settings.USER_AUTHENTICATION_RULE(user)
            or not stamp_matches(refresh, user)
        ):
            raise revoked_error()
        return super().validate(attrs)


class StampedTokenVerifySerializer(TokenVerifySerializer):
    """``POST /api/auth/token/verify/``: a revoked token is not valid either."""

    def validate(self, attrs: dict[str, Any]) -> dict[Any, Any]:
        data = super().validate(attrs)
        token = UntypedToken(attrs["token"])
        user = user_for_token(token.payload.get(api_settings.USER_ID_CLAIM))
        if user is None or not user.is_active or not stamp_matches(token, user):
            raise revoked_error()
        return data
