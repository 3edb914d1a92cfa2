"""The trigram indexes of the searches (customers 0002-0003, sales 0004) and the SQL shape of
``search_in`` (``core/api/filtering.py``).

On PostgreSQL the indexes must exist on exactly the expressions Django compares
(``UPPER((col)::text)``, ``gin_trgm_ops``); on SQLite (the embedded default) the migrations do
nothing and migrate both ways. Whatever the database, the searches answer the same: every word,
case-insensitive, somewhere in the fields (across the customer of a sale too). That the
planner uses the indexes on real volumes is measured by ``bench/explain_filters.py``.
"""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.api import ids
from tests.factories import make_customer, make_product, make_sale

pytestmark = [pytest.mark.usefixtures("fast_password_hasher")]

TRIGRAM_INDEXES = {
    # the customer search: the four searched columns as one text (customers 0003)
    "customer_search_text_trgm_idx": (
        "customers_customer",
        "upper((((((((name)::text || ' '::text) || (email)::text) || ' '::text) || "
        "(city)::text) || ' '::text) || (phone)::text))",
    ),
    # the sales search (a sale's customer name or email) and the email= filter
    "customer_name_trgm_idx": ("customers_customer", "upper((name)::text)"),
    "customer_email_trgm_idx": ("customers_customer", "upper((email)::text)"),
    "sale_reference_trgm_idx": ("sales_sale", "upper((reference)::text)"),
    # the product search (name, SKU) and the sku= filter (products 0007)
    "product_name_trgm_idx": ("products_product", "upper((name)::text)"),
    "product_sku_trgm_idx": ("products_product", "upper((sku)::text)"),
}
GONE = ["customer_phone_trgm_idx", "customer_city_trgm_idx"]  # 0002's, dropped by 0003
LATEST = [
    ("customers", "0003_customer_search_text_trigram_index"),
    ("sales", "0004_sale_reference_trigram_index"),
    ("products", "0007_product_search_trigram_indexes"),
]


def trigram_indexes() -> dict[str, tuple[str, str]]:
    """{index name: (table, definition)} of our trigram indexes present in the database."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, tablename, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND indexname = ANY(%s)",
            [list(TRIGRAM_INDEXES)],
        )
        return {name: (table, definition) for name, table, definition in cursor.fetchall()}


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


@pytest.fixture
def people():
    ada = make_customer(
        name="Ada Lovelace", email="ada@math.org", city="London", phone="+44 20 7946 0018"
    )
    bob = make_customer(
        name="Bob Martin", email="bob.builder@acme.com", city="Paris", phone="+33 1 4020 5060"
    )
    cyd = make_customer(
        name="Cyd Charisse", email="cyd@dance.com", city="paris", phone="+1 212-555-0100"
    )
    dan = make_customer(name="Dan Örsted", email="dan@örsted.dk", city="København", phone="")
    return {"ada": ada, "bob": bob, "cyd": cyd, "dan": dan}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL indexes")
def test_the_trigram_indexes_exist_on_the_expressions_django_compares():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None, "pg_trgm is not installed"
    found = trigram_indexes()
    assert set(found) == set(TRIGRAM_INDEXES)
    for name, (table, expression) in TRIGRAM_INDEXES.items():
        found_table, definition = found[name]
        assert found_table == table
        assert " USING gin " in definition, definition
        assert f"{expression} gin_trgm_ops" in definition, definition
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [GONE])
        assert cursor.fetchall() == []


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL SQL")
def test_the_customer_search_compares_the_indexed_text_once_for_all_words():
    """One subquery whose condition is the index's expression, each word AND-ed: PostgreSQL
    answers it with one scan of customer_search_text_trgm_idx."""
    from customers.filters import CustomerFilter
    from customers.models import Customer

    sql = str(CustomerFilter({"search": "ada london"}, queryset=Customer.objects.all()).qs.query)
    text = '"name" || \' \' || U0."email" || \' \' || U0."city" || \' \' || U0."phone")'
    assert sql.count("ANY(ARRAY(SELECT") == 1, sql
    assert sql.count(text) == 2 and "LIKE UPPER(" in sql, sql


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL SQL")
def test_a_search_across_the_customer_of_a_sale_is_one_index_friendly_condition(sales, monkeypatch):
    """The matching customers' ids first, then ``customer_id IN (ids)`` OR-ed with the
    reference: a BitmapOr of the sale's indexes, no join. A single word found in more
    customers than RELATED_MATCHES_MAX goes through the join (the planner walks the list's
    order). With more words, the customers holding every word are read first: few, and the
    candidates (``customer_id IN (ids)`` or a word in the reference) are read from the indexes
    once (``id = ANY(ARRAY(SELECT ...))``) and each word checked on them through the join;
    many, and the list's order is walked through the join."""
    from django.db.models import Q

    from core.api import filtering
    from sales.filters import SaleFilter
    from sales.models import Sale

    def sql_for(search):
        return str(SaleFilter({"search": search}, queryset=Sale.objects.all()).qs.query)

    rare = sql_for("martin")
    assert '"sales_sale"."customer_id" IN (' in rare, rare
    assert 'UPPER("sales_sale"."reference"::text) LIKE' in rare, rare
    assert "JOIN" not in rare and "ANY(ARRAY(" not in rare, rare

    monkeypatch.setattr(filtering, "RELATED_MATCHES_MAX", 0)  # every word is "common" now
    one_common = sql_for("martin")
    assert "JOIN" in one_common and "ANY(ARRAY(" not in one_common, one_common
    two_common = sql_for("bob martin")  # more than 0 customers hold both: dense
    assert "JOIN" in two_common and "ANY(ARRAY(" not in two_common, two_common
    monkeypatch.setattr(filtering, "RELATED_MATCHES_MAX", 1000)
    two_rare = sql_for("bob martin")
    assert two_rare.count("ANY(ARRAY(SELECT") == 1 and "JOIN" in two_rare, two_rare
    assert '"customer_id" IN (' in two_rare, two_rare  # in the candidates' subquery
    for search in ("bob martin", "inv martin", "bob zzz"):
        plain = Sale.objects.order_by("pk")
        for word in search.split():
            plain = plain.filter(
                Q(reference__icontains=word)
                | Q(customer__name__icontains=word)
                | Q(customer__email__icontains=word)
            )
        got = SaleFilter({"search": search}, queryset=Sale.objects.order_by("pk")).qs
        assert list(got) == list(plain), search
    expected = list(Sale.objects.filter(Q(customer__name__icontains="martin")).order_by("pk"))
    assert len(expected) == 2
    assert list(SaleFilter({"search": "martin"}, queryset=Sale.objects.order_by("pk")).qs) == (
        expected
    )


