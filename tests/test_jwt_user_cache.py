"""The JWT authentication keeps the token's user (and permissions) in the process for
JWT_USER_CACHE_SECONDS instead of loading them on every request (accounts/authentication.py)."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend

from accounts import authentication
from accounts.tokens import StampedAccessToken as AccessToken
from tests.api import assert_error
from tests.factories import make_customer, make_user

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")


def _get(client, path="/api/customers/"):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    sql = [query["sql"] for query in queries.captured_queries]
    return (
        response,
        sum('FROM "auth_user"' in q for q in sql),
        sum("auth_permission" in q for q in sql),
    )


def test_the_user_and_permissions_are_loaded_once_then_kept():
    user = make_user(role="analyst")
    make_customer()
    client = _client(user)
    response, user_queries, permission_queries = _get(client)
    assert response.status_code == 200
    assert user_queries == 1 and permission_queries == 2
    response, user_queries, permission_queries = _get(client)
    assert response.status_code == 200 and len(response.json()["results"]) == 1
    assert (user_queries, permission_queries) == (0, 0)


def test_zero_seconds_loads_the_user_on_every_request(settings):
    settings.JWT_USER_CACHE_SECONDS = 0
    client = _client(make_user(role="analyst"))
    for _ in range(2):
        response, user_queries, _ = _get(client)
        assert response.status_code == 200 and user_queries == 1


def test_deactivating_a_user_in_this_process_takes_effect_at_once():
    user = make_user(role="analyst")
    client = _client(user)
    assert client.get("/api/customers/").status_code == 200
    user.is_active = False
    user.save()
    assert_error(client.get("/api/customers/"), 401)


def test_a_change_behind_the_orms_back_is_seen_when_the_entry_expires(settings, monkeypatch):
    settings.JWT_USER_CACHE_SECONDS = 30
    user = make_user(role="analyst")
    client = _client(user)
    assert client.get("/api/customers/").status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)  # no signal: another process
    assert client.get("/api/customers/").status_code == 200  # still kept
    now = authentication.time.monotonic()
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now + 31)
    assert_error(client.get("/api/customers/"), 401)


def test_group_changes_take_effect_at_once_in_this_process(settings):
    settings.PERMISSION_CACHE_SECONDS = 0  # only this cache is in the way
    user = make_user()
    client = _client(user)
    assert_error(client.get("/api/customers/"), 403)
    user.groups.add(Group.objects.get(name="analyst"))
    assert client.get("/api/customers/").status_code == 200
    Group.objects.get(name="analyst").user_set.remove(user)
    assert_error(client.get("/api/customers/"), 403)


def test_a_deleted_user_is_refused():
    user = make_user(role="analyst")
    client = _client(user)
    assert client.get("/api/customers/").status_code == 200
    user.delete()
    assert_error(client.get("/api/customers/"), 401)


def test_each_request_gets_its_own_copy_of_the_user():
    user = make_user(role="analyst")
    token = AccessToken.for_user(user)
    auth = authentication.CachedUserJWTAuthentication()
    first = auth.get_user(auth.get_validated_token(str(token).encode()))
    first.marked_by_a_request = True
    second = auth.get_user(auth.get_validated_token(str(token).encode()))
    assert second.pk == user.pk and second is not first
    assert not hasattr(second, "marked_by_a_request")
    assert second.has_perm("customers.view_customer")


def test_the_schema_still_names_the_bearer_scheme():
    schema = APIClient().get("/api/schema/?format=json").json()
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"


def test_a_token_seen_before_is_not_verified_again_until_it_expires(monkeypatch):
    user = make_user(role="analyst")
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=2))
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/customers/").status_code == 200
    decoded = []
    original = TokenBackend.decode
    monkeypatch.setattr(
        TokenBackend, "decode", lambda self, *a, **k: decoded.append(1) or original(self, *a, **k)
    )
    assert client.get("/api/customers/").status_code == 200
    assert decoded == []  # remembered
    time.sleep(max(0.0, float(token["exp"]) - time.time()) + 0.2)
    error = assert_error(client.get("/api/customers/"), 401)
    assert error["code"] == "token_not_valid" and decoded == [1]


def test_a_bad_signature_is_refused_and_not_remembered():
    user = make_user(role="analyst")
    good = str(AccessToken.for_user(user))
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for _ in range(2):
        assert_error(APIClient(HTTP_AUTHORIZATION=f"Bearer {forged}").get("/api/customers/"), 401)
    assert forged.encode() not in authentication._tokens
