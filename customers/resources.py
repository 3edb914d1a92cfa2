"""django-import-export resources: the admin's import/export, backed by customers.tables."""

from core.dataio.admin import TableResource


class CustomerResource(TableResource):
    table_name = "customers"
