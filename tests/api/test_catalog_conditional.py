"""The products' hand-written serializer renders byte for byte what the ModelSerializer it
replaced rendered."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate

from products.models import Product
from products.serializers import ProductOutputSerializer
from tests.factories import make_category, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PRODUCTS = "/api/products/"


@pytest.fixture
def catalog(db):
    tools = make_category(name="Tools")
    garden = make_category(name="Garden")
    hammer = make_product(name="Hammer", category=tools, price="12.50", cost="7.25", stock=40)
    rake = make_product(name="Rake", category=garden, price="20.00", stock=5)
    loose = make_product(name="Loose", category=None, price="1.00")
    return {"tools": tools, "garden": garden, "hammer": hammer, "rake": rake, "loose": loose}


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
