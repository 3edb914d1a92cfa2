"""Conditional GET on the catalog reads (products and categories, list and detail): ETag and
Last-Modified from a cheap validator query, 304 Not Modified (RFC 9110), Cache-Control and Vary;
and the products' hand-written serializer, byte for byte the ModelSerializer it replaced."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.http import http_date
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate

from products.models import Category, Product
from products.serializers import ProductOutputSerializer
from tests.factories import make_category, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PRODUCTS = "/api/products/"
CATEGORIES = "/api/categories/"


@pytest.fixture
def catalog(db):
    tools = make_category(name="Tools")
    garden = make_category(name="Garden")
    hammer = make_product(name="Hammer", category=tools, price="12.50", cost="7.25", stock=40)
    rake = make_product(name="Rake", category=garden, price="20.00", stock=5)
    loose = make_product(name="Loose", category=None, price="1.00")
    return {"tools": tools, "garden": garden, "hammer": hammer, "rake": rake, "loose": loose}


def endpoints(catalog) -> list[str]:
    return [
        PRODUCTS,
        f"{PRODUCTS}{catalog['hammer'].pk}/",
        CATEGORIES,
        f"{CATEGORIES}{catalog['tools'].pk}/",
    ]


def etag_of(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    return response["ETag"]


# --- Headers and 304 ----------------------------------------------------------------------------


@pytest.mark.embedded
def test_product_and_category_reads_send_etag_last_modified_cache_control_and_vary(
    api_client, catalog
):
    for url in endpoints(catalog):
        response = api_client.get(url)
        assert response.status_code == 200
        etag = response["ETag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/"), etag
        assert response["Last-Modified"].endswith(" GMT")
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert cache_control == {"private", "no-cache"}
        vary = {part.strip().lower() for part in response["Vary"].split(",")}
        assert {"accept", "authorization", "cookie"} <= vary, response["Vary"]
        # The same data answers the same ETag (and the same bytes).
        again = api_client.get(url)
        assert again["ETag"] == etag and again.content == response.content


def test_last_modified_is_the_newest_updated_at_of_the_rows_shown(api_client, catalog):
    hammer, tools = catalog["hammer"], catalog["tools"]
    newest_product = Product.objects.latest("updated_at").updated_at
    newest_category = Category.objects.latest("updated_at").updated_at
    assert api_client.get(PRODUCTS)["Last-Modified"] == http_date(
        max(newest_product, newest_category).timestamp()
    )
    assert api_client.get(CATEGORIES)["Last-Modified"] == http_date(newest_category.timestamp())
    hammer.refresh_from_db()
    tools.refresh_from_db()
    assert api_client.get(f"{PRODUCTS}{hammer.pk}/")["Last-Modified"] == http_date(
        max(hammer.updated_at, tools.updated_at).timestamp()
    )


@pytest.mark.embedded
def test_product_reads_answer_304_to_a_matching_if_none_match(api_client, catalog):
    for url in endpoints(catalog):
        first = api_client.get(url)
        response = api_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert response.status_code == 304, url
        assert response.content == b""
        assert response["ETag"] == first["ETag"]
        assert response["Last-Modified"] == first["Last-Modified"]
        assert response["Cache-Control"] == first["Cache-Control"]
        assert {v.strip().lower() for v in response["Vary"].split(",")} >= {
            "accept",
            "authorization",
            "cookie",
        }


def test_304_to_if_modified_since_not_older_than_last_modified(api_client, catalog):
    for url in endpoints(catalog):
        last_modified = api_client.get(url)["Last-Modified"]
        assert api_client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
        later = http_date(timezone.now().timestamp() + 60)
        assert api_client.get(url, HTTP_IF_MODIFIED_SINCE=later).status_code == 304
        earlier = http_date(
            datetime.strptime(last_modified, "%a, %d %b %Y %H:%M:%S GMT")
            .replace(tzinfo=UTC)
            .timestamp()
            - 1
        )
        response = api_client.get(url, HTTP_IF_MODIFIED_SINCE=earlier)
        assert response.status_code == 200 and response.content
        # Not a date: ignored.
        assert api_client.get(url, HTTP_IF_MODIFIED_SINCE="yesterday").status_code == 200


def test_if_none_match_takes_precedence_over_if_modified_since(api_client, catalog):
    for url in endpoints(catalog):
        last_modified = api_client.get(url)["Last-Modified"]
        response = api_client.get(
            url, HTTP_IF_NONE_MATCH='"something-else"', HTTP_IF_MODIFIED_SINCE=last_modified
        )
        assert response.status_code == 200 and response.content


def test_if_none_match_weak_comparison_lists_and_star(api_client, catalog):
    for url in endpoints(catalog):
        etag = etag_of(api_client, url)
        assert api_client.get(url, HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
        assert api_client.get(url, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304
        assert api_client.get(url, HTTP_IF_NONE_MATCH="*").status_code == 304
        response = api_client.get(url, HTTP_IF_NONE_MATCH='"other", W/"another"')
        assert response.status_code == 200
        assert response.json()
    # "*" on something that does not exist: the usual 404.
    response = api_client.get(f"{PRODUCTS}999999/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 404
    assert "ETag" not in response


def test_head_behaves_like_get(api_client, catalog):
    for url in endpoints(catalog):
        get = api_client.get(url)
        head = api_client.head(url)
        assert head.status_code == 200
        assert head["ETag"] == get["ETag"]
        assert head["Last-Modified"] == get["Last-Modified"]
        assert api_client.head(url, HTTP_IF_NONE_MATCH=get["ETag"]).status_code == 304


def test_a_304_queries_only_the_validator(api_client, catalog):
    for url in endpoints(catalog):
        etag = etag_of(api_client, url)
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304
        assert len(queries) == 1, [q["sql"] for q in queries]
        sql = queries[0]["sql"]
        assert "updated_at" in sql, sql
        assert "price" not in sql and "stock_quantity" not in sql and "description" not in sql
        if "?" not in url and url in (PRODUCTS, CATEGORIES):
            assert "COUNT(*)" in sql


# --- The ETag moves with the data ---------------------------------------------------------------


def test_new_etag_after_a_price_change_through_the_api(api_client, manager_client, catalog):
    hammer = catalog["hammer"]
    detail = f"{PRODUCTS}{hammer.pk}/"
    before = {url: etag_of(api_client, url) for url in (PRODUCTS, detail)}
    response = manager_client.patch(detail, {"price": "13.00"}, format="json")
    assert response.status_code == 200
    for url, etag in before.items():
        answer = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
        assert answer.status_code == 200, url
        assert answer["ETag"] != etag
    assert api_client.get(detail).json()["price"] == "13.00"


def test_new_etag_after_a_sale_takes_stock(api_client, client_for, catalog):
    hammer, rake = catalog["hammer"], catalog["rake"]
    urls = [PRODUCTS, f"{PRODUCTS}{hammer.pk}/", f"{PRODUCTS}{rake.pk}/"]
    before = {url: etag_of(api_client, url) for url in urls}
    categories = etag_of(api_client, CATEGORIES)
    sale = client_for("sales").post(
        "/api/sales/", {"items": [{"product": hammer.pk, "quantity": 2}]}, format="json"
    )
    assert sale.status_code == 201, sale.json()
    assert etag_of(api_client, PRODUCTS) != before[PRODUCTS]
    assert etag_of(api_client, urls[1]) != before[urls[1]]
    assert api_client.get(urls[1]).json()["stock_quantity"] == 38
    # Untouched rows and tables keep theirs.
    assert api_client.get(urls[2], HTTP_IF_NONE_MATCH=before[urls[2]]).status_code == 304
    assert api_client.get(CATEGORIES, HTTP_IF_NONE_MATCH=categories).status_code == 304


@pytest.mark.embedded
def test_product_list_etag_moves_when_a_write_commits_with_an_older_timestamp(api_client, catalog):
    """A sale stamps updated_at before it commits: one that commits after a later-stamped
    write does not move MAX(updated_at), the sum of the timestamps moves."""
    hammer, rake = catalog["hammer"], catalog["rake"]
    newest = timezone.now() + timedelta(seconds=5)
    Product.objects.filter(pk=rake.pk).update(updated_at=newest)
    before = etag_of(api_client, PRODUCTS)
    Product.objects.filter(pk=hammer.pk).update(
        stock_quantity=1, updated_at=newest - timedelta(seconds=1)
    )
    assert etag_of(api_client, PRODUCTS) != before


def test_new_list_etag_after_a_product_is_deleted(api_client, manager_client, catalog):
    before = etag_of(api_client, PRODUCTS)
    assert manager_client.delete(f"{PRODUCTS}{catalog['loose'].pk}/").status_code == 204
    response = api_client.get(PRODUCTS, HTTP_IF_NONE_MATCH=before)
    assert response.status_code == 200
    assert response["ETag"] != before
    assert len(response.json()["results"]) == 2


def test_new_etags_after_a_category_is_renamed(api_client, manager_client, catalog):
    hammer, tools = catalog["hammer"], catalog["tools"]
    urls = [PRODUCTS, f"{PRODUCTS}{hammer.pk}/", CATEGORIES, f"{CATEGORIES}{tools.pk}/"]
    before = {url: etag_of(api_client, url) for url in urls}
    loose = f"{PRODUCTS}{catalog['loose'].pk}/"
    loose_etag = etag_of(api_client, loose)
    response = manager_client.patch(
        f"{CATEGORIES}{tools.pk}/", {"name": "Hand tools"}, format="json"
    )
    assert response.status_code == 200
    for url, etag in before.items():
        assert etag_of(api_client, url) != etag, url
    assert api_client.get(urls[1]).json()["category_name"] == "Hand tools"
    # A product without a category does not depend on categories.
    assert api_client.get(loose, HTTP_IF_NONE_MATCH=loose_etag).status_code == 304


def test_new_etags_after_an_import_of_products(api_client, manager_client, catalog):
    hammer = catalog["hammer"]
    detail = f"{PRODUCTS}{hammer.pk}/"
    before = {url: etag_of(api_client, url) for url in (PRODUCTS, detail)}
    text = f"sku,name,price\n{hammer.sku},Hammer,14.00\nNEW-1,New thing,3.00\n"
    upload = SimpleUploadedFile("products.csv", text.encode(), content_type="text/csv")
    response = manager_client.post(f"{PRODUCTS}import/", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["report"]["created"] == 1
    for url, etag in before.items():
        assert etag_of(api_client, url) != etag, url
    assert api_client.get(detail).json()["price"] == "14.00"


def test_an_import_that_changes_nothing_keeps_the_etag(api_client, manager_client, catalog):
    hammer = catalog["hammer"]
    before = etag_of(api_client, PRODUCTS)
    text = f"sku,name,price\n{hammer.sku},{hammer.name},{hammer.price}\n"
    upload = SimpleUploadedFile("products.csv", io.BytesIO(text.encode()).getvalue())
    response = manager_client.post(f"{PRODUCTS}import/", {"file": upload}, format="multipart")
    assert response.json()["report"]["unchanged"] == 1
    assert api_client.get(PRODUCTS, HTTP_IF_NONE_MATCH=before).status_code == 304


# --- The ETag names the representation ----------------------------------------------------------


def test_different_etags_for_different_filters_orderings_and_pages(api_client, catalog):
    tools, garden = catalog["tools"], catalog["garden"]
    urls = [
        PRODUCTS,
        f"{PRODUCTS}?category={tools.pk}",
        f"{PRODUCTS}?category={garden.pk}",
        f"{PRODUCTS}?ordering=-price",
        f"{PRODUCTS}?page_size=1",
        f"{PRODUCTS}?page_size=1&page=2",
        f"{CATEGORIES}?search=tool",
    ]
    etags = [etag_of(api_client, url) for url in urls]
    assert len(set(etags)) == len(urls)
    # Another filter's ETag does not validate this one.
    response = api_client.get(urls[1], HTTP_IF_NONE_MATCH=etags[2])
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ["Hammer"]


def test_different_etags_for_anonymous_and_a_user_who_sees_cost(
    api_client, manager_client, client_for, catalog
):
    analyst = client_for("analyst")  # may view products: sees cost too
    hammer = catalog["hammer"]
    for url in (PRODUCTS, f"{PRODUCTS}{hammer.pk}/"):
        anonymous = api_client.get(url)
        manager = manager_client.get(url)
        assert anonymous["ETag"] != manager["ETag"]
        assert etag_of(analyst, url) == manager["ETag"]
        # The manager's copy (with cost) is not current for an anonymous client.
        response = api_client.get(url, HTTP_IF_NONE_MATCH=manager["ETag"])
        assert response.status_code == 200
        assert "cost" not in str(response.json())
        assert manager_client.get(url, HTTP_IF_NONE_MATCH=manager["ETag"]).status_code == 304
    # Categories do not depend on the user.
    assert etag_of(api_client, CATEGORIES) == etag_of(manager_client, CATEGORIES)


def test_the_browsable_api_gets_no_validators(api_client, catalog):
    for url in endpoints(catalog):
        etag = etag_of(api_client, url)
        for html in (
            api_client.get(url, {"format": "api"}),
            api_client.get(url, HTTP_ACCEPT="text/html"),
            api_client.get(url, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=etag),
            api_client.get(url, HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH="*"),
        ):
            assert html.status_code == 200
            assert html["Content-Type"].startswith("text/html")
            assert "ETag" not in html and "Last-Modified" not in html
            assert "no-cache" in html["Cache-Control"]
        # Explicit JSON: the same ETag as the default.
        assert etag_of(api_client, url, HTTP_ACCEPT="application/json") == etag
        assert etag_of(api_client, f"{url}?format=json") != etag  # another URL


def test_json_indentation_is_another_representation(api_client, catalog):
    plain = api_client.get(PRODUCTS)
    indented = api_client.get(PRODUCTS, HTTP_ACCEPT="application/json; indent=4")
    assert indented.content != plain.content
    assert indented["ETag"] != plain["ETag"]


def test_writes_and_other_endpoints_are_unchanged(manager_client, catalog):
    created = manager_client.post(
        PRODUCTS, {"sku": "NEW-2", "name": "New", "price": "1.00"}, format="json"
    )
    assert created.status_code == 201
    assert "ETag" not in created and "Last-Modified" not in created
    assert "Cache-Control" not in created
    for url in ("/api/sales/", "/api/stock-movements/", f"{PRODUCTS}export/?format=json"):
        response = manager_client.get(url)
        assert response.status_code == 200, url
        assert "ETag" not in response and "Last-Modified" not in response
    # Errors carry no validators.
    response = manager_client.get(f"{PRODUCTS}?ordering=nonsense")
    assert response.status_code == 400
    assert "ETag" not in response


# --- The products' serializer: byte for byte the ModelSerializer it replaced -------------------


class ReferenceProductSerializer(serializers.ModelSerializer):
    """The ModelSerializer ProductOutputSerializer replaced, kept as the reference."""

    category_name = serializers.CharField(
        source="category.name", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "category",
            "category_name",
            "price",
            "cost",
            "stock_quantity",
            "is_active",
            "remote_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and not request.user.has_perm("products.view_product"):
            fields.pop("cost")
        return fields


@pytest.mark.parametrize("time_zone", ["UTC", "Europe/Paris"])
def test_product_serializer_renders_the_same_bytes_as_the_model_serializer(
    client_for, catalog, time_zone
):
    tools = catalog["tools"]
    make_product(
        name='Scie égoïne ✓ "quoted"',
        category=tools,
        price="9999999999.99",
        cost="0.00",
        stock=0,
        is_active=False,
    )
    make_product(name="Zero", category=None, price="0", cost="0.5", stock=0)
    # A timestamp without microseconds renders without a fraction.
    Product.objects.filter(name="Zero").update(updated_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    manager = client_for("manager").user
    factory = APIRequestFactory()
    products = list(Product.objects.select_related("category").order_by("name", "id"))
    assert any(p.category_id is None for p in products)
    for user in (None, manager):
        request = factory.get(PRODUCTS)
        if user is not None:
            force_authenticate(request, user=user)
        context = {"request": Request(request)}
        with timezone.override(time_zone):
            new_list = ProductOutputSerializer(products, many=True, context=context).data
            old_list = ReferenceProductSerializer(products, many=True, context=context).data
            assert JSONRenderer().render(new_list) == JSONRenderer().render(old_list)
            assert ("cost" in new_list[0]) is (user is not None)
            for product in products:
                new = ProductOutputSerializer(product, context=context).data
                old = ReferenceProductSerializer(product, context=context).data
                assert JSONRenderer().render(new) == JSONRenderer().render(old)
                assert list(new) == list(old)
    # Without a request (the catalog contract's stored answers): cost included, as before.
    assert ProductOutputSerializer(products[0]).data == ReferenceProductSerializer(products[0]).data
    assert products[0].price == Decimal(ProductOutputSerializer(products[0]).data["price"])
