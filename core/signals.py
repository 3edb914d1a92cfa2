"""Signals the shared core defines for the domain apps (issue 15: dependencies run one way).

``reporting_data_changed``
    Sent by the write services of customers, products and the import engine (``core.dataio``),
    *inside* the write's transaction, when something the reports show has changed: a customer's
    name, country or segment, a product's name, SKU or category, a category's name, rows upserted
    by an import. ``sender`` is the model class (or the writer's class) that changed; no other
    keyword arguments.

    Receivers run synchronously, in the sender's transaction (Django signals are synchronous);
    they must not do slow work there. The analytics app's receiver
    (``analytics.receivers.bump_cache_on_commit``) schedules
    ``transaction.on_commit(analytics_cache_bump)``, so cached reports start a new generation
    once the write is committed, and never when it rolls back.

The senders know nothing of who listens: the core and the domain apps import no reporting app,
the reporting app subscribes in its ``AppConfig.ready()`` (as ``django.contrib.auth`` does).
"""

from __future__ import annotations

from django.dispatch import Signal

reporting_data_changed = Signal()
