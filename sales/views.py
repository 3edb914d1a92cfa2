from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action

from sales import selectors, services
from sales.filters import SaleFilter
from sales.serializers import SaleInputSerializer, SaleOutputSerializer, SaleUpdateInputSerializer
from salesproject.pagination import SaleCursorPagination
from salesproject.views import ServiceModelViewSet


class SaleViewSet(ServiceModelViewSet):
    """Sales. Creating one takes its stock through the catalog; prices and the total are
    computed by the server. Cursor-paginated (newest first by default)."""

    queryset = selectors.sale_list()
    input_serializer_class = SaleInputSerializer
    output_serializer_class = SaleOutputSerializer
    pagination_class = SaleCursorPagination
    filterset_class = SaleFilter
    ordering_fields = ["sold_at", "total", "created_at"]
    ordering = ["-sold_at", "-id"]
    action_permissions = {"cancel": ["sales.cancel_sale"]}

    def get_serializer_class(self):
        serializer_class = super().get_serializer_class()
        if serializer_class is SaleInputSerializer and self.request.method in ("PUT", "PATCH"):
            return SaleUpdateInputSerializer
        return serializer_class

    def create_object(self, data):
        return services.sale_create(
            lines=SaleInputSerializer.lines(data),
            customer_id=data.get("customer"),
            sold_at=data.get("sold_at"),
            reference=data.get("reference"),
            created_by=self.request.user,
        )

    def update_object(self, instance, data):
        changes = {key: data[key] for key in ("sold_at",) if key in data}
        if "customer" in data:
            changes["customer_id"] = data["customer"]
        return services.sale_update(
            sale=instance, lines=SaleInputSerializer.lines(data), actor=self.request.user, **changes
        )

    def delete_object(self, instance):
        services.sale_delete(sale=instance, actor=self.request.user)

    @extend_schema(request=None, responses=SaleOutputSerializer, summary="Cancel a sale")
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Return the sale's stock and keep the record with status `cancelled`. A second
        cancel is a 409 and restocks nothing."""
        sale = services.sale_cancel(sale=self.get_object(), actor=request.user)
        return self.render(self.refetch(sale))
