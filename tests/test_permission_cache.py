"""The permission set of a user is cached (PERMISSION_CACHE_SECONDS), not read per request."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.backends import permission_cache_key
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _client(user):
    """A client for a fresh copy of the user, as every real request loads it anew (the user
    object itself keeps its permissions for its lifetime)."""
    client = APIClient()
    client.force_authenticate(type(user).objects.get(pk=user.pk))
    return client


def _permission_queries(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get("/api/customers/").status_code
    return status, sum("auth_permission" in q["sql"] for q in queries.captured_queries)


def test_second_request_reads_permissions_from_the_cache():
    user = make_user(role="analyst")
    assert _permission_queries(_client(user)) == (200, 2)  # user + group permissions
    assert _permission_queries(_client(user)) == (200, 0)
    assert "customers.view_customer" in cache.get(permission_cache_key(user.pk))


def test_a_role_change_takes_effect_when_the_cached_set_expires():
    user = make_user()
    assert _client(user).get("/api/customers/").status_code == 403
    user.groups.add(Group.objects.get(name="analyst"))
    assert _client(user).get("/api/customers/").status_code == 403  # still cached
    cache.delete(permission_cache_key(user.pk))  # what the TTL does
    assert _client(user).get("/api/customers/").status_code == 200


def test_zero_seconds_turns_the_cache_off(settings):
    settings.PERMISSION_CACHE_SECONDS = 0
    user = make_user()
    assert _client(user).get("/api/customers/").status_code == 403
    user.groups.add(Group.objects.get(name="analyst"))
    assert _client(user).get("/api/customers/").status_code == 200
    assert cache.get(permission_cache_key(user.pk)) is None
