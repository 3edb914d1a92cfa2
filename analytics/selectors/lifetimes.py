"""Customers' lifetime figures as the customers API and admin show them (issue 17): one
``CustomerLifetime`` row per customer with a completed sale, read by primary key."""

from __future__ import annotations

from collections.abc import Iterable

from analytics.models import CustomerLifetime


def customer_lifetimes(*, customer_ids: Iterable[int]) -> dict[int, CustomerLifetime]:
    """The lifetime rows of these customers, by customer id, in one query (a primary-key
    lookup); a customer without a completed sale has no row, so no key."""
    ids = list(customer_ids)
    if not ids:
        return {}
    return {row.customer_id: row for row in CustomerLifetime.objects.filter(customer_id__in=ids)}
