"""Authorization schemes are case-insensitive (RFC 9110, 11.1): ``API-Key``, ``api-key``,
``bearer`` are the same schemes as ``Api-Key`` and ``Bearer``."""

from __future__ import annotations

import pytest

from accounts.tokens import access_token_for
from tests.catalog_api import purchase_url, stock_of
from tests.factories import make_api_key, make_product, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("scheme", ["Api-Key", "API-Key", "api-key", "API-KEY", "aPi-kEy"])
def test_the_api_key_scheme_is_accepted_in_any_case(api_client, scheme):
    _, full_key = make_api_key()
    product = make_product(stock=10)

    response = api_client.post(
        purchase_url(product.pk),
        {"quantity": 1},
        format="json",
        HTTP_AUTHORIZATION=f"{scheme} {full_key}",
    )

    assert response.status_code == 200, response.content
    assert stock_of(product) == 9


def test_a_scheme_that_only_resembles_api_key_is_refused(api_client):
    _, full_key = make_api_key()
    product = make_product(stock=10)
    for value in (f"ApiKey {full_key}", f"Api-Keys {full_key}", f"Api-Key{full_key}"):
        response = api_client.post(
            purchase_url(product.pk), {"quantity": 1}, format="json", HTTP_AUTHORIZATION=value
        )
        assert response.status_code == 403, value
    assert stock_of(product) == 10


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_accepted_in_any_case(api_client, scheme):
    user = make_user(role="analyst")

    response = api_client.get(
        "/api/customers/", HTTP_AUTHORIZATION=f"{scheme} {access_token_for(user)}"
    )

    assert response.status_code == 200, response.content


def test_a_scheme_that_only_resembles_bearer_is_refused(api_client):
    user = make_user(role="analyst")
    response = api_client.get(
        "/api/customers/", HTTP_AUTHORIZATION=f"Bearers {access_token_for(user)}"
    )
    assert response.status_code == 401
