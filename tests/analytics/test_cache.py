"""The analytics cache: answers are cached per generation, a sale write is visible in the very
next answer, and cache off / Redis down give the same answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from analytics.cache import cache_key, current_generation
from analytics.services import GENERATION_KEY, analytics_cache_bump
from sales.models import Sale, SaleItem
from sales.services import sale_cancel
from tests.factories import make_customer, make_product, make_sale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

ENDPOINTS = [
    ("summary", {}),
    ("revenue", {"interval": "week"}),
    ("top-products", {"by": "margin", "limit": 5}),
    ("top-customers", {"by": "orders"}),
    ("breakdown", {"dimension": "country"}),
    ("breakdown", {"dimension": "category", "country": "FR"}),
]
CLOSED_PORT_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "KEY_PREFIX": "analytics_down",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.2,
            "SOCKET_TIMEOUT": 0.2,
            "IGNORE_EXCEPTIONS": True,
        },
    }
}


@pytest.fixture
def shop(db):
    product = make_product(price="10.00", cost="4.00", stock=1000)
    customer = make_customer(country="FR")
    sale = make_sale(items=[(product, 2)], customer=customer)
    return product, customer, sale


def summary(client):
    response = client.get("/api/analytics/summary/")
    assert response.status_code == 200
    return response.json()["current"]


@pytest.mark.embedded
def test_a_new_sale_and_a_cancel_are_in_the_very_next_answer(
    client_for, shop, django_capture_on_commit_callbacks
):
    product, customer, _ = shop
    client = client_for("analyst")
    assert summary(client)["orders"] == 1
    assert summary(client)["orders"] == 1  # now from the cache

    with django_capture_on_commit_callbacks(execute=True):
        new = make_sale(items=[(product, 3)], customer=customer)
    after = summary(client)
    assert (after["orders"], after["units"], after["revenue"]) == (2, 5, "50.00")

    with django_capture_on_commit_callbacks(execute=True):
        sale_cancel(sale=new)
    assert summary(client)["orders"] == 1


@pytest.mark.embedded
def test_answers_are_cached_until_the_generation_moves(client_for, shop):
    """A write behind the services' back (no bump) is not seen until the generation moves:
    proof that the answer came from the cache."""
    product, _, _ = shop
    client = client_for("analyst")
    first = summary(client)
    generation = cache.get(GENERATION_KEY)
    assert generation is not None
    keys = [k for k in _keys() if k.startswith(f"analytics:g{generation}:")]
    assert keys, "the answer was not stored under the current generation"

    sale = Sale.objects.create(reference="BEHIND-THE-BACK", sold_at=timezone.now(), total=10)
    SaleItem.objects.create(sale=sale, product=product, quantity=1, unit_price=10, line_total=10)
    from analytics.services import rollups_apply_sales

    rollups_apply_sales(sale_ids=[sale.pk], sign=1)  # on_commit bump never runs in this test
    assert summary(client) == first

    assert analytics_cache_bump() == generation + 1
    assert summary(client)["orders"] == first["orders"] + 1


def _keys():
    if hasattr(cache, "keys"):  # django-redis
        return [key for key in cache.keys("analytics:*")]
    return [key.split(":", 2)[-1] for key in cache._cache]  # locmem: "prefix:version:key"


def test_sale_write_bumps_only_after_commit(client_for, shop, django_capture_on_commit_callbacks):
    product, _, _ = shop
    before = current_generation()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_sale(items=[(product, 1)])
    assert cache.get(GENERATION_KEY) == before  # not yet: the transaction has not committed
    for callback in callbacks:
        callback()
    assert cache.get(GENERATION_KEY) == before + 1


def test_every_entry_has_a_ttl(client_for, shop, settings):
    settings.ANALYTICS_CACHE_SECONDS = 123
    client = client_for("analyst")
    summary(client)
    generation = current_generation()
    key = cache_key(generation, "summary", {})
    stored = [k for k in _keys() if k.startswith(f"analytics:g{generation}:")]
    assert stored
    if hasattr(cache, "ttl"):
        assert all(0 < cache.ttl(k) <= 123 for k in stored)
        assert cache.ttl(GENERATION_KEY) is None  # the counter itself never expires
    assert key.startswith(f"analytics:g{generation}:")


def test_a_lost_generation_counter_restarts_above_the_old_one(client_for, shop):
    client = client_for("analyst")
    summary(client)
    old = cache.get(GENERATION_KEY)
    cache.delete(GENERATION_KEY)  # evicted, or Redis restarted empty
    summary(client)
    assert cache.get(GENERATION_KEY) > old
    cache.delete(GENERATION_KEY)
    assert analytics_cache_bump() > old


def answers(client, product):
    today = timezone.localdate()
    params = {"date_from": today - timedelta(days=5), "date_to": today}
    result = []
    for path, extra in ENDPOINTS:
        response = client.get(f"/api/analytics/{path}/", {**params, **extra})
        assert response.status_code == 200, response.content
        result.append(response.json())
    return result


@pytest.mark.embedded
def test_cache_off_gives_the_same_answers(client_for, shop, settings):
    product, _, _ = shop
    client = client_for("manager")
    cached = answers(client, product)
    assert answers(client, product) == cached
    settings.ANALYTICS_CACHE_ENABLED = False
    assert answers(client, product) == cached


@pytest.mark.parametrize("ignore_exceptions", [True, False])
def test_redis_down_gives_the_same_answers_and_sales_still_work(
    client_for, shop, ignore_exceptions, django_capture_on_commit_callbacks
):
    product, customer, _ = shop
    client = client_for("manager")
    expected = answers(client, product)
    caches = {"default": {**CLOSED_PORT_REDIS["default"]}}
    caches["default"]["OPTIONS"] = {
        **caches["default"]["OPTIONS"],
        "IGNORE_EXCEPTIONS": ignore_exceptions,
    }
    with override_settings(CACHES=caches, PERMISSION_CACHE_SECONDS=0):
        assert current_generation() is None
        assert answers(client, product) == expected
        with django_capture_on_commit_callbacks(execute=True):
            make_sale(items=[(product, 1)], customer=customer)  # the bump fails quietly
        assert analytics_cache_bump() is None
        assert summary(client)["orders"] == 2
