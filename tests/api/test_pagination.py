"""Pagination: page numbers with a capped page_size on every list; cursors on sales."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from customers.models import Customer
from products.models import Category, StockMovement
from sales.models import Sale
from tests.api import assert_error, ids
from tests.factories import make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]


@pytest.fixture
def analyst(client_for):
    return client_for("analyst")


def walk(client, url, params=None) -> tuple[list[int], int]:
    """Follow ``next`` links from the first page; return every id seen and the page count."""
    seen: list[int] = []
    pages = 0
    response = client.get(url, params or {})
    while True:
        assert response.status_code == 200, response.json()
        pages += 1
        seen.extend(ids(response))
        next_url = response.json()["next"]
        if next_url is None:
            return seen, pages
        response = client.get(next_url)


def test_page_number_shape_and_links(analyst):
    customers = [make_customer(name=f"Customer {n:02d}") for n in range(7)]
    first = analyst.get("/api/customers/", {"page_size": 3})
    body = first.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 7
    assert body["previous"] is None
    assert ids(first) == [c.pk for c in customers[:3]]
    query = parse_qs(urlsplit(body["next"]).query)
    assert query == {"page": ["2"], "page_size": ["3"]}

    seen, pages = walk(analyst, "/api/customers/", {"page_size": 3})
    assert seen == [c.pk for c in customers]
    assert pages == 3

    last = analyst.get("/api/customers/", {"page_size": 3, "page": 3})
    assert ids(last) == [customers[6].pk]
    assert last.json()["next"] is None
    assert last.json()["previous"] is not None


def test_default_page_size_is_the_setting(analyst):
    Category.objects.bulk_create(
        Category(name=f"Cat {n:04d}") for n in range(settings.API_PAGE_SIZE + 1)
    )
    response = analyst.get("/api/categories/")
    assert len(response.json()["results"]) == settings.API_PAGE_SIZE
    assert response.json()["count"] == settings.API_PAGE_SIZE + 1
    assert response.json()["next"] is not None


def test_page_size_is_capped_at_the_maximum(api_client):
    Category.objects.bulk_create(
        Category(name=f"Cat {n:04d}") for n in range(settings.API_MAX_PAGE_SIZE + 5)
    )
    response = api_client.get("/api/categories/", {"page_size": settings.API_MAX_PAGE_SIZE * 10})
    assert response.status_code == 200
    assert len(response.json()["results"]) == settings.API_MAX_PAGE_SIZE
    assert response.json()["count"] == settings.API_MAX_PAGE_SIZE + 5
    assert response.json()["next"] is not None


@pytest.mark.parametrize("page_size", ["0", "-4", "abc"])
def test_a_meaningless_page_size_falls_back_to_the_default(api_client, page_size):
    Category.objects.bulk_create(Category(name=f"Cat {n:03d}") for n in range(3))
    response = api_client.get("/api/categories/", {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize("page", ["99", "0", "abc"])
def test_a_page_out_of_range_is_404_with_the_error_shape(api_client, page):
    Category.objects.bulk_create(Category(name=f"Cat {n:03d}") for n in range(3))
    assert_error(api_client.get("/api/categories/", {"page": page}), 404, "not_found")


@pytest.mark.parametrize(
    ("url", "make"),
    [
        ("/api/products/", lambda n: make_product(name=f"P{n:02d}")),
        ("/api/customers/", lambda n: make_customer(name=f"C{n:02d}")),
    ],
)
def test_every_page_number_list_walks_completely(analyst, url, make):
    for n in range(5):
        make(n)
    seen, pages = walk(analyst, url, {"page_size": 2})
    assert len(seen) == len(set(seen)) == 5
    assert pages == 3


# --- Cursor pagination on sales ------------------------------------------------------------------


@pytest.fixture
def sales():
    """11 sales; several share a sold_at, so the id tie-breaker matters."""
    product = make_product(stock=1000)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    created = []
    for n in range(11):
        created.append(make_sale(items=[(product, n + 1)], sold_at=base + timedelta(days=n // 3)))
    return created


def test_sales_use_cursor_pages_without_count(analyst, sales):
    response = analyst.get("/api/sales/", {"page_size": 4})
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["previous"] is None
    assert "cursor=" in body["next"]
    assert len(body["results"]) == 4


def test_walking_the_cursor_yields_every_sale_once_newest_first(analyst, sales):
    seen, pages = walk(analyst, "/api/sales/", {"page_size": 4})
    expected = list(Sale.objects.order_by("-sold_at", "-id").values_list("pk", flat=True))
    assert seen == expected
    assert len(set(seen)) == 11
    assert pages == 3


@pytest.mark.parametrize("ordering", ["sold_at", "total", "-total", "created_at"])
def test_walking_the_cursor_with_an_ordering(analyst, sales, ordering):
    seen, _ = walk(analyst, "/api/sales/", {"page_size": 3, "ordering": ordering})
    expected = list(
        Sale.objects.order_by(ordering, "-id" if ordering.startswith("-") else "id").values_list(
            "pk", flat=True
        )
    )
    assert seen == expected


def test_walking_the_cursor_with_a_filter(analyst, sales):
    cutoff = datetime(2024, 1, 2, tzinfo=UTC)
    seen, _ = walk(analyst, "/api/sales/", {"page_size": 2, "sold_after": cutoff.isoformat()})
    expected = list(
        Sale.objects.filter(sold_at__gte=cutoff)
        .order_by("-sold_at", "-id")
        .values_list("pk", flat=True)
    )
    assert seen == expected
    assert len(seen) == 8


def test_previous_link_goes_back(analyst, sales):
    first = analyst.get("/api/sales/", {"page_size": 4})
    second = analyst.get(first.json()["next"])
    back = analyst.get(second.json()["previous"])
    assert ids(back) == ids(first)


def test_sales_page_size_is_capped(analyst):
    Sale.objects.bulk_create(
        Sale(reference=f"BULK-{n:05d}") for n in range(settings.API_MAX_PAGE_SIZE + 3)
    )
    response = analyst.get("/api/sales/", {"page_size": settings.API_MAX_PAGE_SIZE + 100})
    assert len(response.json()["results"]) == settings.API_MAX_PAGE_SIZE
    assert response.json()["next"] is not None
    rest = analyst.get(response.json()["next"])
    assert len(rest.json()["results"]) == 3
    assert rest.json()["next"] is None


def test_an_invalid_cursor_is_a_400_naming_it(analyst, sales):
    error = assert_error(analyst.get("/api/sales/", {"cursor": "garbage"}), 400, "invalid")
    assert list(error["fields"]) == ["cursor"]


def test_customers_default_page_is_bounded(analyst):
    Customer.objects.bulk_create(
        Customer(name=f"C{n:04d}", email=f"c{n}@example.com")
        for n in range(settings.API_PAGE_SIZE + 2)
    )
    body = analyst.get("/api/customers/").json()
    assert len(body["results"]) == settings.API_PAGE_SIZE
    assert body["count"] == settings.API_PAGE_SIZE + 2


# --- Cursor pagination on the stock ledger -------------------------------------------------------


def test_the_stock_ledger_uses_cursor_pages_newest_first_without_count(analyst):
    products = [make_product(stock=n + 1) for n in range(5)]  # one opening movement each
    first = analyst.get("/api/stock-movements/", {"page_size": 2}).json()
    assert set(first) == {"next", "previous", "results"} and "cursor=" in first["next"]
    seen, pages = walk(analyst, "/api/stock-movements/", {"page_size": 2})
    assert pages == 3 and len(seen) == len(set(seen)) == 5
    newest_first = StockMovement.objects.order_by("-created_at", "-id").values_list("id", flat=True)
    assert seen == list(newest_first)
    oldest_first, _ = walk(
        analyst, "/api/stock-movements/", {"page_size": 2, "ordering": "created_at"}
    )
    assert oldest_first == seen[::-1]
    only_one, _ = walk(analyst, "/api/stock-movements/", {"product": products[2].pk})
    assert len(only_one) == 1
