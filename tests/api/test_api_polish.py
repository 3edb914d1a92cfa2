"""API polish (issue 16 item 7): the has_customer filter's label, the documented default of
date_to when only date_from is sent, and the browsable API's sale form with an example body."""

from __future__ import annotations

import json
import re

import pytest
from rest_framework.test import APIClient

from sales.filters import SaleFilter
from tests.factories import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


def test_has_customer_is_labelled_for_a_person():
    label = SaleFilter.base_filters["has_customer"].label
    assert label and "null" not in label.lower() and "exclude" not in label.lower()


def schema_parameter(schema: dict, path: str, name: str) -> dict:
    for parameter in schema["paths"][path]["get"]["parameters"]:
        if parameter["name"] == name:
            return parameter
    raise AssertionError(f"{name} is not a parameter of {path}")


def test_date_to_default_after_date_from_alone_is_documented():
    client = APIClient()
    schema = client.get("/api/schema/?format=json").json()
    description = schema_parameter(schema, "/api/analytics/summary/", "date_to")["description"]
    assert "29 days" in description and "date_from" in description


def test_the_browsable_sale_form_has_an_example_body():
    client = APIClient()
    client.force_login(make_user(role="sales", is_staff=True))
    html = client.get("/api/sales/", HTTP_ACCEPT="text/html").content.decode()
    raw = re.search(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>', html, re.S)
    assert raw, "no raw data form"
    import html as htmllib

    body = json.loads(htmllib.unescape(raw.group(1)))
    assert body["items"] and {"product", "quantity"} <= set(body["items"][0])
