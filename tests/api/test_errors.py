"""One error shape for every API failure: {"error": {"code", "message", "fields"}}."""

import pytest

from tests.api import assert_error
from tests.factories import make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


@pytest.mark.embedded
def test_every_status_uses_the_one_shape(client_for, api_client):
    product = make_product(stock=1)
    manager = client_for("manager")
    analyst = client_for("analyst")
    sale = make_sale(items=[(product, 1)])

    bad = assert_error(manager.post("/api/categories/", {}, format="json"), 400, "invalid")
    assert bad["fields"]["name"]
    assert_error(api_client.get("/api/customers/"), 401, "not_authenticated")
    assert_error(analyst.delete(f"/api/products/{product.pk}/"), 403, "permission_denied")
    assert_error(manager.get("/api/customers/424242/"), 404, "not_found")
    assert_error(manager.put("/api/sales/", {}, format="json"), 405, "method_not_allowed")
    assert_error(manager.delete(f"/api/products/{product.pk}/"), 409, "protected")
    manager.post(f"/api/sales/{sale.pk}/cancel/")
    assert_error(manager.post(f"/api/sales/{sale.pk}/cancel/"), 409, "sale_cancelled")


def test_validation_errors_name_each_field_with_a_list_of_messages(client_for):
    response = client_for("manager").post(
        "/api/products/", {"sku": "", "price": "-2"}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"sku", "name", "price"}
    for messages in error["fields"].values():
        assert isinstance(messages, list)
        assert all(isinstance(message, str) and message for message in messages)
    assert error["message"] == "Invalid input."


def test_a_body_that_is_not_json_is_400(client_for):
    response = client_for("manager").post(
        "/api/categories/", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_a_json_list_instead_of_an_object_is_400(client_for):
    response = client_for("manager").post("/api/sales/", [1, 2], format="json")
    error = assert_error(response, 400, "invalid")
    assert error["fields"]


def test_an_unsupported_media_type_is_415(client_for):
    response = client_for("manager").post(
        "/api/categories/", data="name=x", content_type="text/plain"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_an_unacceptable_accept_header_is_406(client_for):
    response = client_for("analyst").get("/api/customers/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406


@pytest.mark.parametrize(
    "url",
    ["/api/nothing-here/", "/api/customers/1/nothing/", "/api/sales/abc/cancel/x/", "/api/v2/"],
)
def test_an_unknown_api_url_is_a_json_404(api_client, url):
    assert_error(api_client.get(url), 404, "not_found")


def test_an_unknown_id_is_404_for_every_resource(client_for):
    client = client_for("manager")
    for resource in ("customers", "categories", "products", "stock-movements", "sales"):
        assert_error(client.get(f"/api/{resource}/987654/"), 404, "not_found")


def test_insufficient_stock_carries_the_details_in_the_error(client_for):
    product = make_product(sku="ONE-LEFT", stock=1)
    response = client_for("sales").post(
        "/api/sales/", {"items": [{"product": product.pk, "quantity": 2}]}, format="json"
    )
    error = assert_error(response, 409, "insufficient_stock")
    assert {key: error[key] for key in ("product", "sku", "requested", "available")} == {
        "product": product.pk,
        "sku": "ONE-LEFT",
        "requested": 2,
        "available": 1,
    }


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/auth/token/"),
        ("delete", "/api/customers/"),
        ("patch", "/api/products/"),
    ],
)
def test_a_method_the_endpoint_does_not_have_is_405(client_for, method, url):
    response = getattr(client_for("manager"), method)(url)
    assert_error(response, 405, "method_not_allowed")


def test_get_on_cancel_is_405_and_cancels_nothing(client_for):
    sale = make_sale(items=[(make_product(stock=3), 1)])
    assert_error(client_for("manager").get(f"/api/sales/{sale.pk}/cancel/"), 405)
    sale.refresh_from_db()
    assert sale.status == "completed"


@pytest.mark.parametrize(
    ("error", "retry_after"),
    [
        ("catalog", "5"),
        ("queue", "60"),
        ("plain", None),
    ],
)
def test_the_one_handler_answers_retry_after_from_the_errors_kind(error, retry_after):
    """Domain errors carry no HTTP headers: how long to wait is theirs (``retry_after``), the
    ``Retry-After`` header is the API handler's."""
    from core.api.exception_handler import api_exception_handler
    from core.errors import ApplicationError
    from products.catalog_client import CatalogUnavailableError

    exc = {
        "catalog": CatalogUnavailableError("The catalog is down."),
        "queue": ApplicationError("Queue down.", status_code=503, retry_after=60),
        "plain": ApplicationError("Bad."),
    }[error]

    response = api_exception_handler(exc, {})

    assert not hasattr(exc, "headers")
    assert response.get("Retry-After") == retry_after
    assert response.data["error"]["message"] == exc.message
