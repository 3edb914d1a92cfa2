"""Analytics learns about writes by subscribing (issue 15, item 2): the writers send
``core.signals.reporting_data_changed`` and ``sales.signals.sales_contribution`` and never import
analytics; the receivers connected in ``AnalyticsConfig.ready()`` keep the rollups exact (same
transaction) and bump the cache generation after the commit only."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import transaction

from analytics.models import DailySales
from analytics.services import GENERATION_KEY
from core.ops.caching import generation_namespaces, register_generation_namespace
from core.signals import reporting_data_changed
from customers.models import Customer
from sales.signals import sales_contribution, send_sales_contribution
from tests.factories import make_product, make_sale

pytestmark = pytest.mark.django_db


class Rollback(Exception):
    pass


def test_analytics_subscribes_to_both_signals_and_registers_its_namespace():
    assert reporting_data_changed.has_listeners(Customer)
    assert sales_contribution.has_listeners()
    assert generation_namespaces() == {"analytics": GENERATION_KEY}
    register_generation_namespace("analytics", GENERATION_KEY)  # again: a no-op
    with pytest.raises(ValueError, match="already registered"):
        register_generation_namespace("analytics", "another:key")


def test_the_sale_contribution_is_applied_inside_the_writers_transaction():
    product = make_product(stock=10)
    with pytest.raises(Rollback), transaction.atomic():
        make_sale(items=[(product, 2)])
        # Synchronous, in the same transaction: visible before the commit...
        assert DailySales.objects.get().units == 2
        raise Rollback
    # ... and rolled back with the sale.
    assert not DailySales.objects.exists()


def test_a_bad_sign_is_refused_before_any_receiver_runs():
    with pytest.raises(ValueError, match="sign must be"):
        send_sales_contribution(sale_ids=[1], sign=0)


def test_reporting_data_changed_bumps_the_generation_after_commit_only(
    django_capture_on_commit_callbacks,
):
    cache.set(GENERATION_KEY, 5, timeout=None)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        reporting_data_changed.send(sender=Customer)
        assert cache.get(GENERATION_KEY) == 5  # not before the commit
    assert len(callbacks) == 1
    assert cache.get(GENERATION_KEY) == 6
    with (
        pytest.raises(Rollback),
        django_capture_on_commit_callbacks(execute=True) as rolled,
        transaction.atomic(),
    ):
        reporting_data_changed.send(sender=Customer)
        raise Rollback
    assert rolled == [] and cache.get(GENERATION_KEY) == 6
