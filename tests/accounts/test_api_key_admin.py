"""A new API key is shown once, on the page that answers its creation, and never travels in a
cookie (the ``messages`` cookie is signed, not encrypted: anyone holding it reads it)."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey
from accounts.services import hash_api_key_secret
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_user(is_superuser=True, is_staff=True))
    return client


def _all_cookie_text(client, response) -> str:
    return " ".join(
        [morsel.value for morsel in response.cookies.values()]
        + [morsel.value for morsel in client.cookies.values()]
    )


def test_the_new_key_is_on_the_answer_page_once_and_in_no_cookie_or_message(admin_client):
    response = admin_client.post(reverse("admin:accounts_apikey_add"), {"name": "Partner"})

    assert response.status_code == 200  # the page itself, no redirect carrying a message
    api_key = ApiKey.objects.get()
    page = response.content.decode()
    start = page.index(f'value="{api_key.prefix}.') + len('value="')
    full_key = page[start : page.index('"', start)]
    secret = full_key.split(".", 1)[1]
    assert api_key.hashed_secret == hash_api_key_secret(secret)
    assert page.count(secret) == 1
    assert "will not be shown again" in page
    assert "no-store" in response["Cache-Control"]

    assert secret not in _all_cookie_text(admin_client, response)
    assert all(secret not in str(message) for message in get_messages(response.wsgi_request))
    # Never again: not on the next pages, not in any cookie they set.
    for path in (
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_apikey_change", args=[api_key.pk]),
        reverse("admin:index"),
    ):
        later = admin_client.get(path)
        assert later.status_code == 200
        assert secret not in later.content.decode()
        assert secret not in _all_cookie_text(admin_client, later)
