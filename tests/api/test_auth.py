"""Authentication: the JWT flow (obtain, use, refresh, verify) and session auth with the
browsable API."""

import json
import re
from html import unescape

import pytest
from rest_framework.test import APIClient

from products.models import Category
from tests.api import assert_error
from tests.factories import make_category, make_customer, make_product, make_sale, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PASSWORD = "pw-Secret-123"  # tests.factories.make_user


def obtain(client, username, password=PASSWORD):
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_jwt_obtain_use_refresh_and_verify(api_client):
    user = make_user(role="analyst")
    customer = make_customer()

    tokens = obtain(api_client, user.username)
    assert tokens.status_code == 200, tokens.json()
    access, refresh = tokens.json()["access"], tokens.json()["refresh"]
    assert access and refresh and access != refresh

    assert_error(api_client.get("/api/customers/"), 401, "not_authenticated")

    bearer = APIClient(HTTP_AUTHORIZATION=f"Bearer {access}")
    listed = bearer.get("/api/customers/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [customer.pk]

    verified = api_client.post("/api/auth/token/verify/", {"token": access}, format="json")
    assert verified.status_code == 200

    refreshed = api_client.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access"]
    again = APIClient(HTTP_AUTHORIZATION=f"Bearer {new_access}").get(
        f"/api/customers/{customer.pk}/"
    )
    assert again.status_code == 200
    assert again.json()["email"] == customer.email


def test_jwt_carries_the_role(api_client):
    """A token of a sales user may record a sale but not delete one."""
    user = make_user(role="sales")
    product = make_product(stock=5)
    access = obtain(api_client, user.username).json()["access"]
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {access}")
    created = client.post(
        "/api/sales/", {"items": [{"product": product.pk, "quantity": 1}]}, "json"
    )
    assert created.status_code == 201
    assert_error(client.delete(f"/api/sales/{created.json()['id']}/"), 403, "permission_denied")


def test_wrong_password_is_401_with_the_error_shape(api_client):
    user = make_user()
    error = assert_error(obtain(api_client, user.username, "wrong"), 401)
    assert error["code"] == "no_active_account"
    assert_error(obtain(api_client, "nobody-here"), 401)


def test_inactive_user_gets_no_token(api_client):
    user = make_user(role="manager", is_active=False)
    assert_error(obtain(api_client, user.username), 401)


def test_missing_credentials_are_400_per_field(api_client):
    error = assert_error(api_client.post("/api/auth/token/", {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"username", "password"}


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Token abc", "Bearer a b"])
def test_bad_authorization_header_is_401(header):
    make_customer()
    response = APIClient(HTTP_AUTHORIZATION=header).get("/api/customers/")
    assert_error(response, 401)


def test_a_bad_token_is_401_even_on_public_reads(api_client):
    """A client that sends a broken token learns it, instead of silently being anonymous."""
    error = assert_error(APIClient(HTTP_AUTHORIZATION="Bearer garbage").get("/api/products/"), 401)
    assert error["code"] == "token_not_valid"


def test_refresh_token_is_not_an_access_token(api_client):
    user = make_user(role="manager")
    refresh = obtain(api_client, user.username).json()["refresh"]
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {refresh}").get("/api/customers/")
    assert_error(response, 401, "token_not_valid")


def test_verify_and_refresh_reject_garbage(api_client):
    assert_error(
        api_client.post("/api/auth/token/verify/", {"token": "garbage"}, format="json"),
        401,
        "token_not_valid",
    )
    assert_error(
        api_client.post("/api/auth/token/refresh/", {"refresh": "garbage"}, format="json"),
        401,
        "token_not_valid",
    )


def test_anonymous_401_advertises_bearer(api_client):
    response = api_client.get("/api/customers/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_session_login_works_for_the_api(api_client):
    user = make_user(role="analyst")
    customer = make_customer()
    assert api_client.login(username=user.username, password=PASSWORD)
    response = api_client.get("/api/customers/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [customer.pk]


# --- The browsable API --------------------------------------------------------------------------


@pytest.fixture
def browser(api_client):
    """A session-logged-in manager asking for HTML."""
    user = make_user(role="manager")
    assert api_client.login(username=user.username, password=PASSWORD)
    return api_client


def html(client, url):
    return client.get(url, HTTP_ACCEPT="text/html")


def test_browsable_api_renders_products_for_a_session_user(browser):
    product = make_product(name="Browsable Widget")
    response = html(browser, "/api/products/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Browsable Widget" in response.content.decode()
    assert html(browser, f"/api/products/{product.pk}/").status_code == 200


def test_browsable_api_renders_for_anonymous(api_client):
    make_product(name="Public Widget")
    response = html(api_client, "/api/products/")
    assert response.status_code == 200
    assert "Public Widget" in response.content.decode()


def test_browsable_api_renders_every_list_and_detail(browser):
    category = make_category()
    product = make_product(stock=10, category=category)
    customer = make_customer()
    sale = make_sale(items=[(product, 2)], customer=customer)
    pages = [
        "/api/",
        "/api/customers/",
        f"/api/customers/{customer.pk}/",
        "/api/categories/",
        f"/api/categories/{category.pk}/",
        "/api/products/",
        f"/api/products/{product.pk}/",
        "/api/stock-movements/",
        "/api/sales/",
        f"/api/sales/{sale.pk}/",
    ]
    for url in pages:
        response = html(browser, url)
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html"), url


def test_browsable_api_shows_errors_as_html_not_500(browser):
    response = html(browser, "/api/products/999999/")
    assert response.status_code == 404


def test_browsable_sale_page_prefills_the_edit_form_with_the_sale(browser):
    product = make_product(stock=10)
    customer = make_customer()
    sale = make_sale(items=[(product, 2)], customer=customer)
    page = html(browser, f"/api/sales/{sale.pk}/").content.decode()
    forms = [
        json.loads(unescape(text))
        for text in re.findall(r"<textarea[^>]*>(.*?)</textarea>", page, re.S)
        if text.strip()
    ]
    assert {
        "customer": customer.pk,
        "sold_at": sale.sold_at.isoformat().replace("+00:00", "Z"),
        "items": [{"product": product.pk, "quantity": 2}],
    } in forms


def test_session_writes_need_the_csrf_token_but_jwt_writes_do_not():
    user = make_user(role="manager")
    session = APIClient(enforce_csrf_checks=True)
    assert session.login(username=user.username, password=PASSWORD)
    refused = session.post("/api/categories/", {"name": "Via session"}, format="json")
    error = assert_error(refused, 403, "permission_denied")
    assert "CSRF" in error["message"]
    assert not Category.objects.filter(name="Via session").exists()

    access = obtain(APIClient(), user.username).json()["access"]
    jwt = APIClient(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {access}")
    created = jwt.post("/api/categories/", {"name": "Via token"}, format="json")
    assert created.status_code == 201
    assert Category.objects.filter(name="Via token").exists()
