"""The sale admin's actions run without an outer database transaction when the catalog is remote.

With ``CATALOG_BACKEND=http`` each sale service call makes remote calls and commits or
compensates as one unit by itself: an action (cancel, bulk delete) must not wrap them in a
transaction of its own, or the remote calls would run while rows are locked. ``SaleAdmin``
mixes in both ``ServiceAdminMixin`` (an atomic block around every action) and
``RemoteCatalogTransactionMixin`` (none in http mode); the first in the bases used to win.
"""

from contextlib import nullcontext

import pytest
from django.contrib import admin
from django.db import transaction

from sales.models import Sale


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("backend", "atomic"), [("http", False), ("local", True)], ids=["http", "local"]
)
def test_sale_actions_run_in_a_transaction_only_with_the_local_catalog(settings, backend, atomic):
    settings.CATALOG_BACKEND = backend
    sale_admin = admin.site._registry[Sale]

    context = sale_admin.action_transaction(Sale.objects.all())

    assert isinstance(context, transaction.Atomic) is atomic
    assert isinstance(context, nullcontext) is not atomic
