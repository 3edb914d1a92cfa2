"""The analytics app's receivers: how it learns about writes without the writers importing it.

Connected in :meth:`analytics.apps.AnalyticsConfig.ready` (as ``django.contrib.auth`` connects its
own). Both run synchronously inside the sender's transaction.
"""

from __future__ import annotations

from django.db import transaction

from analytics.services import analytics_cache_bump, rollups_apply_sales


def bump_cache_on_commit(sender, **kwargs) -> None:
    """``core.signals.reporting_data_changed``: a new analytics cache generation after the
    commit (right away outside a transaction), never on a rollback."""
    transaction.on_commit(analytics_cache_bump)


def apply_sales_contribution(
    sender, *, sign: int, sale_ids=(), extra_days=(), sale_ids_sql=None, **kwargs
) -> None:
    """``sales.signals.sales_contribution``: the daily rollups follow the sales, in the same
    transaction (exact sums); ``rollups_apply_sales`` schedules the cache bump on commit."""
    rollups_apply_sales(
        sale_ids=sale_ids, sign=sign, extra_days=extra_days, sale_ids_sql=sale_ids_sql
    )
