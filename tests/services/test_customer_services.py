"""Customer services: case-insensitive unique email, and customers with sales are protected."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import ConflictError
from customers.models import Customer
from customers.services import customer_create, customer_delete, customer_update
from sales.services import sale_cancel
from tests.factories import make_customer, make_product, make_sale

pytestmark = pytest.mark.django_db


def test_create_stores_the_customer():
    customer = customer_create(
        name="Ada Lovelace",
        email="  ada@example.com ",
        phone="+44 20 7946 0000",
        city="London",
        country="GB",
        segment=Customer.Segment.CORPORATE,
    )
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.name, stored.email, stored.city, str(stored.country), stored.segment) == (
        "Ada Lovelace",
        "ada@example.com",
        "London",
        "GB",
        "corporate",
    )


def test_create_with_the_same_email_in_another_case_is_a_validation_error_on_email():
    customer_create(name="Ada", email="ada@example.com")
    with pytest.raises(ValidationError) as caught:
        customer_create(name="Other Ada", email="ADA@Example.COM")
    assert list(caught.value.message_dict) == ["email"]
    assert Customer.objects.count() == 1


def test_create_with_an_invalid_email_or_segment_is_a_validation_error():
    with pytest.raises(ValidationError) as caught:
        customer_create(name="Bad", email="not-an-email")
    assert "email" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        customer_create(name="Bad", email="bad@example.com", segment="vip")
    assert "segment" in caught.value.message_dict
    assert Customer.objects.count() == 0


def test_update_to_an_email_taken_in_another_case_is_refused():
    make_customer(email="taken@example.com")
    other = make_customer(email="other@example.com")
    with pytest.raises(ValidationError) as caught:
        customer_update(customer=other, data={"email": "TAKEN@example.com"})
    assert "email" in caught.value.message_dict
    assert Customer.objects.get(pk=other.pk).email == "other@example.com"


def test_update_of_its_own_email_case_is_allowed():
    customer = make_customer(email="me@example.com")
    customer_update(customer=customer, data={"email": "Me@Example.com", "city": "Paris"})
    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.email, stored.city) == ("Me@Example.com", "Paris")


def test_delete_of_a_customer_with_sales_is_a_conflict():
    customer = make_customer()
    product = make_product(stock=5)
    sale = make_sale(items=[(product, 1)], customer=customer)
    sale_cancel(sale=sale)  # a cancelled sale still refers to the customer

    with pytest.raises(ConflictError) as caught:
        customer_delete(customer=customer)

    assert caught.value.code == "protected"
    assert caught.value.status_code == 409
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_delete_of_a_customer_without_sales():
    customer = make_customer()
    keep = make_customer()
    customer_delete(customer=customer)
    assert list(Customer.objects.values_list("pk", flat=True)) == [keep.pk]


def test_the_database_refuses_a_duplicate_email_in_another_case():
    Customer.objects.create(name="A", email="dup@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="B", email="DUP@EXAMPLE.COM")
    assert Customer.objects.count() == 1


def test_the_database_refuses_an_unknown_segment():
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(name="A", email="a@example.com", segment="vip")
