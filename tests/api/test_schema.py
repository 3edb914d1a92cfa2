"""The OpenAPI schema and the Swagger UI."""

import pytest
import yaml
from drf_spectacular.validation import validate_schema

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PATHS = {
    "/api/auth/token/": {"post"},
    "/api/auth/token/refresh/": {"post"},
    "/api/auth/token/verify/": {"post"},
    "/api/customers/": {"get", "post"},
    "/api/customers/{id}/": {"get", "put", "patch", "delete"},
    "/api/categories/": {"get", "post"},
    "/api/categories/{id}/": {"get", "put", "patch", "delete"},
    "/api/products/": {"get", "post"},
    "/api/products/{id}/": {"get", "put", "patch", "delete"},
    "/api/stock-movements/": {"get"},
    "/api/stock-movements/{id}/": {"get"},
    "/api/sales/": {"get", "post"},
    "/api/sales/{id}/": {"get", "put", "patch", "delete"},
    "/api/sales/{id}/cancel/": {"post"},
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)  # raises on an invalid document
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"]


def test_schema_yaml_is_served_by_default(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert set(PATHS) <= set(document["paths"])


def test_schema_lists_every_path_and_method(schema):
    for path, methods in PATHS.items():
        assert path in schema["paths"], path
        assert set(schema["paths"][path]) & HTTP_METHODS == methods, path


def test_schema_has_the_error_component_on_operations(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["$ref"].endswith("/ErrorDetail")
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) >= {"code", "message", "fields"}

    create_sale = schema["paths"]["/api/sales/"]["post"]["responses"]
    for status in ("400", "401", "403", "409"):
        ref = create_sale[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/Error"), status
    assert "404" in schema["paths"]["/api/products/{id}/"]["get"]["responses"]


def test_schema_describes_money_as_strings_and_sales_with_cursor_pages(schema):
    components = schema["components"]["schemas"]
    product = components["ProductOutput"]["properties"]
    assert product["price"]["type"] == "string"
    assert product["price"]["format"] == "decimal"
    sale_list = schema["paths"]["/api/sales/"]["get"]
    assert {p["name"] for p in sale_list["parameters"]} >= {
        "cursor",
        "page_size",
        "ordering",
        "sold_after",
        "status",
        "search",
    }
    page = components[
        sale_list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].split("/")[
            -1
        ]
    ]
    assert "count" not in page["properties"]
    assert {"next", "previous", "results"} <= set(page["properties"])


def test_schema_write_operations_answer_the_output_shape(schema):
    created = schema["paths"]["/api/sales/"]["post"]["responses"]["201"]
    ref = created["content"]["application/json"]["schema"]["$ref"]
    sale = schema["components"]["schemas"][ref.split("/")[-1]]
    assert {"id", "reference", "total", "status", "items"} <= set(sale["properties"])


def test_swagger_ui_is_served(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "swagger" in response.content.decode().lower()


@pytest.mark.parametrize(
    "url",
    [
        "/api/customers/",
        "/api/categories/",
        "/api/products/",
        "/api/stock-movements/",
        "/api/sales/",
    ],
)
def test_options_describes_the_endpoint(client_for, url):
    response = client_for("manager").options(url)
    assert response.status_code == 200
    assert response.json()["name"]
