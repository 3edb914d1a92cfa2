"""One trigram index for the customer search, on the four searched columns as one text.

0002 gave each searched column its own trigram index, and the search asked, per word,
``UPPER(name) LIKE '%W%' OR UPPER(email) LIKE '%W%' OR ...``. On the 1M-sale benchmark data
(100,000 customers) the planner prices that OR of four bitmap scans (~5,400) above a Seq Scan
(~4,700: it does not count what four UPPER()s and LIKEs per row cost), so after any fresh
ANALYZE it read the whole table: 41-177 ms per query, two queries per page, 12 requests/s
under load (``bench/explain_filters.py``, ``bench/http_reads.py`` customer_search).

The search now compares one text per customer, ``UPPER(name || ' ' || email || ' ' || city ||
' ' || phone)`` (``search_in(..., one_text=True)``): one condition per word, answered from
this one index. A word never holds a space, so it is found in that text exactly when it is
found in one of the columns: the same results. The phone index served only this search and
goes; so does the city one (the ``city=`` filter gets a btree on ``UPPER(city)`` in 0004,
which the planner uses where it read the table rather than this GIN index); the name and
email ones stay for the sales search (a sale's customer name or email) and the ``email=``
filter.
"""

from django.db import migrations

from core.migration_operations import PostgresOnlyTrigramIndexes


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_customer_search_trigram_indexes"),
    ]

    operations = [
        PostgresOnlyTrigramIndexes(
            table="customers_customer",
            indexes=[("customer_search_text_trgm_idx", ("name", "email", "city", "phone"))],
        ),
        PostgresOnlyTrigramIndexes(
            table="customers_customer",
            indexes=[("customer_phone_trgm_idx", "phone"), ("customer_city_trgm_idx", "city")],
            drop=True,
        ),
    ]
