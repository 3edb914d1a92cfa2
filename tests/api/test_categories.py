"""/api/categories/: CRUD, unique names whatever the case, protected delete."""

import pytest

from products.models import Category
from tests.api import assert_error
from tests.factories import make_category, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/categories/"


def detail(category) -> str:
    return f"{URL}{category.pk}/"


def test_category_crud_round_trip(manager_client):
    created = manager_client.post(URL, {"name": " Garden ", "description": "Outdoor"}, "json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["name"] == "Garden"
    assert body["description"] == "Outdoor"
    category = Category.objects.get(pk=body["id"])
    assert category.name == "Garden"

    assert manager_client.get(detail(category)).json() == body
    assert [row["id"] for row in manager_client.get(URL).json()["results"]] == [category.pk]

    replaced = manager_client.put(detail(category), {"name": "Yard"}, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["name"] == "Yard"
    category.refresh_from_db()
    assert category.name == "Yard"

    patched = manager_client.patch(detail(category), {"description": "Lawn"}, format="json")
    assert patched.status_code == 200
    assert patched.json() | {"updated_at": None} == {
        **body,
        "name": "Yard",
        "description": "Lawn",
        "updated_at": None,
    }
    category.refresh_from_db()
    assert category.description == "Lawn"

    assert manager_client.delete(detail(category)).status_code == 204
    assert not Category.objects.filter(pk=category.pk).exists()


def test_duplicate_name_in_another_case_is_400(manager_client):
    make_category(name="Books")
    error = assert_error(manager_client.post(URL, {"name": "BOOKS"}, "json"), 400, "invalid")
    assert "name" in error["fields"]
    assert Category.objects.count() == 1


def test_renaming_onto_a_taken_name_is_400(manager_client):
    make_category(name="Books")
    other = make_category(name="Music")
    error = assert_error(manager_client.patch(detail(other), {"name": "books"}, "json"), 400)
    assert "name" in error["fields"]
    other.refresh_from_db()
    assert other.name == "Music"


def test_blank_name_is_400(manager_client):
    error = assert_error(manager_client.post(URL, {"name": ""}, "json"), 400, "invalid")
    assert "name" in error["fields"]


def test_delete_category_with_products_is_409_and_keeps_it(manager_client):
    category = make_category()
    make_product(category=category)
    error = assert_error(manager_client.delete(detail(category)), 409, "protected")
    assert "products" in error["message"]
    assert Category.objects.filter(pk=category.pk).exists()


def test_unknown_category_is_404(manager_client):
    assert_error(manager_client.get(f"{URL}999999/"), 404, "not_found")
    assert_error(manager_client.patch(f"{URL}999999/", {"name": "x"}, "json"), 404)
