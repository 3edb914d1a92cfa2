"""The demo logins: a superuser and one staff user per role group."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from demo.options import DemoDataError

DEMO_USERS = (
    # username (also the password), superuser, group
    ("admin", True, None),
    ("analyst", False, "analyst"),
    ("sales", False, "sales"),
    ("manager", False, "manager"),
)


def demo_users_ensure() -> list[tuple[str, str, str]]:
    """Create or refresh the demo logins; returns ``[(username, password, role), ...]``.

    ``admin`` is a superuser; ``analyst``, ``sales`` and ``manager`` are staff in the group of
    the same name (created by the accounts migrations). Passwords are reset to the username.
    """
    User = get_user_model()
    groups = {g.name: g for g in Group.objects.filter(name__in=[g for *_, g in DEMO_USERS if g])}
    missing = sorted({g for *_, g in DEMO_USERS if g} - set(groups))
    if missing:
        raise DemoDataError(
            f"Missing role group(s) {', '.join(missing)}; run `python manage.py migrate` first."
        )
    logins = []
    with transaction.atomic():
        for username, superuser, group in DEMO_USERS:
            user = User.objects.filter(username=username).first() or User(username=username)
            user.email = user.email or f"{username}@example.com"
            user.is_staff = True
            user.is_superuser = superuser
            user.is_active = True
            user.set_password(username)
            user.save()
            user.groups.set([groups[group]] if group else [])
            logins.append((username, username, "superuser" if superuser else f"group {group}"))
    return logins
