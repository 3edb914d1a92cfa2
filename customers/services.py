"""Writes for customers."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from core.errors import ConflictError
from core.protection import protected_by_other_apps
from core.services import model_update
from core.signals import reporting_data_changed
from customers.models import Customer

CUSTOMER_EDITABLE_FIELDS = ["name", "email", "phone", "city", "country", "segment"]
ANALYTICS_FIELDS = ("name", "email", "country", "segment")


def _require_email_free(email: str, exclude_pk: int | None = None) -> None:
    others = Customer.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise ValidationError({"email": [f"A customer with email {email} already exists."]})


def customer_create(
    *,
    name: str,
    email: str,
    phone: str = "",
    city: str = "",
    country: str = "",
    segment: str = Customer.Segment.CONSUMER,
) -> Customer:
    email = email.strip()
    _require_email_free(email)
    customer = Customer(
        name=name, email=email, phone=phone, city=city, country=country, segment=segment
    )
    customer.full_clean()
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:  # a concurrent create with the same email won the race
        raise ValidationError(
            {"email": [f"A customer with email {email} already exists."]}
        ) from None
    return customer


def customer_update(*, customer: Customer, data: dict[str, Any]) -> Customer:
    if any(name in data and data[name] != getattr(customer, name) for name in ANALYTICS_FIELDS):
        # The analytics group by country and segment and show names: fresh answers after it.
        reporting_data_changed.send(sender=Customer)
    if "email" in data:
        data = {**data, "email": data["email"].strip()}
        _require_email_free(data["email"], exclude_pk=customer.pk)
    try:
        with transaction.atomic():
            customer, _ = model_update(
                instance=customer, fields=CUSTOMER_EDITABLE_FIELDS, data=data
            )
    except IntegrityError:
        raise ValidationError({"email": ["A customer with this email already exists."]}) from None
    return customer


def customer_delete(*, customer: Customer) -> None:
    if protected_by_other_apps(customer):  # its sales (Sale.customer is PROTECT)
        raise ConflictError(
            f"Customer {customer.email} has sales and cannot be deleted.", code="protected"
        )
    customer.delete()
