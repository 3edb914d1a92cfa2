"""A trigram index on the sale reference (PostgreSQL only; nothing on SQLite).

Two filters of ``GET /api/sales/`` compare ``UPPER(reference::text)``, which neither the unique
btree on ``reference`` nor its ``varchar_pattern_ops`` twin can serve:

- ``?reference=`` (``iexact``: ``UPPER(reference::text) = UPPER('x')``): before, on 1M sales,
  the planner walked ``sale_sold_at_id_idx`` filtering every row (226 ms for a reference three
  months old, longer the older it is);
- ``?search=`` (``search_in("reference", "customer__name", "customer__email")``, every word
  ``LIKE '%w%'``): before, a parallel Seq Scan of sales_sale and customers_customer with a hash
  join (450-510 ms for a reference, a full name or an email).

One GIN ``gin_trgm_ops`` index on ``UPPER((reference)::text)`` answers both: ``LIKE`` and, since
pg_trgm 1.6 (PostgreSQL 14+), ``=``. A btree on the same expression would be smaller and faster
for ``iexact`` only; one index for both costs less on every insert (the sales import writes
a million rows at a time; GIN's pending list batches them). The customer side of the search
uses the indexes of customers 0002, through the shape ``search_in`` gives a search across a
relation (a ``UNION ALL`` of one index-friendly subquery per table, see
``core/api/filtering.py``): an OR across a join cannot use indexes.

Not ``CONCURRENTLY`` (this runs in the migration's transaction; building it on 1M sales takes
a few seconds and blocks writes to sales_sale meanwhile): on a big live table, create it by hand
first with ``CREATE INDEX CONCURRENTLY`` and the same name; ``IF NOT EXISTS`` keeps this one
from building it again.
"""

from django.db import migrations

from core.migration_operations import PostgresOnlyTrigramIndexes


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_customer_search_trigram_indexes"),  # creates the pg_trgm extension
        ("sales", "0003_drop_redundant_fk_indexes"),
    ]

    operations = [
        PostgresOnlyTrigramIndexes(
            table="sales_sale",
            indexes=[("sale_reference_trgm_idx", "reference")],
        ),
    ]
