"""``python manage.py create_api_key NAME``: prints the new key once (as the last word of its
output), stores only a hash of it, and the key works against the catalog-compatible endpoints."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class

from accounts.models import ApiKey
from accounts.services import hash_api_key_secret
from tests.catalog_api import assert_ledger_balanced, key_header, purchase_url, stock_of
from tests.factories import make_product

pytestmark = pytest.mark.django_db


def create_api_key(*args) -> str:
    out = StringIO()
    call_command("create_api_key", *args, stdout=out)
    return out.getvalue()


def test_prints_the_new_key_as_the_last_word_and_stores_only_its_hash():
    output = create_api_key("shop-frontend")

    full_key = output.split()[-1]
    prefix, dot, secret = full_key.partition(".")
    api_key = ApiKey.objects.get()
    assert dot and prefix and len(secret) >= 32
    assert (api_key.name, api_key.prefix, api_key.is_active) == ("shop-frontend", prefix, True)
    assert api_key.hashed_secret == hash_api_key_secret(secret)
    stored = ApiKey.objects.values().get(pk=api_key.pk)
    assert not any(secret in str(value) for value in stored.values())
    assert api_key.last_used_at is None


def test_the_printed_key_works_against_the_purchase_endpoint(api_client):
    full_key = create_api_key("remote-sales").split()[-1]
    product = make_product(price="7.50", stock=4)

    response = api_client.post(
        purchase_url(product.pk), {"quantity": 3}, format="json", **key_header(full_key)
    )

    assert response.status_code == 200, response.content
    assert response.json()["stock_quantity"] == 1
    assert stock_of(product) == 1
    assert_ledger_balanced()
    assert ApiKey.objects.get().last_used_at is not None


def test_each_call_makes_a_new_independent_key(api_client):
    first = create_api_key("one").split()[-1]
    second = create_api_key("two").split()[-1]
    product = make_product(stock=10)

    assert first != second
    assert ApiKey.objects.count() == 2
    ApiKey.objects.filter(name="one").update(is_active=False)
    revoked = api_client.post(
        purchase_url(product.pk), {"quantity": 1}, format="json", **key_header(first)
    )
    still_valid = api_client.post(
        purchase_url(product.pk), {"quantity": 1}, format="json", **key_header(second)
    )

    assert revoked.status_code == 403
    assert still_valid.status_code == 200
    assert stock_of(product) == 9


def test_a_secret_paired_with_another_keys_prefix_is_refused(api_client):
    first = create_api_key("one").split()[-1]
    second = create_api_key("two").split()[-1]
    product = make_product(stock=10)
    mixed = f"{first.partition('.')[0]}.{second.partition('.')[2]}"

    response = api_client.post(
        purchase_url(product.pk), {"quantity": 1}, format="json", **key_header(mixed)
    )

    assert response.status_code == 403
    assert stock_of(product) == 10


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_name_is_refused(name):
    with pytest.raises(CommandError):
        create_api_key(name)

    assert not ApiKey.objects.exists()


def test_the_name_is_required():
    with pytest.raises(CommandError):
        create_api_key()

    assert not ApiKey.objects.exists()


def test_the_help_explains_the_header_and_that_the_key_is_shown_once():
    command = load_command_class("accounts", "create_api_key")
    help_text = command.create_parser("manage.py", "create_api_key").format_help()

    assert "Api-Key" in help_text
    assert "purchase" in help_text
    assert "once" in help_text
