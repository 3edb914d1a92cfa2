"""Authentication backend: Django's ModelBackend with each user's permission set cached.

Every API request checks model permissions (the roles). Django loads them with two joined
queries per request; here they are cached (Redis in real mode) for ``PERMISSION_CACHE_SECONDS``
(default 60), so a role granted or revoked takes effect within that time. ``0`` turns the cache
off.
"""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache


def permission_cache_key(user_id: int) -> str:
    return f"auth:perms:u{user_id}"


class CachedPermissionsModelBackend(ModelBackend):
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
