"""Analytics API: parameter validation (400 in the one error shape), defaults and echo,
permissions (401/403/200) and the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.serializers import (
    BreakdownResponseSerializer,
    RevenueResponseSerializer,
    SummaryResponseSerializer,
    TopCustomersResponseSerializer,
    TopProductsResponseSerializer,
)
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PATHS = ["summary", "revenue", "top-products", "top-customers", "breakdown", "cohorts", "rfm"]


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("revenue", {"interval": "year"}, "interval"),
        ("summary", {"date_from": "2025-02-01", "date_to": "2025-01-31"}, "date_to"),
        ("summary", {"date_from": "yesterday"}, "date_from"),
        ("summary", {"date_from": "2000-01-01", "date_to": "2025-01-01"}, "date_to"),
        ("top-products", {"limit": "0"}, "limit"),
        ("top-products", {"limit": "101"}, "limit"),
        ("top-products", {"limit": "ten"}, "limit"),
        ("top-products", {"by": "orders"}, "by"),
        ("top-customers", {"by": "units"}, "by"),
        ("top-customers", {"limit": "-3"}, "limit"),
        ("breakdown", {"dimension": "city"}, "dimension"),
        ("summary", {"category": "999999"}, "category"),
        ("summary", {"product": "999999"}, "product"),
        ("summary", {"customer": "999999"}, "customer"),
        ("summary", {"customer": "x"}, "customer"),
        ("summary", {"country": "XX"}, "country"),
        ("summary", {"country": "France"}, "country"),
        ("breakdown", {"segment": "vip"}, "segment"),
    ],
)
def test_invalid_parameters_are_400_naming_them(analyst, path, params, field):
    response = analyst.get(f"/api/analytics/{path}/", params)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert field in body["error"]["fields"], body


@pytest.mark.embedded
def test_defaults_and_echo(analyst):
    category = make_category()
    customer = make_customer(country="DE")
    body = analyst.get(
        "/api/analytics/summary/",
        {"category": category.pk, "customer": customer.pk, "country": "de"},
    ).json()
    today = timezone.localdate()
    assert body["period"] == {
        "date_from": str(today - timedelta(days=29)),
        "date_to": str(today),
        "days": 30,
    }
    assert body["filters"] == {
        "category": category.pk,
        "product": None,
        "customer": customer.pk,
        "country": "DE",
        "segment": None,
    }
    only_from = analyst.get("/api/analytics/revenue/", {"date_from": "2025-01-10"}).json()
    assert only_from["period"] == {"date_from": "2025-01-10", "date_to": "2025-02-08", "days": 30}
    assert len(only_from["points"]) == 30
    assert only_from["interval"] == "day"
    top = analyst.get("/api/analytics/top-products/").json()
    assert (top["by"], top["limit"]) == ("revenue", 10)
    assert analyst.get("/api/analytics/breakdown/").json()["dimension"] == "category"


@pytest.mark.parametrize(
    ("path", "serializer"),
    [
        ("summary", SummaryResponseSerializer),
        ("revenue", RevenueResponseSerializer),
        ("top-products", TopProductsResponseSerializer),
        ("top-customers", TopCustomersResponseSerializer),
        ("breakdown", BreakdownResponseSerializer),
    ],
)
def test_answers_match_their_documented_shape(analyst, path, serializer):
    product = make_product(price="9.99", cost="3.00", category=make_category())
    make_sale(items=[(product, 2)], customer=make_customer(country="FR"))
    make_sale(items=[(product, 1)])
    body = analyst.get(f"/api/analytics/{path}/").json()
    documented = serializer(data=body)
    assert documented.is_valid(), documented.errors
    assert set(body) == set(serializer().fields)
    money = body.get("current", body.get("totals", body.get("total"))) or body["results"][0]
    assert isinstance(money["revenue"], str)  # decimal strings, never floats


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("norole", 403), ("analyst", 200), ("sales", 200), ("manager", 200),
     ("superuser", 200)],
)  # fmt: skip
def test_permissions(client_for, path, role, status):
    response = client_for(role).get(f"/api/analytics/{path}/")
    assert response.status_code == status
    if status != 200:
        assert response.json()["error"]["code"] in ("not_authenticated", "permission_denied")


def test_only_reads(analyst):
    assert analyst.post("/api/analytics/summary/", {}).status_code == 405


def test_index_lists_the_endpoints(analyst):
    body = analyst.get("/api/analytics/").json()
    assert sorted(body) == sorted([*PATHS, "basket"])  # basket needs ?product=
    assert body["top-products"].endswith("/api/analytics/top-products/")


def test_unknown_analytics_path_is_the_json_404(analyst):
    response = analyst.get("/api/analytics/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_jwt_login_works_for_analytics(api_client):
    from tests.factories import make_user

    make_user(role="analyst", username="ana")
    token = api_client.post(
        "/api/auth/token/", {"username": "ana", "password": "pw-Secret-123"}, format="json"
    ).json()["access"]
    response = api_client.get("/api/analytics/summary/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_openapi_documents_the_endpoints_and_their_parameters(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    expected = {
        "summary": {"date_from", "date_to", "category", "product", "customer", "country"},
        "revenue": {"interval", "date_from", "segment"},
        "top-products": {"by", "limit"},
        "top-customers": {"by", "limit"},
        "breakdown": {"dimension"},
    }
    for path, params in expected.items():
        operation = schema["paths"][f"/api/analytics/{path}/"]["get"]
        names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        assert params <= names, path
        assert "200" in operation["responses"] and "400" in operation["responses"]
    summary_200 = schema["paths"]["/api/analytics/summary/"]["get"]["responses"]["200"]
    ref = summary_200["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert {"period", "previous_period", "current", "previous", "change_pct"} <= set(
        component["properties"]
    )