@pytest.mark.embedded
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("lovelace", ["ada"]),  # name
        ("LOVELACE", ["ada"]),  # any case
        ("ada@math", ["ada"]),  # email
        ("ACME.COM", ["bob"]),  # email, any case
        ("paris", ["bob", "cyd"]),  # city, stored as Paris and paris
        ("555-0100", ["cyd"]),  # phone
        ("4020", ["bob"]),  # a part of a phone
        ("paris martin", ["bob"]),  # every word must match, each in any field
        ("martin london", []),  # each word matches someone, never the same one
        ("ada 7946 london", ["ada"]),  # name, phone and city
        ("örsted", ["dan"]),  # non-ASCII
        ("københavn", ["dan"]),
        # a word shorter than a trigram ("ar") is a 400: tests/api/test_bounds.py
        ("nobody", []),
    ],
)
def test_customer_search_matches_every_word_in_any_field(analyst, people, search, expected):
    response = analyst.get("/api/customers/", {"search": search, "ordering": "name"})
    assert response.status_code == 200, response.content
    assert ids(response) == [people[key].pk for key in expected]
    assert response.json()["count"] == len(expected)


@pytest.fixture
def sales(people):
    hammer = make_product(sku="HAM-1", name="Hammer", price="10.00", stock=100)

    def sale(reference, customer, day):
        return make_sale(
            items=[(hammer, 1)],
            customer=customer,
            reference=reference,
            sold_at=datetime(2024, 3, day, 12, tzinfo=UTC),
        )

    return {
        "a1": sale("INV-2024-0001", people["ada"], 1),
        "b1": sale("INV-2024-0002", people["bob"], 2),
        "b2": sale("POS-MARTIN-7", people["bob"], 3),
        "c1": sale("POS-2024-0003", people["cyd"], 4),
        "n1": sale("POS-2024-0004", None, 5),  # no customer
        "n2": sale("WEB-LOVELACE", None, 6),  # the word in the reference only
    }


@pytest.mark.embedded
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("inv-2024-0001", ["a1"]),  # reference, any case
        ("2024", ["n1", "c1", "b1", "a1"]),  # part of references, newest first
        ("pos", ["n1", "c1", "b2"]),
        ("martin", ["b2", "b1"]),  # customer name (b2 also in its reference: once)
        ("Lovelace", ["n2", "a1"]),  # reference of a sale without customer, customer name
        ("ACME.COM", ["b2", "b1"]),  # customer email
        ("bob pos", ["b2"]),  # customer name and reference, both words needed
        ("pos 0004", ["n1"]),  # both words in the reference of a sale without customer
        ("cyd ada", []),
        ("london", []),  # the customer's city is not searched on sales
        ("nobody", []),
    ],
)
def test_sale_search_matches_reference_or_customer_name_or_email(analyst, sales, search, expected):
    response = analyst.get("/api/sales/", {"search": search})
    assert response.status_code == 200, response.content
    assert ids(response) == [sales[key].pk for key in expected]


@pytest.mark.embedded
@pytest.mark.django_db(transaction=True)
def test_the_migrations_go_back_and_forth_and_do_nothing_off_postgresql():
    """On SQLite the trigram migrations are applied (the test database was migrated) and
    create nothing; on PostgreSQL they create the indexes; both ways, on either."""
    executor = MigrationExecutor(connection)
    applied = executor.loader.applied_migrations
    assert all(key in applied for key in LATEST)
    expected = set(TRIGRAM_INDEXES) if connection.vendor == "postgresql" else set()
    assert set(trigram_indexes()) == expected
    try:
        call_command("migrate", "customers", "0001", verbosity=0)  # unapplies sales 0004 too
        assert trigram_indexes() == {}
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
                assert cursor.fetchone() is None
    finally:
        call_command("migrate", verbosity=0)
    assert set(trigram_indexes()) == expected
    executor = MigrationExecutor(connection)
    assert all(key in executor.loader.applied_migrations for key in LATEST)


@pytest.mark.embedded
@pytest.mark.django_db
def test_percent_and_underscore_in_a_search_word_are_literal(analyst):
    wanted = make_customer(name="Promo 100% Ltd", email="x_y@shop.example")
    make_customer(name="Promo 1000 Ltd", email="xzy@shop.example")
    assert ids(analyst.get("/api/customers/", {"search": "100%"})) == [wanted.pk]
    assert ids(analyst.get("/api/customers/", {"search": "x_y"})) == [wanted.pk]
    assert ids(analyst.get("/api/customers/", {"search": "promo ltd"})) != []
