from rest_framework import viewsets

from accounts.permissions import PublicReadRoleModelPermissions
from products import selectors, services
from products.filters import CategoryFilter, ProductFilter, StockMovementFilter
from products.serializers import (
    CategoryInputSerializer,
    CategoryOutputSerializer,
    ProductInputSerializer,
    ProductOutputSerializer,
    StockMovementOutputSerializer,
)
from salesproject.views import ServiceModelViewSet


class CategoryViewSet(ServiceModelViewSet):
    """Product categories. Anyone may read them; writes need a manager."""

    queryset = selectors.category_list()
    permission_classes = [PublicReadRoleModelPermissions]
    input_serializer_class = CategoryInputSerializer
    output_serializer_class = CategoryOutputSerializer
    filterset_class = CategoryFilter
    ordering_fields = ["name", "created_at"]
    ordering = ["name", "id"]

    def create_object(self, data):
        return services.category_create(**data)

    def update_object(self, instance, data):
        return services.category_update(category=instance, data=data)

    def delete_object(self, instance):
        services.category_delete(category=instance)


class ProductViewSet(ServiceModelViewSet):
    """Products: the public catalog. Anyone may read; `cost` is shown only to staff roles.
    Setting `stock_quantity` records the difference in the stock ledger."""

    queryset = selectors.product_list()
    permission_classes = [PublicReadRoleModelPermissions]
    input_serializer_class = ProductInputSerializer
    output_serializer_class = ProductOutputSerializer
    filterset_class = ProductFilter
    ordering_fields = ["name", "sku", "price", "stock_quantity", "created_at", "updated_at"]
    ordering = ["name", "id"]

    def create_object(self, data):
        return services.product_create(**data, actor=self.request.user)

    def update_object(self, instance, data):
        return services.product_update(product=instance, data=data, actor=self.request.user)

    def delete_object(self, instance):
        services.product_delete(product=instance)


class StockMovementViewSet(viewsets.ReadOnlyModelViewSet):
    """The stock ledger, newest first: every stock change, with its reason and reference.
    Per product the deltas sum to `stock_quantity`. Filter with `product=`."""

    queryset = selectors.stock_movement_list()
    serializer_class = StockMovementOutputSerializer
    filterset_class = StockMovementFilter
    ordering_fields = ["created_at", "delta"]
    ordering = ["-created_at", "-id"]
