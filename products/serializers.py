from rest_framework import serializers

from products.models import Category, Product, StockMovement


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

    category_name = serializers.CharField(source="category.name", read_only=True, default=None)

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
    actor = serializers.CharField(source="actor.get_username", read_only=True, default=None)

    class Meta:
        model = StockMovement
        fields = ["id", "product", "delta", "reason", "reference", "actor", "created_at"]
        read_only_fields = fields
