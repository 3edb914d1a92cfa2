"""HttpCatalog against real HTTP servers on loopback (no mock of ``requests``).

The "remote" is a second instance of this app served by gunicorn (``remote_catalog``), or, for
fault cases, the in-process fake of ``fake_catalog.py``. This process sells through
``CATALOG_BACKEND=http`` via the real API (``POST /api/sales/`` ...). After every case the
remote stock equals its opening stock minus what the completed local sales hold, the local
mirror equals the remote, the local ledger sums to the mirror, and no outbox entry is left
pending: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from products.catalog import HttpCatalog
from products.models import CatalogOutboxEntry, CatalogOutboxStatus, Product, StockMovement
from products.tasks import retry_catalog_outbox_task
from sales import services as sale_services
from sales.models import Sale, SaleItem, SaleStatus
from tests.api import assert_error
from tests.app_instances import free_port
from tests.catalog.conftest import RemoteCatalog
from tests.catalog.fake_catalog import FakeCatalog
from tests.factories import ensure_role_groups, make_product, make_user
from tests.threads import run_at_once

pytestmark = [
    pytest.mark.skipif(not settings.IS_POSTGRES, reason="needs PostgreSQL (a remote database)"),
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_password_hasher"),
]

SALES = "/api/sales/"
FAST = 0.5  # CATALOG_TIMEOUT of the fault cases, seconds


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def client_as(fast_password_hasher):
    """``client_as("sales")``: an API client of a user in that role group."""

    def build(role: str) -> APIClient:
        ensure_role_groups()
        client = APIClient()
        client.force_authenticate(make_user(role=role))
        return client

    return build


@pytest.fixture
def remote(remote_catalog: RemoteCatalog, use_catalog) -> RemoteCatalog:
    """This process sells through our own app as the remote catalog."""
    use_catalog(remote_catalog.url, remote_catalog.api_key)
    return remote_catalog


@pytest.fixture
def fake(fake_catalog: FakeCatalog, use_catalog) -> FakeCatalog:
    use_catalog(fake_catalog.url, fake_catalog.api_key, timeout=FAST)
    return fake_catalog


def sale_body(*lines: tuple[int, int], **extra) -> dict:
    return {"items": [{"product": pid, "quantity": qty} for pid, qty in lines], **extra}


def mirror_stock(product_id: int) -> int | None:
    return Product.objects.filter(pk=product_id).values_list("stock_quantity", flat=True).first()


def local_ledger_sum(product_id: int) -> int:
    total = StockMovement.objects.filter(product_id=product_id).aggregate(total=Sum("delta"))
    return total["total"] or 0


def sold(product_id: int) -> int:
    """Units of the product held by completed local sales."""
    total = SaleItem.objects.filter(
        product_id=product_id, sale__status=SaleStatus.COMPLETED
    ).aggregate(total=Sum("quantity"))
    return total["total"] or 0


def assert_settled(remote_stock: Callable[[int], int], opening: dict[int, int]) -> None:
    """Remote and local agree and nothing is lost: see the module docstring."""
    pending = list(CatalogOutboxEntry.objects.filter(status=CatalogOutboxStatus.PENDING))
    assert pending == [], [(e.product_id, e.delta, e.last_error) for e in pending]
    for product_id, start in opening.items():
        remote = remote_stock(product_id)
        assert remote == start - sold(product_id), product_id
        mirror = mirror_stock(product_id)
        if mirror is not None:
            assert mirror == remote, product_id
            assert local_ledger_sum(product_id) == mirror, product_id


def assert_remote_ledger(remote: RemoteCatalog, *product_ids: int) -> None:
    """The remote (our own app) keeps its ledger too."""
    for product_id in product_ids:
        assert remote.ledger_sum(product_id) == remote.stock(product_id), product_id


def assert_nothing_sold() -> None:
    assert Sale.objects.count() == 0
    assert SaleItem.objects.count() == 0
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()


def outbox() -> list[tuple[int, int, str, str]]:
    return sorted(CatalogOutboxEntry.objects.values_list("product_id", "delta", "reason", "status"))


# --- our own app as the remote ---------------------------------------------------------------


def test_sale_through_our_own_app_as_the_catalog(remote, client_as):
    hammer = remote.create_product(price="12.34", stock=10)
    nails = remote.create_product(price="0.10", stock=500)
    opening = {hammer: 10, nails: 500}

    response = client_as("sales").post(SALES, sale_body((hammer, 2), (nails, 150)), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["total"] == "39.68"  # 2 x 12.34 + 150 x 0.10, the remote's prices
    assert sorted((i["product"], i["unit_price"]) for i in body["items"]) == [
        (hammer, "12.34"),
        (nails, "0.10"),
    ]
    assert (remote.stock(hammer), remote.stock(nails)) == (8, 350)
    # The local mirror has the remote's ids and figures.
    mirrored = Product.objects.get(pk=hammer)
    assert (str(mirrored.price), mirrored.stock_quantity) == ("12.34", 8)
    assert sorted(
        StockMovement.objects.filter(product_id=hammer).values_list("reason", "delta")
    ) == [("adjustment", 10), ("sale", -2)]
    assert outbox() == []
    assert_settled(remote.stock, opening)
    assert_remote_ledger(remote, hammer, nails)


def test_insufficient_stock_on_the_second_of_three_lines_gives_the_first_back(remote, client_as):
    first = remote.create_product(stock=10)
    second = remote.create_product(stock=1)
    third = remote.create_product(stock=10)
    opening = {first: 10, second: 1, third: 10}

    response = client_as("sales").post(
        SALES, sale_body((first, 3), (second, 2), (third, 1)), format="json"
    )

    error = assert_error(response, 409, "insufficient_stock")
    assert (error["product"], error["requested"], error["available"]) == (second, 2, 1)
    assert_nothing_sold()
    assert (remote.stock(first), remote.stock(second), remote.stock(third)) == (10, 1, 10)
    # The first line's purchase was undone through the outbox, at once.
    assert outbox() == [(first, 3, "compensation", "done")]
    assert_settled(remote.stock, opening)
    assert_remote_ledger(remote, first, second, third)


def _local_product(pk: int | None = None, *, sku: str, name: str = "Local only") -> Product:
    """One of our own products, made before the switch to the remote catalog."""
    return Product.objects.create(pk=pk, sku=sku, name=name, price="5.00")


def _remote_sku(remote: RemoteCatalog, product_id: int) -> str:
    return remote.sql("SELECT sku FROM products_product WHERE id = %s", (product_id,))[0][0]


def test_a_local_product_with_a_remote_products_id_never_becomes_its_mirror(remote, client_as):
    """Mirrors are keyed by the remote id: a local product whose id happens to be a remote
    product's id stays ours (not sellable through the remote), and the remote product gets a
    mirror of its own, with another id."""
    alpha = remote.create_product(price="12.34", stock=10)
    local = _local_product(alpha, sku="LOCAL-1")
    seller = client_as("sales")

    refused = seller.post(SALES, sale_body((alpha, 1)), format="json")

    assert_error(refused, 400, "invalid_product")
    local.refresh_from_db()
    assert (local.sku, local.name, str(local.price), local.remote_id) == (
        "LOCAL-1",
        "Local only",
        "5.00",
        None,
    )
    assert local.stock_quantity == 0 == local_ledger_sum(local.pk)
    assert remote.stock(alpha) == 10

    call_command("sync_catalog", "--ids", str(alpha), stdout=StringIO())

    mirror = Product.objects.get(remote_id=alpha)
    assert mirror.pk != alpha
    assert (mirror.sku, str(mirror.price), mirror.stock_quantity) == (
        _remote_sku(remote, alpha),
        "12.34",
        10,
    )
    local.refresh_from_db()
    assert (local.name, local.remote_id) == ("Local only", None)
    # The API shows both under our ids, each mirror with the remote's id.
    shown = {
        pk: seller.get(f"/api/products/{pk}/").json()["remote_id"] for pk in (local.pk, mirror.pk)
    }
    assert shown == {local.pk: None, mirror.pk: alpha}
    sold_mirror = seller.post(SALES, sale_body((mirror.pk, 2)), format="json")
    assert sold_mirror.status_code == 201, sold_mirror.json()
    assert remote.stock(alpha) == 8
    mirror.refresh_from_db()
    assert mirror.stock_quantity == 8 == local_ledger_sum(mirror.pk)
    assert outbox() == []
    assert_remote_ledger(remote, alpha)


def test_a_product_created_after_mirrors_never_takes_a_mirrors_id(fake, settings):
    """Mirrors are inserted with the remote's ids; the id sequence moves past them, so a
    product created later (back on the local catalog) gets a fresh id, not a failed INSERT."""
    mirrored = fake.add_product(stock=4)
    HttpCatalog().get_products([mirrored])
    settings.CATALOG_BACKEND = "local"

    created = make_product(stock=1)

    assert created.pk > mirrored
    assert Product.objects.get(remote_id=mirrored).pk == mirrored


def test_sync_catalog_adopt_by_sku_links_local_products_to_the_remote_ones(remote, client_as):
    hammer = remote.create_product(price="12.34", stock=10)
    ours = _local_product(sku=_remote_sku(remote, hammer), name="Our hammer")
    lonely = _local_product(sku="ONLY-HERE-1")
    preview = StringIO()
    call_command("sync_catalog", "--adopt-by-sku", "--dry-run", stdout=preview)
    assert f"product {ours.pk} -> remote product {hammer}" in preview.getvalue()
    assert not Product.objects.filter(remote_id__isnull=False).exists()  # nothing linked yet
    out = StringIO()

    call_command("sync_catalog", "--adopt-by-sku", "--deactivate-unmatched", stdout=out)

    assert f"product {ours.pk} -> remote product {hammer}" in out.getvalue()
    ours.refresh_from_db()
    assert (ours.remote_id, str(ours.price), ours.stock_quantity) == (hammer, "12.34", 10)
    assert local_ledger_sum(ours.pk) == 10  # the adoption's adjustment is in the ledger
    lonely.refresh_from_db()
    assert (lonely.remote_id, lonely.is_active) == (None, False)

    response = client_as("sales").post(SALES, sale_body((ours.pk, 3)), format="json")

    assert response.status_code == 201, response.json()
    assert remote.stock(hammer) == 7
    ours.refresh_from_db()
    assert ours.stock_quantity == 7 == local_ledger_sum(ours.pk)
    assert_remote_ledger(remote, hammer)


def test_unknown_remote_product_is_a_400_naming_the_line(remote, client_as):
    known = remote.create_product(stock=5)

    response = client_as("sales").post(SALES, sale_body((known, 1), (99_999_999, 1)), format="json")

    error = assert_error(response, 400, "invalid_product")
    assert error["fields"]["items"][0] == {}
    assert "99999999" in error["fields"]["items"][1]["product"][0]
    assert "Item 2" in error["message"]
    assert_nothing_sold()
    assert_settled(remote.stock, {known: 5})


def test_remote_rejecting_our_key_is_a_502(remote, use_catalog, client_as):
    product = remote.create_product(stock=5)
    use_catalog(remote.url, "0badc0de.not-the-key")

    response = client_as("sales").post(SALES, sale_body((product, 1)), format="json")

    assert_error(response, 502, "catalog_auth_failed")
    assert_nothing_sold()
    assert outbox() == []
    assert_settled(remote.stock, {product: 5})


def test_local_commit_failing_after_the_remote_decrements_undoes_every_one(
    remote, client_as, monkeypatch
):
    products = [remote.create_product(stock=10) for _ in range(3)]
    real_insert = sale_services._insert_sale

    def insert_after_a_rival(sale):
        """Another writer commits a sale with this reference first (its own connection), so
        our INSERT really fails on the unique constraint, after the remote purchases."""

        def rival():
            try:
                Sale.objects.create(reference=sale.reference, sold_at=timezone.now())
            finally:
                connection.close()

        thread = threading.Thread(target=rival)
        thread.start()
        thread.join(10)
        real_insert(sale)

    monkeypatch.setattr(sale_services, "_insert_sale", insert_after_a_rival)

    response = client_as("sales").post(
        SALES, sale_body(*[(pid, 4) for pid in products], reference="RIVAL-1"), format="json"
    )

    assert_error(response, 409, "duplicate_reference")
    assert list(Sale.objects.values_list("reference", flat=True)) == ["RIVAL-1"]  # the rival's
    assert SaleItem.objects.count() == 0
    assert [remote.stock(pid) for pid in products] == [10, 10, 10]
    assert outbox() == [(pid, 4, "compensation", "done") for pid in products]
    assert_settled(remote.stock, dict.fromkeys(products, 10))
    assert_remote_ledger(remote, *products)


def test_cancel_restocks_the_remote_after_commit_and_a_second_cancel_does_nothing(
    remote, client_as
):
    first = remote.create_product(stock=10)
    second = remote.create_product(stock=10)
    seller = client_as("sales")
    sale = seller.post(SALES, sale_body((first, 3), (second, 4)), format="json").json()
    assert (remote.stock(first), remote.stock(second)) == (7, 6)

    response = seller.post(f"{SALES}{sale['id']}/cancel/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert (remote.stock(first), remote.stock(second)) == (10, 10)
    assert outbox() == [(first, 3, "sale_cancel", "done"), (second, 4, "sale_cancel", "done")]
    assert_settled(remote.stock, {first: 10, second: 10})

    again = seller.post(f"{SALES}{sale['id']}/cancel/")

    assert_error(again, 409, "sale_cancelled")
    assert (remote.stock(first), remote.stock(second)) == (10, 10)
    assert CatalogOutboxEntry.objects.count() == 2
    assert_settled(remote.stock, {first: 10, second: 10})
    assert_remote_ledger(remote, first, second)


def test_editing_items_moves_remote_stock_by_the_difference(remote, client_as):
    kept_up, kept_down, added = (remote.create_product(stock=20) for _ in range(3))
    manager = client_as("manager")
    sale = manager.post(SALES, sale_body((kept_up, 2), (kept_down, 3)), format="json").json()

    response = manager.patch(
        f"{SALES}{sale['id']}/",
        sale_body((kept_up, 5), (kept_down, 1), (added, 2)),
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert [remote.stock(pid) for pid in (kept_up, kept_down, added)] == [15, 19, 18]
    assert_settled(remote.stock, dict.fromkeys((kept_up, kept_down, added), 20))
    assert outbox() == [(kept_down, 2, "sale_edit", "done")]
    assert_remote_ledger(remote, kept_up, kept_down, added)


def test_deleting_a_sale_restores_remote_stock(remote, client_as):
    product = remote.create_product(stock=10)
    manager = client_as("manager")
    sale = manager.post(SALES, sale_body((product, 6)), format="json").json()

    response = manager.delete(f"{SALES}{sale['id']}/")

    assert response.status_code == 204
    assert remote.stock(product) == 10
    assert_settled(remote.stock, {product: 10})


def test_idempotent_repeat_takes_remote_stock_once(remote, client_as):
    product = remote.create_product(stock=10)
    seller = client_as("sales")

    first = seller.post(SALES, sale_body((product, 2)), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = seller.post(SALES, sale_body((product, 2)), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert (first.status_code, again.status_code) == (201, 201), first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert remote.stock(product) == 8
    assert_settled(remote.stock, {product: 10})


def test_concurrent_sales_never_oversell_the_remote(remote):
    """Six first sales of a product at once: the remote never oversells, and the local mirror
    row is created once (the others wait for it instead of failing on its primary key)."""
    product = remote.create_product(stock=7)

    results = run_at_once(
        6,
        lambda i: sale_services.sale_create(
            lines=[sale_services.SaleLine(product_id=product, quantity=2)]
        ),
    )

    assert (
        sorted(type(r).__name__ for r in results) == ["InsufficientStockError"] * 3 + ["Sale"] * 3
    )
    assert remote.stock(product) == 1
    assert Sale.objects.count() == 3
    HttpCatalog().get_products([product])  # answers may land out of order: refresh the mirror
    assert_settled(remote.stock, {product: 7})
    assert_remote_ledger(remote, product)


# --- fault cases against the fake ------------------------------------------------------------


def test_timeout_after_the_remote_applied_is_a_503_and_the_purchase_is_given_back(fake, client_as):
    product = fake.add_product(stock=10)
    fake.delay("purchase", FAST * 3, apply_first=True)  # done remotely, answered too late

    started = time.monotonic()
    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")
    elapsed = time.monotonic() - started

    assert_error(response, 503, "catalog_unavailable")
    assert response["Retry-After"] == "5"
    assert elapsed < FAST * 3  # we did not wait for the late answer
    assert_nothing_sold()
    assert fake.stock(product) == 10  # the unanswered purchase was compensated
    assert (fake.count("purchase"), fake.count("restock")) == (1, 1)
    assert outbox() == [(product, 2, "compensation", "done")]
    fake.wait_idle()
    assert fake.stock(product) == 10
    assert_settled(fake.stock, {product: 10})


def test_a_frozen_read_ends_the_sale_at_its_deadline_without_retrying(
    fake, client_as, use_catalog, settings
):
    """CATALOG_SALE_DEADLINE bounds all of a sale's catalog calls: a read that outlasts it is
    given up (its timeout is the time left, under CATALOG_TIMEOUT) and not tried again."""
    use_catalog(fake.url, fake.api_key, timeout=5.0)
    settings.CATALOG_SALE_DEADLINE = 0.5
    product = fake.add_product(stock=10)
    fake.delay("get", 2.0)  # answers within CATALOG_TIMEOUT, but after the deadline

    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert response["Retry-After"] == "5"
    assert fake.count("get") == 1  # no retry once the time is out
    assert fake.count("purchase") == 0
    assert_nothing_sold()
    fake.wait_idle()
    assert_settled(fake.stock, {product: 10})


def test_a_frozen_purchase_past_the_deadline_is_a_503_and_given_back(
    fake, client_as, use_catalog, settings
):
    use_catalog(fake.url, fake.api_key, timeout=5.0)
    settings.CATALOG_SALE_DEADLINE = 0.5
    first = fake.add_product(stock=10)
    second = fake.add_product(stock=10)
    fake.delay("purchase", 2.0, apply_first=True, product_id=second)  # taken, answered late

    response = client_as("sales").post(SALES, sale_body((first, 1), (second, 2)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert_nothing_sold()
    fake.wait_idle()
    # Both purchases were given back, though the deadline had passed: through the outbox.
    assert (fake.stock(first), fake.stock(second)) == (10, 10)
    assert outbox() == [(first, 1, "compensation", "done"), (second, 2, "compensation", "done")]
    assert_settled(fake.stock, {first: 10, second: 10})


def test_timeout_before_the_remote_applied_settles_once_the_late_purchase_lands(fake, client_as):
    """The remote applies the purchase only after we gave up: our compensation lands first,
    so for a moment the remote has too much; once the late purchase lands it is right again,
    and the mirror catches up at the next read."""
    product = fake.add_product(stock=10)
    fake.delay("purchase", FAST * 2, apply_first=False)

    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert_nothing_sold()
    fake.wait_idle()
    assert fake.stock(product) == 10
    assert mirror_stock(product) == 12  # what the compensation answered, before the late purchase
    HttpCatalog().get_products([product])  # the next read (or sync_catalog) refreshes the mirror
    assert_settled(fake.stock, {product: 10})


def test_connection_dropped_after_the_remote_applied_is_a_503_and_compensated(fake, client_as):
    product = fake.add_product(stock=10)
    fake.drop("purchase", apply_first=True)

    response = client_as("sales").post(SALES, sale_body((product, 3)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert_nothing_sold()
    assert (fake.count("purchase"), fake.count("restock")) == (1, 1)  # sent once, given back
    assert_settled(fake.stock, {product: 10})


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: the contract's purchase has no idempotency key and no way to ask "
    "whether it happened, so a purchase whose connection dropped before the remote applied it "
    "is compensated anyway and the remote gains the units (the design's 'safe side')",
)
def test_connection_dropped_before_the_remote_applied_leaves_the_remote_right(fake, client_as):
    product = fake.add_product(stock=10)
    fake.drop("purchase", apply_first=False)

    response = client_as("sales").post(SALES, sale_body((product, 3)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert_nothing_sold()
    assert fake.stock(product) == 10  # is 13: the compensation restocked a purchase never made


def test_connection_refused_is_a_quick_503_and_nothing_is_recorded(use_catalog, client_as):
    use_catalog(f"http://127.0.0.1:{free_port()}/api", "any-key", timeout=FAST)

    started = time.monotonic()
    response = client_as("sales").post(SALES, sale_body((123_456, 1)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert response["Retry-After"] == "5"
    assert time.monotonic() - started < 2
    assert_nothing_sold()
    assert not Product.objects.exists()
    assert outbox() == []


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(("get", 500, 0.0), id="read-500"),
        pytest.param(("get", 503, 0.0), id="read-503-after-retries"),
        pytest.param(("get", None, FAST * 1.5), id="read-timeout"),
        pytest.param(("purchase", 500, 0.0), id="purchase-500"),
        pytest.param(("purchase", 502, 0.0), id="purchase-502"),
    ],
)
def test_remote_errors_and_slowness_are_a_503_with_nothing_recorded(fake, client_as, fault):
    route, status, delay = fault
    product = fake.add_product(stock=10)
    if status:
        fake.fail(route, status)
    else:
        fake.delay(route, delay)

    response = client_as("sales").post(SALES, sale_body((product, 1)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert response["Retry-After"] == "5"
    assert_nothing_sold()
    assert fake.count("restock") == 0  # a purchase answered 5xx was not applied: no undo
    fake.wait_idle()
    assert_settled(fake.stock, {product: 10})


def test_remote_403_on_the_second_line_is_a_502_and_the_first_line_is_given_back(fake, client_as):
    first = fake.add_product(stock=10)
    second = fake.add_product(stock=10)
    fake.fail("purchase", 403, product_id=second)

    response = client_as("sales").post(SALES, sale_body((first, 2), (second, 2)), format="json")

    assert_error(response, 502, "catalog_auth_failed")
    assert_nothing_sold()
    assert (fake.stock(first), fake.stock(second)) == (10, 10)
    assert_settled(fake.stock, {first: 10, second: 10})


def test_failed_compensation_stays_in_the_outbox_until_the_retry_task_settles_it(fake, client_as):
    first = fake.add_product(stock=10)
    second = fake.add_product(stock=1)
    fake.fail("restock", 500)

    response = client_as("sales").post(SALES, sale_body((first, 3), (second, 2)), format="json")

    assert_error(response, 409, "insufficient_stock")
    assert_nothing_sold()
    assert fake.stock(first) == 7  # still short: the compensation could not be sent
    entry = CatalogOutboxEntry.objects.get()
    assert (entry.product_id, entry.delta, entry.status, entry.attempts) == (
        first,
        3,
        CatalogOutboxStatus.PENDING,
        1,
    )
    assert "HTTP 500" in entry.last_error
    assert entry.next_attempt_at > timezone.now()  # backing off

    # Not due yet: the retry task leaves it alone.
    assert retry_catalog_outbox_task() == {"done": 0, "failed": 0}
    assert fake.count("restock") == 1

    fake.heal()
    CatalogOutboxEntry.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert retry_catalog_outbox_task() == {"done": 1, "failed": 0}

    entry.refresh_from_db()
    assert (entry.status, entry.attempts, entry.last_error) == (CatalogOutboxStatus.DONE, 2, "")
    assert entry.completed_at is not None
    assert fake.stock(first) == 10
    assert mirror_stock(first) == 10
    assert_settled(fake.stock, {first: 10, second: 1})

    # Safe to run twice: a done entry is never sent again.
    assert retry_catalog_outbox_task() == {"done": 0, "failed": 0}
    assert fake.stock(first) == 10


@pytest.mark.parametrize("missing_status", [404, 405])
def test_cancel_restocks_by_patch_when_the_remote_has_no_restock_endpoint(
    fake, client_as, missing_status
):
    product = fake.add_product(stock=10)
    fake.restock_endpoint = missing_status
    seller = client_as("sales")
    sale = seller.post(SALES, sale_body((product, 4)), format="json").json()
    assert fake.stock(product) == 6

    response = seller.post(f"{SALES}{sale['id']}/cancel/")

    assert response.status_code == 200, response.json()
    assert fake.stock(product) == 10
    assert (fake.count("restock"), fake.count("patch")) == (1, 1)
    assert_settled(fake.stock, {product: 10})


def test_reads_are_retried_after_a_503(fake, client_as):
    product = fake.add_product(price="3.50", stock=10)
    fake.fail("get", 503, product_id=product, times=1)

    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["total"] == "7.00"
    assert fake.count("get", product) == 2  # the 503, then the retry
    assert fake.stock(product) == 8
    assert_settled(fake.stock, {product: 10})


def test_a_purchase_answered_503_is_not_retried(fake, client_as):
    product = fake.add_product(stock=10)
    fake.fail("purchase", 503)

    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert fake.count("purchase") == 1  # a POST is sent once
    assert fake.count("restock") == 0
    assert_nothing_sold()
    assert_settled(fake.stock, {product: 10})


def test_cancel_while_the_remote_is_down_waits_in_the_outbox(fake, client_as):
    product = fake.add_product(stock=10)
    seller = client_as("sales")
    sale = seller.post(SALES, sale_body((product, 4)), format="json").json()
    fake.fail("restock", 503)

    response = seller.post(f"{SALES}{sale['id']}/cancel/")

    assert response.status_code == 200, response.json()  # the cancel itself is local
    assert Sale.objects.get().status == SaleStatus.CANCELLED
    assert fake.stock(product) == 6
    entry = CatalogOutboxEntry.objects.get()
    assert (entry.delta, entry.status, entry.attempts) == (4, CatalogOutboxStatus.PENDING, 1)

    fake.heal()
    CatalogOutboxEntry.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert retry_catalog_outbox_task() == {"done": 1, "failed": 0}

    assert fake.stock(product) == 10
    assert_settled(fake.stock, {product: 10})


def test_answers_landing_out_of_order_leave_the_mirror_stale_until_the_next_read(
    fake, client_as, use_catalog
):
    """Sale A's purchase is applied first but answered late; sale B's purchase is applied and
    answered meanwhile. A then records the older figure: the remote and the sales are right,
    the mirror lags until the next read of the product refreshes it."""
    use_catalog(fake.url, fake.api_key, timeout=5.0)
    product = fake.add_product(stock=10)
    fake.delay("purchase", 1.0, apply_first=True, times=1)
    first_seller, second_seller = client_as("sales"), client_as("sales")
    answers = []

    def sell_slowly() -> None:
        try:
            answers.append(first_seller.post(SALES, sale_body((product, 2)), format="json"))
        finally:
            connection.close()

    slow = threading.Thread(target=sell_slowly)
    slow.start()
    deadline = time.monotonic() + 5
    while fake.count("purchase") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)

    response = second_seller.post(SALES, sale_body((product, 3)), format="json")
    assert fake.count("purchase") == 2 and slow.is_alive()  # B done while A still waits
    slow.join(10)

    assert [answer.status_code for answer in (*answers, response)] == [201, 201]
    assert Sale.objects.count() == 2
    assert fake.stock(product) == 5
    assert mirror_stock(product) == 8  # A's answer, older than B's
    assert local_ledger_sum(product) == 8
    HttpCatalog().get_products([product])
    assert_settled(fake.stock, {product: 10})


def test_a_purchase_applied_but_answered_with_nonsense_is_a_503_and_given_back(fake, client_as):
    product = fake.add_product(stock=10)
    fake.garble("purchase")

    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert_nothing_sold()
    assert fake.count("restock") == 1  # the remote took the units: they are given back
    assert_settled(fake.stock, {product: 10})


@pytest.mark.parametrize("body", ['["quantity is invalid"]', '"refused"', "<html>400</html>"])
def test_a_purchase_refused_with_an_odd_body_is_a_503(fake, client_as, body):
    product = fake.add_product(stock=10)
    fake.garble("purchase", body, status=400)

    response = client_as("sales").post(SALES, sale_body((product, 2)), format="json")

    assert_error(response, 503, "catalog_unavailable")
    assert_nothing_sold()
    assert fake.count("restock") == 0
    assert_settled(fake.stock, {product: 10})


def test_after_a_503_the_same_idempotency_key_can_be_retried(fake, client_as):
    product = fake.add_product(stock=10)
    seller = client_as("sales")
    fake.fail("purchase", 503, times=1)

    first = seller.post(SALES, sale_body((product, 2)), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    retry = seller.post(SALES, sale_body((product, 2)), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    assert_error(first, 503, "catalog_unavailable")
    assert retry.status_code == 201, retry.json()
    assert fake.stock(product) == 8
    assert_settled(fake.stock, {product: 10})


@pytest.mark.xfail(
    strict=True,
    reason="known limitation: a restock that the remote applied but answered too late stays "
    "pending and is sent again by the retry task (no idempotency key in the contract; a remote "
    "that honours our Idempotency-Key extension applies it once, see the next test)",
)
def test_a_compensation_answered_too_late_is_not_applied_twice(fake, client_as):
    first = fake.add_product(stock=10)
    second = fake.add_product(stock=0)
    fake.delay("restock", FAST * 2, apply_first=True, times=1)

    response = client_as("sales").post(SALES, sale_body((first, 3), (second, 1)), format="json")

    assert_error(response, 409, "insufficient_stock")
    fake.wait_idle()
    CatalogOutboxEntry.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    retry_catalog_outbox_task()
    assert fake.stock(first) == 10  # is 13: the late restock, then the retried one


def test_outbox_entry_for_a_product_the_remote_no_longer_knows_fails_for_good(fake):
    known = fake.add_product(stock=5)
    HttpCatalog().get_products([known])  # the local mirror row
    entry = CatalogOutboxEntry.objects.create(
        product_id=known, delta=2, reason="compensation", reference="t"
    )
    fake.products.pop(known)  # the remote forgot it

    assert retry_catalog_outbox_task() == {"done": 0, "failed": 1}

    entry.refresh_from_db()
    assert entry.status == CatalogOutboxStatus.FAILED
    assert "does not exist" in entry.last_error
    # Failed entries are not retried by the periodic task (an operator decides).
    CatalogOutboxEntry.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert retry_catalog_outbox_task() == {"done": 0, "failed": 0}


def test_a_remote_honouring_idempotency_keys_applies_a_late_compensation_once(fake, client_as):
    fake.honour_idempotency_keys = True
    first = fake.add_product(stock=10)
    second = fake.add_product(stock=0)
    fake.delay("restock", FAST * 2, apply_first=True, times=1)

    response = client_as("sales").post(SALES, sale_body((first, 3), (second, 1)), format="json")

    assert_error(response, 409, "insufficient_stock")
    fake.wait_idle()
    entry = CatalogOutboxEntry.objects.get()
    assert entry.status == CatalogOutboxStatus.PENDING  # its answer came too late
    CatalogOutboxEntry.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert retry_catalog_outbox_task() == {"done": 1, "failed": 0}
    assert fake.stock(first) == 10  # the retry was answered from the first application
    # Both sends carried the entry's own key.
    restock_keys = fake.idempotency_keys_seen[-2:]
    assert restock_keys == [str(entry.idempotency_key)] * 2
    assert_settled(fake.stock, {first: 10, second: 0})
