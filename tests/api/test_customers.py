"""/api/customers/: CRUD, case-insensitive unique email, country codes, protected delete."""

import pytest

from customers.models import Customer
from tests.api import assert_error
from tests.factories import make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/customers/"


def detail(customer) -> str:
    return f"{URL}{customer.pk}/"


def test_customer_crud_round_trip(manager_client):
    created = manager_client.post(
        URL,
        {
            "name": "Ada Lovelace",
            "email": "  ada@example.com ",
            "phone": "+44 20 0000",
            "city": "London",
            "country": "GB",
            "segment": "corporate",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert {k: body[k] for k in ("name", "email", "phone", "city", "country", "segment")} == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+44 20 0000",
        "city": "London",
        "country": "GB",
        "segment": "corporate",
    }
    customer = Customer.objects.get(pk=body["id"])
    assert customer.email == "ada@example.com"
    assert customer.country.code == "GB"

    assert manager_client.get(detail(customer)).json() == body
    assert [row["id"] for row in manager_client.get(URL).json()["results"]] == [customer.pk]

    replaced = manager_client.put(
        detail(customer),
        {"name": "Ada King", "email": "ada.king@example.com", "country": "FR"},
        format="json",
    )
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["name"] == "Ada King"
    assert replaced.json()["country"] == "FR"
    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.country.code) == (
        "Ada King",
        "ada.king@example.com",
        "FR",
    )

    patched = manager_client.patch(detail(customer), {"city": "Paris"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["city"] == "Paris"
    assert patched.json()["name"] == "Ada King"
    customer.refresh_from_db()
    assert customer.city == "Paris"

    assert manager_client.delete(detail(customer)).status_code == 204
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert_error(manager_client.get(detail(customer)), 404, "not_found")


def test_default_segment_is_consumer(manager_client):
    response = manager_client.post(URL, {"name": "N", "email": "n@example.com"}, "json")
    assert response.status_code == 201
    assert response.json()["segment"] == "consumer"
    assert response.json()["country"] == ""


def test_duplicate_email_in_another_letter_case_is_400_on_email(manager_client):
    make_customer(email="Bob@Example.com")
    response = manager_client.post(URL, {"name": "Bob 2", "email": "bob@EXAMPLE.COM"}, "json")
    error = assert_error(response, 400, "invalid")
    assert "email" in error["fields"]
    assert Customer.objects.filter(email__iexact="bob@example.com").count() == 1


def test_changing_email_to_one_taken_in_another_case_is_400(manager_client):
    make_customer(email="taken@example.com")
    other = make_customer(email="free@example.com")
    response = manager_client.patch(detail(other), {"email": "TAKEN@example.com"}, "json")
    error = assert_error(response, 400)
    assert "email" in error["fields"]
    other.refresh_from_db()
    assert other.email == "free@example.com"


def test_a_customer_may_keep_its_own_email_in_another_case(manager_client):
    customer = make_customer(email="me@example.com")
    response = manager_client.patch(detail(customer), {"email": "ME@example.com"}, "json")
    assert response.status_code == 200
    assert response.json()["email"] == "ME@example.com"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "email": "x@example.com", "country": "ZZ"}, "country"),
        ({"name": "X", "email": "x@example.com", "country": "Atlantis"}, "country"),
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "email": "x@example.com", "segment": "alien"}, "segment"),
        ({"email": "x@example.com"}, "name"),
        ({"name": "X"}, "email"),
    ],
)
def test_invalid_customer_body_is_400_naming_the_field(manager_client, body, field):
    response = manager_client.post(URL, body, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"], error
    assert not Customer.objects.exists()


def test_delete_customer_with_sales_is_409_and_keeps_it(manager_client):
    customer = make_customer()
    make_sale(items=[(make_product(), 1)], customer=customer)
    error = assert_error(manager_client.delete(detail(customer)), 409, "protected")
    assert customer.email in error["message"]
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_unknown_customer_is_404(manager_client):
    assert_error(manager_client.get(f"{URL}999999/"), 404, "not_found")
    assert_error(manager_client.put(f"{URL}999999/", {"name": "a", "email": "a@b.co"}, "json"), 404)
    assert_error(manager_client.delete(f"{URL}999999/"), 404)
