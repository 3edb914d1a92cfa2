"""Tokens and sessions die with their user's credentials (accounts/tokens.py): a password
change, deactivation or "log out everywhere" ends every access token, refresh token and session
issued before it (in this process at once; in others within JWT_USER_CACHE_SECONDS)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.api import assert_error
from tests.factories import make_customer, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"  # tests.factories.make_user's


def _login(user, password=PASSWORD) -> dict:
    response = APIClient().post(
        reverse("token_obtain_pair"),
        {"username": user.username, "password": password},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def _get(access: str):
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/customers/")


def _refresh(refresh: str):
    return APIClient().post(reverse("token_refresh"), {"refresh": refresh}, format="json")


def _verify(token: str):
    return APIClient().post(reverse("token_verify"), {"token": token}, format="json")


@pytest.fixture
def user():
    make_customer()
    return make_user(role="analyst")


def test_tokens_work_until_something_changes(user):
    tokens = _login(user)
    assert _get(tokens["access"]).status_code == 200
    assert _get(tokens["access"]).status_code == 200  # the cached user too
    refreshed = _refresh(tokens["refresh"])
    assert refreshed.status_code == 200
    assert _get(refreshed.json()["access"]).status_code == 200
    assert _verify(tokens["access"]).status_code == 200


def test_a_password_change_ends_every_token_issued_before(user):
    tokens = _login(user)
    assert _get(tokens["access"]).status_code == 200  # the user is now cached in the process

    user.set_password("a-New-password-456")
    user.save()

    assert_error(_get(tokens["access"]), 401, "token_revoked")
    assert_error(_refresh(tokens["refresh"]), 401, "token_revoked")
    assert_error(_verify(tokens["access"]), 401, "token_revoked")
    assert_error(_verify(tokens["refresh"]), 401, "token_revoked")
    # The new password gives tokens that work.
    assert _get(_login(user, "a-New-password-456")["access"]).status_code == 200


def test_a_password_changed_by_a_raw_update_ends_the_tokens_too(user):
    """No signal fires on a queryset update (e.g. another process, a script): the stamp is made
    from the stored hash, so the refresh (read from the database) is refused at once."""
    tokens = _login(user)
    user.set_password("a-New-password-456")
    get_user_model().objects.filter(pk=user.pk).update(password=user.password)

    assert_error(_refresh(tokens["refresh"]), 401, "token_revoked")
    assert_error(_get(tokens["access"]), 401, "token_revoked")


def test_deactivation_ends_access_and_refresh(user):
    tokens = _login(user)
    assert _get(tokens["access"]).status_code == 200
    user.is_active = False
    user.save()

    assert_error(_get(tokens["access"]), 401)
    assert_error(_refresh(tokens["refresh"]), 401)


def test_logout_everywhere_ends_every_token_and_not_the_next_ones(user):
    first = _login(user)
    second = _login(user)
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {first['access']}")
    assert api.get("/api/customers/").status_code == 200

    response = api.post(reverse("logout_all"))

    assert response.status_code == 204
    for tokens in (first, second):
        assert_error(_get(tokens["access"]), 401, "token_revoked")
        assert_error(_refresh(tokens["refresh"]), 401, "token_revoked")
    # Logging in again works.
    assert _get(_login(user)["access"]).status_code == 200


def test_logout_everywhere_needs_a_login():
    assert_error(APIClient().post(reverse("logout_all")), 401)


def test_logout_everywhere_ends_the_sessions_too(user):
    browser = Client()
    response = browser.post(
        "/api-auth/login/", {"username": user.username, "password": PASSWORD}, follow=False
    )
    assert response.status_code == 302
    assert browser.get("/api/customers/").status_code == 200

    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {_login(user)['access']}")
    assert api.post(reverse("logout_all")).status_code == 204

    assert browser.get("/api/customers/", HTTP_ACCEPT="application/json").status_code in (
        401,
        403,
    )
    assert "_auth_user_id" not in browser.session


def test_a_password_change_ends_the_other_sessions(user):
    """Django's own session hash: checked here so that nothing we add breaks it."""
    browser = Client()
    assert browser.login(username=user.username, password=PASSWORD)
    assert browser.get("/api/customers/").status_code == 200
    user.set_password("a-New-password-456")
    user.save()
    assert browser.get("/api/customers/").status_code in (401, 403)


def test_the_admin_action_logs_a_user_out_everywhere(user):
    tokens = _login(user)
    admin = Client()
    admin.force_login(make_user(is_superuser=True, is_staff=True))

    response = admin.post(
        reverse("admin:auth_user_changelist"),
        {"action": "logout_everywhere", "_selected_action": [user.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "logged out everywhere" in response.content.decode()
    assert_error(_get(tokens["access"]), 401, "token_revoked")
    assert_error(_refresh(tokens["refresh"]), 401, "token_revoked")


def test_a_token_without_a_stamp_is_refused(user):
    """Tokens minted without the claim (simplejwt's own classes, or issued before the stamp
    existed) are refused: there is no telling what credentials they were issued under."""
    from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

    assert_error(_get(str(AccessToken.for_user(user))), 401, "token_revoked")
    assert_error(_refresh(str(RefreshToken.for_user(user))), 401, "token_revoked")


def test_another_process_sees_the_change_within_the_user_cache_lifetime(user, settings):
    """A change made elsewhere fires no signal here (a raw UPDATE stands for another process):
    the user kept in this process is dropped after JWT_USER_CACHE_SECONDS, and then the
    token is refused."""
    import time

    settings.JWT_USER_CACHE_SECONDS = 1
    tokens = _login(user)
    assert _get(tokens["access"]).status_code == 200  # the user is now kept for 1 s
    user.set_password("a-New-password-456")
    get_user_model().objects.filter(pk=user.pk).update(password=user.password)

    time.sleep(1.2)

    assert_error(_get(tokens["access"]), 401, "token_revoked")


def test_with_rotation_the_new_refresh_token_carries_the_stamp(user, monkeypatch):
    # simplejwt's modules keep the api_settings object they imported: set it on that object.
    from rest_framework_simplejwt.serializers import api_settings as jwt_settings

    monkeypatch.setattr(jwt_settings, "ROTATE_REFRESH_TOKENS", True)
    tokens = _login(user)
    rotated = _refresh(tokens["refresh"])
    assert rotated.status_code == 200, rotated.content
    new_refresh = rotated.json()["refresh"]
    assert _refresh(new_refresh).status_code == 200

    assert (
        APIClient(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        .post(reverse("logout_all"))
        .status_code
        == 204
    )

    assert_error(_refresh(new_refresh), 401, "token_revoked")
