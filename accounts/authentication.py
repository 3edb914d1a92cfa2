"""JWT authentication with the token's user kept in the process for a few seconds.

simplejwt's :class:`JWTAuthentication` loads the user named by the token with one query on every
request (and, the first time in a request, Django's connection health check runs a ``SELECT 1``
before it). On a cached analytics answer that is most of the request's time. Here the user, with
their permission set, is kept in the process for ``JWT_USER_CACHE_SECONDS`` (default 30; 0 = off):

- a user deactivated, deleted or given other roles is seen within that time (at once in the
  process that made the change: saving or deleting a user, or changing their groups, drops the
  entry here);
- each request gets its own copy, so nothing one request sets on its user leaks into another.

The token's signature check (PyJWT, HMAC-SHA256) is remembered too, per token string, until
the sooner of its expiry and ``JWT_USER_CACHE_SECONDS``: a token seen before is not decoded and
verified again (an expired one is refused as before).

An access token dies with its user's credentials (``accounts.tokens``): its ``stamp`` claim
must match the user's password hash and token generation, checked on every request against the
(cached) user. So a password change, deactivation or "log out everywhere" ends it at once in the
process that made the change and within ``JWT_USER_CACHE_SECONDS`` in the others.

The ``Bearer`` scheme is matched in any case (RFC 9110: auth schemes are case-insensitive;
simplejwt compares it byte for byte).
"""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from accounts.tokens import revoked_error, stamp_matches, token_stamp, user_for_token

MAX_CACHED_USERS = 10_000

_users: dict[object, tuple[float, object]] = {}
_tokens: dict[bytes, tuple[float, object]] = {}
_lock = threading.Lock()


def cached_users_clear() -> None:
    with _lock:
        _users.clear()
        _tokens.clear()


def cached_user_forget(user_id) -> None:
    with _lock:
        _users.pop(user_id, None)
        _users.pop(str(user_id), None)


_HEADER_TYPES = {
    scheme.lower().encode()
    for scheme in (
        api_settings.AUTH_HEADER_TYPES
        if isinstance(api_settings.AUTH_HEADER_TYPES, list | tuple)
        else (api_settings.AUTH_HEADER_TYPES,)
    )
}


class CachedUserJWTAuthentication(JWTAuthentication):
    def get_raw_token(self, header: bytes):
        """simplejwt's, with the scheme (``Bearer``) matched in any case."""
        parts = header.split()
        if not parts or parts[0].lower() not in _HEADER_TYPES:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(
                _("Authorization header must contain two space-delimited values"),
                code="bad_authorization_header",
            )
        return parts[1]

    def get_validated_token(self, raw_token):
        ttl = settings.JWT_USER_CACHE_SECONDS
        if ttl <= 0:
            return super().get_validated_token(raw_token)
        now = time.time()  # wall clock: compared with the token's "exp"
        entry = _tokens.get(raw_token)
        if entry is not None and entry[0] > now:
            return entry[1]
        token = super().get_validated_token(raw_token)  # bad or expired: InvalidToken
        expires = min(now + ttl, float(token.get("exp", now)))
        with _lock:
            if len(_tokens) >= MAX_CACHED_USERS:
                _tokens.clear()
            _tokens[raw_token] = (expires, token)
        return token

    def get_user(self, validated_token):
        user = self._cached_user(validated_token)
        if not stamp_matches(validated_token, user):
            raise revoked_error()
        return user

    def _load_user(self, validated_token):
        """simplejwt's ``get_user``, with the user's token generation in the same query."""
        if api_settings.USER_ID_CLAIM not in validated_token:
            raise InvalidToken(_("Token contained no recognizable user identification"))
        user = user_for_token(validated_token[api_settings.USER_ID_CLAIM])
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        token_stamp(user)  # computed once, kept on the user (and its copies)
        return user

    def _cached_user(self, validated_token):
        ttl = settings.JWT_USER_CACHE_SECONDS
        if ttl <= 0:
            return self._load_user(validated_token)
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        now = time.monotonic()
        entry = _users.get(user_id)
        if entry is not None and entry[0] > now:
            return copy.copy(entry[1])
        user = self._load_user(validated_token)  # unknown or inactive: AuthenticationFailed
        if settings.PERMISSION_CACHE_SECONDS > 0:
            user.get_all_permissions()  # kept on the user (``_perm_cache``), copied with it
        with _lock:
            if len(_users) >= MAX_CACHED_USERS:
                _users.clear()
            _users[user_id] = (now + ttl, user)
        return copy.copy(user)


class CachedUserJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme: the same bearer JWT as simplejwt's (``jwtAuth``)."""

    target_class = "accounts.authentication.CachedUserJWTAuthentication"


def _forget_user(sender, instance, **kwargs):
    cached_user_forget(instance.pk)


def _forget_group_members(sender, instance, action, reverse, model, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if not reverse:  # user.groups.add(...): ``instance`` is the user
        cached_user_forget(instance.pk)
    elif pk_set:  # group.user_set.add(...): the users are in ``pk_set``
        for user_id in pk_set:
            cached_user_forget(user_id)
    else:  # group.user_set.clear(): which users is not said
        cached_users_clear()


def connect_signals() -> None:
    user_model = get_user_model()
    post_save.connect(_forget_user, sender=user_model, dispatch_uid="jwt_user_cache_save")
    post_delete.connect(_forget_user, sender=user_model, dispatch_uid="jwt_user_cache_delete")
    from accounts.models import TokenGeneration  # its pk is the user's

    post_save.connect(_forget_user, sender=TokenGeneration, dispatch_uid="jwt_user_cache_gen")
    m2m_changed.connect(
        _forget_group_members, sender=user_model.groups.through, dispatch_uid="jwt_user_groups"
    )
