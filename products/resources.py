"""django-import-export resources: the admin's import/export, backed by products.tables."""

from core.dataio.admin import TableResource


class CategoryResource(TableResource):
    table_name = "categories"


class ProductResource(TableResource):
    table_name = "products"
