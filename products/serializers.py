from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from products.models import Category, Product, StockMovement

# ``stock_quantity`` and ledger deltas are 32-bit integer columns.
MAX_STOCK_QUANTITY = 2_147_483_647


class CategoryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "description", "created_at", "updated_at"]
        read_only_fields = fields


class CategoryInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["name", "description"]
        validators: list[Any] = []


# Bump when the product or category JSON changes (fields, formats): it is part of the ETags of
# the catalog reads (core/api/conditional.py), so clients never keep an old shape.
PRODUCT_REPRESENTATION_VERSION = "2"  # 2: remote_id
CATEGORY_REPRESENTATION_VERSION = "1"

_CENT = Decimal("0.01")


def product_shows_cost(request) -> bool:
    """Whether the product JSON includes ``cost``: only for users allowed to view products in
    the back office (and outside a request, e.g. in the catalog contract's stored answers)."""
    return request is None or request.user.has_perm("products.view_product")


def _fast_path_settings() -> bool:
    """The hand-written rendering below reproduces DRF's under these settings (the project's);
    under others the serializer renders field by field, as DRF does."""
    return (
        api_settings.COERCE_DECIMAL_TO_STRING is True
        and not api_settings.COERCE_BIGINT_TO_STRING
        and str(api_settings.DATETIME_FORMAT).lower() == ISO_8601
        and settings.USE_TZ
    )


def _money(value) -> str:
    """As ``DecimalField(max_digits=12, decimal_places=2)`` renders it: ``"12.50"``."""
    if not isinstance(value, Decimal):
        value = Decimal(str(value).strip())
    return f"{value.quantize(_CENT):f}"


def _datetime(value, tz) -> str | None:
    """As ``DateTimeField`` renders it (ISO 8601 in the current time zone, ``Z`` for UTC)."""
    if not value:
        return None
    value = value.astimezone(tz) if timezone.is_aware(value) else timezone.make_aware(value, tz)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class ProductOutputSerializer(serializers.Serializer):
    """Product JSON (also the catalog contract: ``id``, ``name``, ``price``, ``stock_quantity``).

    ``cost`` is shown only to users allowed to view products in the back office; the public
    catalog never sees it.
    """

    # A plain Serializer whose to_representation builds the dict directly: the declared fields
    # describe the JSON (OpenAPI schema, browsable API) but are not built per request or called
    # per row (the ModelSerializer this replaced spent most of a list's rendering there). The
    # output is byte for byte the ModelSerializer's (tests/api/test_catalog_conditional.py
    # compares them); change both together and bump PRODUCT_REPRESENTATION_VERSION.

    id = serializers.BigIntegerField(label="ID", read_only=True)
    sku = serializers.CharField(label="SKU", read_only=True)
    name = serializers.CharField(read_only=True)
    category = serializers.IntegerField(source="category_id", allow_null=True, read_only=True)
    category_name = serializers.CharField(
        source="category.name", read_only=True, default=None, allow_null=True
    )
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, read_only=True, help_text="Unit cost, for margin."
    )
    stock_quantity = serializers.IntegerField(
        read_only=True, help_text="Changed only through the stock ledger (StockMovement)."
    )
    is_active = serializers.BooleanField(read_only=True)
    remote_id = serializers.IntegerField(
        label="Remote catalog id",
        read_only=True,
        allow_null=True,
        help_text="CATALOG_BACKEND=http: the remote catalog's id of the product this row mirrors; "
        "null for our own products.",
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        if not product_shows_cost(self.context.get("request")):
            fields.pop("cost")
        return fields

    def to_representation(self, instance):
        # Per serializer (once for a whole list: the ListSerializer's child renders every row).
        fast = self.__dict__.get("_fast")
        if fast is None:
            fast = self._fast = (
                _fast_path_settings(),
                product_shows_cost(self.context.get("request")),
                timezone.get_current_timezone(),
            )
        fast_path, shows_cost, tz = fast
        if not fast_path:
            return super().to_representation(instance)
        category_id = instance.category_id
        data = {
            "id": instance.id,
            "sku": str(instance.sku),
            "name": str(instance.name),
            "category": category_id,
            "category_name": None if category_id is None else str(instance.category.name),
            "price": _money(instance.price),
        }
        if shows_cost:
            data["cost"] = _money(instance.cost)
        data["stock_quantity"] = int(instance.stock_quantity)
        data["is_active"] = bool(instance.is_active)
        remote_id = instance.remote_id
        data["remote_id"] = None if remote_id is None else int(remote_id)
        data["created_at"] = _datetime(instance.created_at, tz)
        data["updated_at"] = _datetime(instance.updated_at, tz)
        return data


class ProductInputSerializer(serializers.ModelSerializer):
    stock_quantity = serializers.IntegerField(
        min_value=0,
        max_value=MAX_STOCK_QUANTITY,
        required=False,
        help_text="Setting it records the difference in the stock ledger as an adjustment.",
    )
    price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    cost = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = Product
        fields = ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"]
        validators: list[Any] = []
        extra_kwargs: dict[str, dict[str, Any]] = {"sku": {"validators": []}}


class StockMovementOutputSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(
        source="actor.get_username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = StockMovement
        fields = ["id", "product", "delta", "reason", "reference", "actor", "created_at"]
        read_only_fields = fields


class CatalogQuantityInputSerializer(serializers.Serializer):
    """``{"quantity": n}`` of the catalog contract: a positive whole number."""

    quantity = serializers.IntegerField(min_value=1, max_value=MAX_STOCK_QUANTITY)

    def to_internal_value(self, data):
        quantity = data.get("quantity") if hasattr(data, "get") else None
        if isinstance(quantity, bool | float):  # JSON true or 2.0 are not whole numbers
            raise serializers.ValidationError({"quantity": ["A valid integer is required."]})
        return super().to_internal_value(data)

    def first_error(self) -> str:
        if "quantity" in self.errors:
            return f"quantity: {self.errors['quantity'][0]}"
        return str(next(iter(self.errors.values()))[0])


class CatalogDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PriceUpdateInputSerializer(serializers.Serializer):
    """Which products (every given criterion must hold; at least one) and how their price
    changes (``percent`` or ``amount``)."""

    category = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        help_text="Category ids.",
    )
    skus = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False
    )
    price_min = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    price_max = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    percent = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        required=False,
        help_text="E.g. 5 raises prices by 5%, -10 lowers them by 10% (rounded to the cent).",
    )
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, help_text="Added to each price."
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Show what would change (first 100) and write nothing."
    )

    def validate(self, data):
        if not any(name in data for name in ("category", "skus", "price_min", "price_max")):
            raise serializers.ValidationError(
                "Choose the products: category, skus, price_min or price_max (at least one)."
            )
        if ("percent" in data) == ("amount" in data):
            raise serializers.ValidationError({"percent": ["Give percent or amount (one)."]})
        if "category" in data:
            known = set(
                Category.objects.filter(pk__in=data["category"]).values_list("pk", flat=True)
            )
            unknown = sorted(set(data["category"]) - known)
            if unknown:
                raise serializers.ValidationError(
                    {"category": [f"Unknown category ids: {unknown}."]}
                )
        return data

    def selection(self) -> dict:
        data = self.validated_data
        return {
            "category_ids": data.get("category"),
            "skus": data.get("skus"),
            "price_min": data.get("price_min"),
            "price_max": data.get("price_max"),
        }
