"""Authentication backend: Django's ModelBackend with each user's permission set cached.

Every API request checks model permissions (the roles). Django loads them with two joined
queries per request; here they are cached (Redis in real mode) for ``PERMISSION_CACHE_SECONDS``
(default 60), so a role granted or revoked takes effect within that time. ``0`` turns the cache
off.

It is also where every login is checked against the lockout (``accounts.lockout``): a locked
username or client is refused before the password is even checked, failures are counted and a
success clears them. And it loads a user with their token generation (``accounts.tokens``), for
the session check of ``accounts.middleware``, in the same query.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from accounts.lockout import LoginAttempt, mark_locked


def permission_cache_key(user_id: int) -> str:
    return f"auth:perms:u{user_id}"


class CachedPermissionsModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        attempt = LoginAttempt.of(request, username)
        seconds = attempt.locked_for()
        if seconds:
            mark_locked(request, seconds)
            # authenticate() stops at PermissionDenied: no other backend is asked.
            raise PermissionDenied("login locked out")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            seconds = attempt.failed()
            if seconds:
                mark_locked(request, seconds)
        else:
            attempt.succeeded()
        return user

    def get_user(self, user_id):
        user = (
            get_user_model()
            ._default_manager.select_related("token_generation")
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        ttl = settings.PERMISSION_CACHE_SECONDS
        if (
            ttl <= 0
            or obj is not None
            or not user_obj.is_active
            or user_obj.is_anonymous
            or hasattr(user_obj, "_perm_cache")
        ):
            return super().get_all_permissions(user_obj, obj)
        key = permission_cache_key(user_obj.pk)
        cached = cache.get(key)
        if cached is not None:
            user_obj._perm_cache = set(cached)
            return user_obj._perm_cache
        permissions = super().get_all_permissions(user_obj, obj)
        cache.set(key, sorted(permissions), ttl)
        return permissions
