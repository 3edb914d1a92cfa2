from django.conf import settings
from rest_framework import serializers

from sales.models import Sale, SaleItem
from sales.services import MAX_LINE_QUANTITY, SaleLine


class SaleItemOutputSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = SaleItem
        fields = ["product", "sku", "name", "quantity", "unit_price", "line_total"]
        read_only_fields = fields


class SaleOutputSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True, default=None)
    items = SaleItemOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Sale
        fields = [
            "id",
            "reference",
            "customer",
            "customer_name",
            "sold_at",
            "status",
            "total",
            "cancelled_at",
            "created_at",
            "updated_at",
            "items",
        ]
        read_only_fields = fields


class SaleLineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, help_text="Product id.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class SaleInputSerializer(serializers.Serializer):
    customer = serializers.IntegerField(
        min_value=1, allow_null=True, required=False, help_text="Customer id, or null."
    )
    sold_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    reference = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="Generated when left out."
    )
    items = SaleLineInputSerializer(
        many=True, allow_empty=False, max_length=settings.SALE_MAX_LINES
    )

    def to_representation(self, instance):
        """The body that would write ``instance`` (the browsable API's edit form shows it)."""
        if not isinstance(instance, Sale):
            return super().to_representation(instance)
        body = {
            "customer": instance.customer_id,
            "sold_at": self.fields["sold_at"].to_representation(instance.sold_at),
            "items": [
                {"product": item.product_id, "quantity": item.quantity}
                for item in instance.items.all()
            ],
        }
        if "reference" in self.fields:
            body["reference"] = instance.reference
        return body

    @staticmethod
    def lines(validated_data) -> list[SaleLine] | None:
        items = validated_data.get("items")
        if items is None:
            return None
        return [SaleLine(product_id=item["product"], quantity=item["quantity"]) for item in items]


class SaleUpdateInputSerializer(SaleInputSerializer):
    """PUT replaces customer, sold_at and items; PATCH changes only what it sends."""

    reference = None
