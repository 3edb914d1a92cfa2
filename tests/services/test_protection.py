"""core.protection: "has sales?" asked of the database (PROTECT foreign keys of other apps),
so customers and products never import sales (issue 15, item 2)."""

import pytest

from core.protection import protected_by_other_apps, protecting_relations
from products.models import Product, StockMovement
from tests.factories import make_customer, make_product, make_sale

pytestmark = pytest.mark.django_db


def test_the_protecting_relations_are_read_from_meta():
    labels = {
        (rel.related_model._meta.label, rel.field.name) for rel in protecting_relations(Product)
    }
    assert ("sales.SaleItem", "product") in labels  # related_name="+": hidden, still found
    assert ("products.StockMovement", "product") in labels


def test_a_product_with_only_its_own_ledger_is_not_protected_by_other_apps():
    product = make_product(stock=10)  # has a StockMovement (PROTECT, same app)
    assert StockMovement.objects.filter(product=product).exists()
    assert protected_by_other_apps(product) is False


def test_a_sold_product_and_its_customer_are_protected():
    product, other = make_product(stock=10), make_product(stock=10)
    customer, idle = make_customer(), make_customer()
    make_sale(items=[(product, 1)], customer=customer)
    assert protected_by_other_apps(product) is True
    assert protected_by_other_apps(other) is False
    assert protected_by_other_apps(customer) is True
    assert protected_by_other_apps(idle) is False
