"""A bad choice names the valid ones (issue 16 item 7), in the filters (django-filter) and in the
serializers (DRF), as the ordering errors already did."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


@pytest.fixture
def manager():
    client = APIClient()
    client.force_authenticate(make_user(role="manager"))
    return client


@pytest.mark.parametrize(
    ("url", "field", "valid"),
    [
        ("/api/sales/?status=done", "status", ["completed", "cancelled"]),
        ("/api/customers/?segment=vip", "segment", ["consumer", "corporate"]),
        ("/api/analytics/revenue/?interval=year", "interval", ["day", "week", "month"]),
        ("/api/analytics/breakdown/?dimension=city", "dimension", ["category", "country"]),
    ],
)
def test_a_bad_choice_lists_the_valid_ones(manager, url, field, valid):
    response = manager.get(url)
    assert response.status_code == 400
    message = " ".join(response.json()["error"]["fields"][field])
    for choice in valid:
        assert choice in message, message


def test_a_bad_choice_in_a_body_lists_the_valid_ones(manager):
    response = manager.post(
        "/api/customers/",
        {"email": "vip@example.com", "name": "V", "segment": "vip"},
        format="json",
    )
    assert response.status_code == 400
    message = " ".join(response.json()["error"]["fields"]["segment"])
    assert "consumer" in message and "public_sector" in message
