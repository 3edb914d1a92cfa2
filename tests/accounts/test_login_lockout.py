"""Login lockout (accounts/lockout.py) on every login form, with one shared count: the admin's
``/admin/login/``, the browsable API's ``/api-auth/login/`` and ``POST /api/auth/token/``.
Counted in the real Redis; logins allowed (not counted) when Redis is down."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import make_user
from tests.test_health import closed_port, redis_cache_at

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"  # tests.factories.make_user's
LOCKED = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def low_limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 6
    settings.LOGIN_IP_FAILURE_LIMIT = 20
    settings.LOGIN_LOCKOUT_SECONDS = 600


@pytest.fixture
def staff():
    return make_user(username="victim", is_staff=True, is_superuser=True)


def admin_login(client, username, password, ip="10.1.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def api_login(client, username, password, ip="10.1.0.1"):
    return client.post(
        "/api-auth/login/?next=/api/",
        {"username": username, "password": password, "next": "/api/"},
        REMOTE_ADDR=ip,
    )


def token_login(username, password, ip="10.1.0.1"):
    return APIClient().post(
        reverse("token_obtain_pair"),
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def logged_in(client) -> bool:
    return SESSION_KEY in client.session


@pytest.mark.parametrize("login", [admin_login, api_login], ids=["admin", "api-auth"])
def test_a_login_form_locks_out_after_the_limit_even_the_right_password(staff, login):
    client = Client()
    for _ in range(3):
        response = login(client, "victim", "wrong")
        assert response.status_code == 200 and not logged_in(client)

    response = login(client, "victim", PASSWORD)

    assert response.status_code == 200  # the form again, not the redirect of a login
    assert not logged_in(client)
    page = response.content.decode()
    assert LOCKED in page and "Try again in 10 minutes" in page
    # Another client is not locked out by this one: its right password logs in.
    other = Client()
    assert login(other, "victim", PASSWORD, ip="10.1.0.2").status_code == 302
    assert logged_in(other)


def test_the_token_endpoint_answers_429_in_the_error_shape_with_retry_after(staff):
    for _ in range(2):
        assert token_login("victim", "wrong").status_code == 401
    # The failure that reaches the limit already answers the lockout.
    assert token_login("victim", "wrong").status_code == 429

    response = token_login("victim", PASSWORD)

    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 600
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "throttled"
    assert LOCKED in body["error"]["message"]
    assert "access" not in body


def test_every_login_form_shares_one_count(staff):
    browser = Client()
    assert admin_login(browser, "victim", "wrong").status_code == 200
    assert api_login(browser, "victim", "wrong").status_code == 200
    # The third failure, spread over three forms, locks all three.
    assert token_login("victim", "wrong").status_code == 429
    assert token_login("victim", PASSWORD).status_code == 429
    assert LOCKED in admin_login(browser, "victim", PASSWORD).content.decode()
    assert LOCKED in api_login(browser, "victim", PASSWORD).content.decode()
    assert not logged_in(browser)


def test_a_success_clears_the_count(staff):
    client = Client()
    for _ in range(2):
        admin_login(client, "victim", "wrong")
    assert admin_login(client, "victim", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        admin_login(client, "victim", "wrong")
    assert admin_login(client, "victim", PASSWORD).status_code == 302


def test_one_client_cannot_lock_the_account_out_for_everyone(staff):
    for _ in range(30):
        token_login("victim", "wrong", ip="10.9.9.9")
    assert token_login("victim", PASSWORD, ip="10.9.9.9").status_code == 429
    # Attempts are not counted while the pair is locked: the owner, elsewhere, logs in.
    assert token_login("victim", PASSWORD, ip="10.1.0.7").status_code == 200


def test_guessing_spread_over_many_clients_locks_the_account(staff):
    for ip in ("10.2.0.1", "10.2.0.2", "10.2.0.3"):
        for _ in range(2):  # under the pair's limit of 3 each
            token_login("victim", "wrong", ip=ip)
    # Six failures for the username: locked for everyone, a new client too.
    response = token_login("victim", PASSWORD, ip="10.2.0.99")
    assert response.status_code == 429
    assert LOCKED in admin_login(Client(), "victim", PASSWORD, ip="10.2.0.98").content.decode()


def test_one_password_tried_on_many_accounts_locks_the_client(settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 4
    users = [make_user(username=f"spray{n}") for n in range(5)]
    for user in users[:3]:
        assert token_login(user.username, "Summer2026!", ip="10.3.0.1").status_code == 401
    assert token_login(users[3].username, "Summer2026!", ip="10.3.0.1").status_code == 429
    # Now any username from that client is refused, the right password too ...
    assert token_login(users[4].username, PASSWORD, ip="10.3.0.1").status_code == 429
    # ... but not from another client.
    assert token_login(users[4].username, PASSWORD, ip="10.3.0.2").status_code == 200


def test_usernames_are_counted_in_any_case(staff):
    for username in ("Victim", "VICTIM", "victim"):
        token_login(username, "wrong")
    assert token_login("victim", PASSWORD).status_code == 429


def test_a_limit_of_zero_turns_that_count_off(settings, staff):
    settings.LOGIN_FAILURE_LIMIT = 0
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 0
    settings.LOGIN_IP_FAILURE_LIMIT = 0
    client = Client()
    for _ in range(10):
        admin_login(client, "victim", "wrong")
    assert admin_login(client, "victim", PASSWORD).status_code == 302


@pytest.mark.parametrize("ignore_exceptions", [True, False])
def test_with_redis_down_logins_fail_open(staff, ignore_exceptions):
    caches = redis_cache_at(closed_port())
    caches["default"]["OPTIONS"]["IGNORE_EXCEPTIONS"] = ignore_exceptions
    with override_settings(CACHES=caches, PERMISSION_CACHE_SECONDS=0):
        client = Client()
        for _ in range(10):
            assert admin_login(client, "victim", "wrong").status_code == 200
        response = admin_login(client, "victim", PASSWORD)
        assert response.status_code == 302 and logged_in(client)
        for _ in range(5):
            assert token_login("victim", "wrong", ip="10.4.0.1").status_code == 401
        assert token_login("victim", PASSWORD, ip="10.4.0.1").status_code == 200
