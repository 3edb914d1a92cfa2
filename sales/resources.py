"""django-import-export resources: the admin's import/export of sales (one row per sale line,
grouped by reference), backed by sales.tables. The admin records history (no stock change);
taking stock from a file is the import_data command's and the API's ``apply_stock``."""

from core.dataio.admin import TableResource


class SaleResource(TableResource):
    table_name = "sales"
