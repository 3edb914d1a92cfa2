from core.api.views import ServiceModelViewSet
from core.dataio.views import TableBulkMixin, TableImportExportMixin
from customers import selectors, services
from customers.filters import CustomerFilter
from customers.serializers import CustomerInputSerializer, CustomerOutputSerializer


class CustomerViewSet(TableBulkMixin, TableImportExportMixin, ServiceModelViewSet):
    """Customers. `search=` looks in name, email, city and phone."""

    data_table = "customers"
    oauth_scopes = {"safe": "read", "unsafe": "write", "import_file": "import", "bulk": "import"}
    queryset = selectors.customer_list()
    input_serializer_class = CustomerInputSerializer
    output_serializer_class = CustomerOutputSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["name", "email", "city", "country", "segment", "created_at"]
    ordering = ["name", "id"]

    def create_object(self, data):
        return services.customer_create(**data)

    def update_object(self, instance, data):
        return services.customer_update(customer=instance, data=data)

    def delete_object(self, instance):
        services.customer_delete(customer=instance)
