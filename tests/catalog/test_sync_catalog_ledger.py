"""``sync_catalog`` (reviewed in tests/test_write_paths.py) mirrors the remote stock through the
product services: every change of a mirror's stock is a ledger row, so the ledger of every
product still sums to its stock after a first sync, a later sync of a changed remote, and a
remote product that disappeared."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from products.models import Product, StockMovement
from tests.catalog.fake_catalog import FakeCatalog

pytestmark = pytest.mark.django_db


def assert_ledger_balanced() -> None:
    for pk, stock in Product.objects.values_list("pk", "stock_quantity"):
        total = StockMovement.objects.filter(product_id=pk).aggregate(t=Sum("delta"))["t"] or 0
        assert total == stock, (pk, stock, total)


def test_sync_catalog_moves_mirror_stock_through_the_ledger(fake_catalog: FakeCatalog, use_catalog):
    use_catalog(fake_catalog.url, fake_catalog.api_key)
    kept = fake_catalog.add_product(stock=7)
    gone = fake_catalog.add_product(stock=4)

    call_command("sync_catalog", "--ids", f"{kept},{gone}", stdout=StringIO())
    assert sorted(Product.objects.values_list("stock_quantity", flat=True)) == [4, 7]
    assert_ledger_balanced()

    with fake_catalog.lock:
        fake_catalog.products[kept]["stock_quantity"] = 3
        del fake_catalog.products[gone]
    call_command("sync_catalog", "--ids", f"{kept},{gone}", stdout=StringIO())

    assert 3 in Product.objects.values_list("stock_quantity", flat=True)
    assert StockMovement.objects.count() >= 3  # two openings and the change to 3
    assert_ledger_balanced()
