"""The user a row records as its author (``created_by``, ``actor``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias, cast

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser, User

# Who a service acts for: a request's user (signed in or anonymous), or nobody (a command, a
# task). Services record it with ``recorded_user``.
Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | None"


def recorded_user(user: Actor) -> User | None:
    """``user`` when it is a signed-in user, else None (nobody, or an anonymous request).

    The project's user model is django.contrib.auth's ``User`` (no ``AUTH_USER_MODEL``): the
    foreign keys to it take the user a request or a service was given."""
    if user is None or not user.is_authenticated:
        return None
    return cast("User", user)
