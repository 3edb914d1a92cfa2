from rest_framework import serializers

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
        validators = []


class ProductOutputSerializer(serializers.ModelSerializer):
    """Product JSON (also the catalog contract: ``id``, ``name``, ``price``, ``stock_quantity``).

    ``cost`` is shown only to users allowed to view products in the back office; the public
    catalog never sees it.
    """

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
        validators = []
        extra_kwargs = {"sku": {"validators": []}}


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
