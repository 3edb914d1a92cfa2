"""Trigram indexes for the product search (``search=`` on name and SKU, issue 13).

``search_in("name", "sku")`` asks, per word, ``UPPER(name) LIKE '%W%' OR UPPER(sku) LIKE
'%W%'``: without an index on each expression every search read the whole table (3 ms on the
5,000 products of the benchmark set, but a catalog grows). One GIN ``gin_trgm_ops`` index per
column, on exactly the expression Django compares, makes it a BitmapOr; the SKU one also
answers ``sku=`` (``iexact``, ``UPPER(sku) = UPPER(...)``, pg_trgm 1.6+). Categories, a few
dozen rows, get none. PostgreSQL only; SQLite does nothing both ways.
"""

from django.db import migrations

from core.migration_operations import PostgresOnlyTrigramIndexes


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_customer_search_trigram_indexes"),  # creates the pg_trgm extension
        ("products", "0006_product_remote_id"),
    ]

    operations = [
        PostgresOnlyTrigramIndexes(
            table="products_product",
            indexes=[("product_name_trgm_idx", "name"), ("product_sku_trgm_idx", "sku")],
        ),
    ]
