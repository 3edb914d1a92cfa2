"""CORS: only the configured origins may call the API from a browser."""

import pytest

from tests.factories import make_product

pytestmark = pytest.mark.django_db

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture(autouse=True)
def _cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def preflight(client, origin, method="POST"):
    return client.options(
        "/api/products/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )


def test_preflight_from_the_allowed_origin(api_client):
    response = preflight(api_client, ALLOWED)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    allowed_headers = response["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_get_from_the_allowed_origin(api_client):
    product = make_product(name="Cors widget")
    response = api_client.get("/api/products/", HTTP_ORIGIN=ALLOWED)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert response.json()["results"][0]["id"] == product.pk


def test_another_origin_gets_no_cors_header(api_client):
    assert "Access-Control-Allow-Origin" not in preflight(api_client, OTHER)
    response = api_client.get("/api/products/", HTTP_ORIGIN=OTHER)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_cors_applies_to_api_urls_only(api_client):
    response = api_client.get("/admin/login/", HTTP_ORIGIN=ALLOWED)
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_by_default(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = []
    response = api_client.get("/api/products/", HTTP_ORIGIN=ALLOWED)
    assert "Access-Control-Allow-Origin" not in response
