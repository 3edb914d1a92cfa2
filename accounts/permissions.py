"""API permissions: Django model permissions, granted through the role groups.

Roles (groups created by ``accounts/migrations/0002_roles.py``):

- ``analyst``: read everything;
- ``sales``: analyst + record sales (and their customers) and cancel sales;
- ``manager``: everything.

Reading (GET) needs the model's ``view`` permission, unlike DRF's default which lets any
authenticated user read. A viewset maps extra actions to permissions with
``action_permissions = {"cancel": ["sales.cancel_sale"]}``.
"""

from rest_framework import permissions


class RoleModelPermissions(permissions.DjangoModelPermissions):
    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        extra = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if extra is not None:
            return request.user.has_perms(extra)
        return super().has_permission(request, view)


class PublicReadRoleModelPermissions(RoleModelPermissions):
    """Anyone may read (the catalog is public); writes need the model permission."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return super().has_permission(request, view)
