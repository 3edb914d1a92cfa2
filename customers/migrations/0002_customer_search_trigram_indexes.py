"""Trigram indexes for the customer search (PostgreSQL only; nothing on SQLite).

``GET /api/customers/?search=w1 w2`` (``CustomerFilter.search`` → ``search_in("name", "email",
"city", "phone")``) asks, for every word, ``UPPER(col::text) LIKE UPPER('%w%')`` OR-ed over the
four columns. A leading ``%`` rules out any btree, so on 100,000 customers both queries of the
page (``COUNT(*)`` and the page) read the whole table (``bench/explain_filters.py``: a parallel
Seq Scan, 53-67 ms per query alone, ~1.3 s per request under load).

One GIN ``gin_trgm_ops`` index per searched column, on exactly the expression Django compares
(``UPPER((col)::text)``), lets the planner answer each word with a BitmapOr of the four index
scans. All four are needed: an OR with one unindexed column is a Seq Scan again. pg_trgm (1.6,
PostgreSQL 14+) also answers ``=`` from these indexes, which serves the ``email`` and ``city``
filters (``iexact``: ``UPPER(col::text) = UPPER('x')``, which the ``LOWER(email)`` unique index
cannot serve).

The cost: four GIN indexes (2-7 MB each on 100,000 customers) to maintain on every customer
insert and update (GIN's pending list batches them); customers are written far less often
than searched, and the sales import does not write them.

The operations (``core/migration_operations.py``) do nothing on other databases (SQLite,
the embedded default), forwards and backwards, and need no ``django.contrib.postgres`` in
``INSTALLED_APPS``. ``PostgresOnlyTrigramExtension`` is ``CREATE EXTENSION IF NOT EXISTS
pg_trgm`` (a trusted extension since PostgreSQL 13: a database owner may create it without
being superuser). ``PostgresOnlyTrigramIndexes`` creates the indexes, then runs ``ANALYZE`` so
that the planner has statistics on the indexed expressions at once (without them it misjudges
``LIKE`` until the next auto-analyze). Not ``CONCURRENTLY`` (this runs in the migration's
transaction; a few seconds on 100,000 customers, writes to the table wait meanwhile): on a big
live table, create them by hand first with ``CREATE INDEX CONCURRENTLY`` and the same names;
``IF NOT EXISTS`` keeps the migration from building them again.
"""

from django.db import migrations

from core.migration_operations import (
    PostgresOnlyTrigramExtension,
    PostgresOnlyTrigramIndexes,
)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
    ]

    operations = [
        PostgresOnlyTrigramExtension(),
        PostgresOnlyTrigramIndexes(
            table="customers_customer",
            indexes=[
                ("customer_name_trgm_idx", "name"),
                ("customer_email_trgm_idx", "email"),
                ("customer_city_trgm_idx", "city"),
                ("customer_phone_trgm_idx", "phone"),
            ],
        ),
    ]
