"""List endpoints run a fixed number of SQL queries whatever the page size.

Each case is measured with 5 rows and again with 50 rows on the page, with a fresh client and
user each time (a user caches its permissions, so reusing one would hide the permission
queries of the second request). The expected number is spelled out:

- a role's permission check loads the user's and the groups' permissions: 2 queries;
- a page-number list: ``COUNT(*)`` + the page: 2 queries (joins done with select_related);
- a cursor list: sales, the page + the page's items (with their products): 2 queries; the
  stock ledger, the page (product and actor joined): 1 query;
- the catalog lists (categories, products) first read their validator for the ETag and
  Last-Modified headers (core/api/conditional.py): 1 query;
- the customers list, for a user who may read analytics: the page's lifetime figures
  (analytics/customer_api.py): 1 query.
"""

import pytest

from sales.models import SaleItem
from tests.factories import make_category, make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PERMISSIONS = 2  # user permissions + group permissions, once per request
VALIDATOR = 1  # the catalog lists' ETag / Last-Modified query
LIFETIMES = 1  # the customers list's lifetime rows of the page (every role reads analytics)


def _customers(n, start):
    for i in range(start, start + n):
        make_customer(name=f"Customer {i:03d}", country="FR", city="Lyon")


def _categories(n, start):
    for i in range(start, start + n):
        make_category(name=f"Category {i:03d}")


def _products(n, start):
    categories = [make_category(name=f"Cat {start}-{k}") for k in range(3)]
    for i in range(start, start + n):
        make_product(name=f"Product {i:03d}", category=categories[i % 3], stock=10)


def _stock_movements(n, start):
    for i in range(start, start + n):
        make_product(name=f"Product {i:03d}", stock=5)  # one restock row each


def _sales(n, start):
    """Sales with three lines each, over several products and customers."""
    products = [make_product(stock=1000, category=make_category()) for _ in range(4)]
    customers = [make_customer() for _ in range(3)]
    for i in range(n):
        lines = [(products[(i + k) % 4], k + 1) for k in range(3)]
        make_sale(items=lines, customer=customers[i % 3] if i % 5 else None)


CASES = [
    # url, role, builder (count, start), expected queries
    ("/api/customers/", "analyst", _customers, PERMISSIONS + 2 + LIFETIMES),
    ("/api/categories/", None, _categories, VALIDATOR + 2),
    ("/api/categories/", "analyst", _categories, VALIDATOR + 2),
    ("/api/products/", None, _products, VALIDATOR + 2),
    ("/api/products/", "analyst", _products, PERMISSIONS + VALIDATOR + 2),
    ("/api/products/", "manager", _products, PERMISSIONS + VALIDATOR + 2),
    ("/api/stock-movements/", "analyst", _stock_movements, PERMISSIONS + 1),
    ("/api/sales/", "analyst", _sales, PERMISSIONS + 2),
    ("/api/sales/", "manager", _sales, PERMISSIONS + 2),
]


@pytest.mark.parametrize(
    ("url", "role", "build", "expected"),
    CASES,
    ids=[f"{url.strip('/').split('/')[-1]}-{role or 'anonymous'}" for url, role, *_ in CASES],
)
def test_list_query_count_does_not_grow_with_the_page(
    client_for, django_assert_num_queries, url, role, build, expected
):
    build(5, 0)
    client = client_for(role)
    with django_assert_num_queries(expected):
        small = client.get(url, {"page_size": 100})
    assert small.status_code == 200
    assert len(small.json()["results"]) == 5

    build(45, 5)
    client = client_for(role)
    with django_assert_num_queries(expected):
        large = client.get(url, {"page_size": 100})
    assert large.status_code == 200
    assert len(large.json()["results"]) == 50


def test_sales_list_renders_every_line_and_customer(client_for, django_assert_num_queries):
    """The fixed count is not bought by leaving data out: every sale comes with all its lines,
    their product sku and name, and its customer's name."""
    _sales(12, 0)
    client = client_for("analyst")
    with django_assert_num_queries(PERMISSIONS + 2):
        rows = client.get("/api/sales/", {"page_size": 100}).json()["results"]
    assert len(rows) == 12
    assert all(len(row["items"]) == 3 for row in rows)
    assert all(item["sku"] and item["name"] for row in rows for item in row["items"])
    with_customer = [row for row in rows if row["customer"] is not None]
    assert len(with_customer) == 9
    assert all(row["customer_name"] for row in with_customer)


def test_filtered_sales_list_keeps_the_count(client_for, django_assert_num_queries):
    _sales(8, 0)
    category_id = SaleItem.objects.values_list("product__category_id", flat=True).first()
    client = client_for("analyst")
    # + 1: the search reads the matching customers' ids first (core/api/filtering.py)
    with django_assert_num_queries(PERMISSIONS + 3):
        response = client.get(
            "/api/sales/",
            {"has_customer": "true", "search": "customer", "category": category_id},
        )
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows
    assert all(row["customer"] is not None for row in rows)
