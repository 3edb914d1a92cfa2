"""Property test of the sale and stock services on the real database: any sequence of sales
(some beyond the stock), edits, cancels, deletes, purchases and restocks keeps, per product,
stock == ledger sum (stock_ledger_balance) == start + restocked - purchased - sold + returned,
and stock >= 0."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConflictError
from products.models import Product
from products.selectors import stock_ledger_balance
from products.services import InsufficientStockError, product_purchase, product_restock
from sales.models import Sale, SaleStatus
from sales.services import SaleLine, sale_cancel, sale_create, sale_delete, sale_update
from tests.factories import make_product

N_PRODUCTS = 3
lines = st.lists(
    st.tuples(st.integers(0, N_PRODUCTS - 1), st.integers(1, 12)), min_size=1, max_size=3
)
operation = st.one_of(
    st.tuples(st.just("sale"), lines),
    st.tuples(st.just("edit"), st.integers(0, 20), lines),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("purchase"), st.integers(0, N_PRODUCTS - 1), st.integers(1, 12)),
    st.tuples(st.just("restock"), st.integers(0, N_PRODUCTS - 1), st.integers(1, 12)),
)


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=12))
def test_stock_always_equals_start_plus_ledger(operations):
    products = [make_product(stock=10) for _ in range(N_PRODUCTS)]  # fresh rows per example
    ids = [p.pk for p in products]
    expected = dict.fromkeys(ids, 10)
    sales: list[int] = []

    def sale_lines(spec):
        return [SaleLine(product_id=ids[i], quantity=q) for i, q in spec]

    for op in operations:
        kind = op[0]
        try:
            if kind == "sale":
                sale = sale_create(lines=sale_lines(op[1]))
                sales.append(sale.pk)
                for i, q in op[1]:
                    expected[ids[i]] -= q
            elif kind in ("edit", "cancel", "delete") and sales:
                sale = Sale.objects.get(pk=sales[op[1] % len(sales)])
                old = {i.product_id: i.quantity for i in sale.items.all()}
                completed = sale.status == SaleStatus.COMPLETED
                if kind == "edit":
                    sale_update(sale=sale, lines=sale_lines(op[2]))
                    for pid, q in old.items():
                        expected[pid] += q
                    for i, q in op[2]:
                        expected[ids[i]] -= q
                elif kind == "cancel":
                    sale_cancel(sale=sale)
                    for pid, q in old.items():
                        expected[pid] += q
                else:
                    sale_delete(sale=sale)
                    sales.remove(sale.pk)
                    if completed:
                        for pid, q in old.items():
                            expected[pid] += q
            elif kind == "purchase":
                product_purchase(product_id=ids[op[1]], quantity=op[2])
                expected[ids[op[1]]] -= op[2]
            elif kind == "restock":
                product_restock(product_id=ids[op[1]], quantity=op[2])
                expected[ids[op[1]]] += op[2]
        except InsufficientStockError:
            pass  # nothing moved: the expectation stays
        except ConflictError as exc:  # editing or cancelling a cancelled sale
            assert exc.code == "sale_cancelled"
        for pid in ids:
            stock = Product.objects.get(pk=pid).stock_quantity
            assert stock >= 0
            assert stock == expected[pid] == stock_ledger_balance(product_id=pid)
