"""``POST /api/products/bulk/``, ``/api/customers/bulk/`` and ``/api/sales/bulk/``.

Products and customers: created or updated by natural key (sku; email whatever the case), all or
nothing, errors listed by item index. Sales: each through the sale service (stock rules hold),
refusals reported per sale; references are assigned up front so running a batch twice records
each sale once; over SALES_BULK_SYNC_MAX the batch runs as a job.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from core.jobs.models import BatchJob
from core.jobs.tasks import run_batch_job_task
from customers.models import Customer
from products.models import Category, Product, StockMovement
from sales.bulk import sales_bulk_plan, sales_bulk_record
from sales.models import Sale, SaleItem
from tests.api import assert_error, assert_ledger_matches_stock, ledger_sum, stock_of
from tests.factories import make_category, make_customer, make_product

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PRODUCTS = "/api/products/bulk/"
CUSTOMERS = "/api/customers/bulk/"
SALES = "/api/sales/bulk/"


@pytest.fixture(autouse=True)
def _jobs_in_process(jobs_in_process):
    """Batch jobs run in process (see tests/conftest.py)."""


def products_state() -> list[tuple]:
    return list(
        Product.objects.order_by("sku").values_list(
            "sku", "name", "category_id", "price", "cost", "stock_quantity", "is_active"
        )
    )


def customers_state() -> list[tuple]:
    return list(
        Customer.objects.order_by("email").values_list(
            "email", "name", "phone", "city", "country", "segment"
        )
    )


# --- products/bulk -------------------------------------------------------------------------------


def test_products_are_created_and_updated_by_sku(manager_client):
    garden = make_category(name="Garden")
    tools = make_category(name="Tools")
    existing = make_product(sku="EX-1", name="Old", price="5.00", cost="2.00", stock=7)
    untouched = make_product(sku="EX-2", name="Untouched", price="9.99", stock=3)
    items = [
        {
            "sku": "NEW-1",
            "name": "Spade",
            "category": "garden",  # by name, whatever the case
            "price": "12.50",
            "cost": "6.25",
            "stock_quantity": 40,
            "is_active": True,
        },
        {
            "sku": "EX-1",
            "name": "Renamed",
            "category": "Tools",
            "price": "6.10",
            "cost": "2.00",
            "stock_quantity": 4,
            "is_active": False,
        },
    ]

    response = manager_client.post(PRODUCTS, {"items": items}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {k: body[k] for k in ("created", "updated", "unchanged", "items", "dry_run")} == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "items": 2,
        "dry_run": False,
    }
    assert body["seconds"] >= 0
    new = Product.objects.get(sku="NEW-1")
    assert (new.name, new.category_id, new.price, new.cost, new.stock_quantity, new.is_active) == (
        "Spade",
        garden.pk,
        Decimal("12.50"),
        Decimal("6.25"),
        40,
        True,
    )
    existing.refresh_from_db()
    assert (existing.name, existing.category_id, existing.price, existing.is_active) == (
        "Renamed",
        tools.pk,
        Decimal("6.10"),
        False,
    )
    assert existing.stock_quantity == 4  # a stock-take: the difference is in the ledger
    assert StockMovement.objects.filter(product=existing, reason="import", delta=-3).exists()
    assert StockMovement.objects.filter(product=new, reason="import", delta=40).exists()
    assert_ledger_matches_stock(new, existing, untouched)
    assert Product.objects.get(pk=untouched.pk).name == "Untouched"
    assert Product.objects.count() == 3


def test_products_sent_again_unchanged(manager_client):
    items = [{"sku": f"U-{i}", "name": f"Item {i}", "price": "1.00"} for i in range(3)]
    assert manager_client.post(PRODUCTS, {"items": items}, format="json").status_code == 200

    again = manager_client.post(PRODUCTS, {"items": items}, format="json").json()

    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert Product.objects.count() == 3


def test_columns_left_out_of_every_item_keep_their_values(manager_client):
    category = make_category(name="Garden")
    product = make_product(sku="K-1", price="5.00", cost="2.00", stock=7, category=category)

    response = manager_client.post(
        PRODUCTS, {"items": [{"sku": "K-1", "name": "New name", "price": "5.50"}]}, format="json"
    )

    assert response.status_code == 200, response.json()
    product.refresh_from_db()
    assert (product.name, product.price) == ("New name", Decimal("5.50"))
    assert (product.category_id, product.cost, product.stock_quantity) == (
        category.pk,
        Decimal("2.00"),
        7,
    )


def test_a_key_left_out_of_one_item_is_refused_at_its_index(manager_client):
    """Every item carries the first item's keys: an omitted key would otherwise clear the stored
    value (category -> NULL, cost -> 0) of an update. Refused, nothing written."""
    category = make_category(name="Garden")
    kept = make_product(sku="K-2", name="Kept", price="5.00", cost="2.00", category=category)
    before = products_state()
    items = [
        {"sku": "K-1", "name": "First", "price": "1.00", "category": "Garden", "cost": "0.50"},
        {"sku": "K-2", "name": "Second", "price": "6.00"},  # says nothing of category or cost
        {"sku": "K-3", "name": "Third", "price": "1.00", "category": None, "cost": None},
    ]

    error = assert_error(manager_client.post(PRODUCTS, {"items": items}, format="json"), 400)

    per_item = error["fields"]["items"]
    assert per_item[0] == {} and per_item[2] == {}  # null is an empty value, given on purpose
    message = per_item[1]["non_field_errors"][0]
    assert "category" in message and "cost" in message and "missing" in message
    assert products_state() == before
    kept.refresh_from_db()
    assert (kept.category_id, kept.cost) == (category.pk, Decimal("2.00"))


def test_invalid_items_write_nothing_and_are_listed_by_index(manager_client):
    make_category(name="Garden")
    make_product(sku="EX-1", name="Old", price="5.00")
    before = products_state()
    items = [
        {"sku": "OK-1", "name": "Fine", "price": "1.00", "category": "Garden"},
        {"sku": "BAD-1", "name": "Bad category", "price": "1.00", "category": "Nowhere"},
        {"sku": "EX-1", "name": "Fine update", "price": "2.00", "category": ""},
        {"sku": "BAD-2", "name": "", "price": "-1", "category": ""},
        {"sku": "OK-1", "name": "Twice", "price": "1.00", "category": ""},
    ]

    response = manager_client.post(PRODUCTS, {"items": items}, format="json")

    error = assert_error(response, 400, "invalid")
    assert error["message"] == "3 of 5 items are invalid; nothing was written."
    assert response.json()["error"]["error_count"] == 4
    per_item = error["fields"]["items"]
    assert len(per_item) == 5
    assert per_item[0] == {} and per_item[2] == {}
    assert list(per_item[1]) == ["category"] and "Nowhere" in per_item[1]["category"][0]
    assert sorted(per_item[3]) == ["name", "price"]
    assert per_item[3]["name"] == ["name is required."]
    assert "negative" in per_item[3]["price"][0]
    assert list(per_item[4]) == ["sku"] and "item 0" in per_item[4]["sku"][0]
    assert products_state() == before
    assert not StockMovement.objects.filter(reason="import").exists()


def test_an_item_that_is_not_an_object_is_listed(manager_client):
    items = [{"sku": "A", "name": "A", "price": "1"}, "not an object", 42]

    error = assert_error(manager_client.post(PRODUCTS, {"items": items}, format="json"), 400)

    per_item = error["fields"]["items"]
    assert per_item[0] == {}
    assert set(per_item[1]) == {"non_field_errors"} and set(per_item[2]) == {"non_field_errors"}
    assert Product.objects.count() == 0


def test_dry_run_reports_and_writes_nothing(manager_client):
    make_product(sku="EX-1", name="Old", price="5.00")
    before = products_state()
    items = [
        {"sku": "EX-1", "name": "New name", "price": "5.00"},
        {"sku": "NEW-1", "name": "New", "price": "1.00"},
    ]

    response = manager_client.post(PRODUCTS, {"items": items, "dry_run": True}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"]) == (1, 1, 0)
    assert body["dry_run"] is True
    assert products_state() == before


def test_dry_run_of_invalid_items_is_the_same_400(manager_client):
    items = [{"sku": "A", "name": "A", "price": "x"}]
    error = assert_error(
        manager_client.post(PRODUCTS, {"items": items, "dry_run": True}, format="json"), 400
    )
    assert list(error["fields"]["items"][0]) == ["price"]


@pytest.mark.parametrize("url", [PRODUCTS, CUSTOMERS])
def test_more_than_bulk_max_items_is_400(manager_client, settings, url):
    settings.BULK_MAX_ITEMS = 3
    if url == PRODUCTS:
        items = [{"sku": f"S{i}", "name": "n", "price": "1"} for i in range(4)]
    else:
        items = [{"email": f"c{i}@example.com", "name": "n"} for i in range(4)]

    error = assert_error(manager_client.post(url, {"items": items}, format="json"), 400, "invalid")

    assert error["fields"]["items"] == ["At most 3 items per request."]
    assert Product.objects.count() == 0 and Customer.objects.count() == 0
    # Exactly at the limit it works.
    response = manager_client.post(url, {"items": items[:3]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 3
    assert Product.objects.count() + Customer.objects.count() == 3


@pytest.mark.parametrize(
    ("items", "fragment"),
    [
        ([{"sku": "A", "name": "A", "price": "1", "colour": "red"}], "unknown column(s): colour"),
        ([{"sku": "A", "price": "1"}], "missing column(s): name"),
    ],
)
def test_unknown_or_missing_keys_are_invalid_file(manager_client, items, fragment):
    error = assert_error(
        manager_client.post(PRODUCTS, {"items": items}, format="json"), 400, "invalid_file"
    )
    assert fragment in error["message"]
    assert Product.objects.count() == 0


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": {"sku": "A"}}, {"items": "x"}])
def test_malformed_bodies_are_400(manager_client, body):
    error = assert_error(manager_client.post(PRODUCTS, body, format="json"), 400, "invalid")
    assert "items" in error["fields"]


@pytest.mark.parametrize(
    ("role", "status"), [("manager", 200), ("analyst", 403), ("sales", 403), (None, 401)]
)
@pytest.mark.parametrize("url", [PRODUCTS, CUSTOMERS])
def test_bulk_permissions(client_for, role, status, url):
    item = (
        {"sku": "P-1", "name": "P", "price": "1.00"}
        if url == PRODUCTS
        else {"email": "p@example.com", "name": "P"}
    )

    response = client_for(role).post(url, {"items": [item]}, format="json")

    if status == 200:
        assert response.status_code == 200, response.json()
    else:
        assert_error(response, status)
    expected = 1 if status == 200 else 0
    assert Product.objects.count() + Customer.objects.count() == expected


def test_ten_thousand_products_in_one_request(manager_client):
    make_category(name="Bulk")
    make_product(sku="BULK-00000", name="Before", price="1.00")
    items = [
        {
            "sku": f"BULK-{i:05d}",
            "name": f"Bulk product {i}",
            "category": "Bulk",
            "price": f"{i % 1000}.{i % 100:02d}",
        }
        for i in range(10_000)
    ]

    response = manager_client.post(PRODUCTS, {"items": items}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["items"]) == (9_999, 1, 10_000)
    assert Product.objects.filter(sku__startswith="BULK-").count() == 10_000
    category = Category.objects.get(name="Bulk")
    assert Product.objects.filter(category=category).count() == 10_000
    assert Product.objects.get(sku="BULK-01234").price == Decimal("234.34")
    assert Product.objects.get(sku="BULK-00000").name == "Bulk product 0"


# --- customers/bulk ------------------------------------------------------------------------------


def test_customers_are_created_and_updated_by_email_whatever_the_case(manager_client):
    existing = make_customer(email="ann@example.com", name="Ann", city="Paris", country="FR")
    items = [
        {
            "email": "ANN@example.com",
            "name": "Ann Smith",
            "phone": "+33 1",
            "city": "Lyon",
            "country": "FR",
            "segment": "corporate",
        },
        {
            "email": "bob@example.com",
            "name": "Bob",
            "phone": "",
            "city": "Rome",
            "country": "IT",
            "segment": "small_business",
        },
    ]

    response = manager_client.post(CUSTOMERS, {"items": items}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["updated"], body["unchanged"], body["items"]) == (1, 1, 0, 2)
    assert Customer.objects.count() == 2
    ann = Customer.objects.get(pk=existing.pk)  # the same row, not a second Ann
    assert (ann.name, ann.phone, ann.city, str(ann.country), ann.segment) == (
        "Ann Smith",
        "+33 1",
        "Lyon",
        "FR",
        "corporate",
    )
    assert ann.email.lower() == "ann@example.com"
    bob = Customer.objects.get(email="bob@example.com")
    assert (bob.name, bob.city, str(bob.country), bob.segment) == (
        "Bob",
        "Rome",
        "IT",
        "small_business",
    )


def test_invalid_customers_write_nothing_and_are_listed_by_index(manager_client):
    make_customer(email="ann@example.com", name="Ann")
    before = customers_state()
    items = [
        {"email": "new@example.com", "name": "New", "segment": "consumer", "country": ""},
        {"email": "not-an-email", "name": "X", "segment": "consumer", "country": ""},
        {"email": "ann@example.com", "name": "Ann 2", "segment": "nobody", "country": "ZZ"},
        {"email": "NEW@example.com", "name": "Twice", "segment": "", "country": ""},
    ]

    response = manager_client.post(CUSTOMERS, {"items": items}, format="json")

    error = assert_error(response, 400, "invalid")
    assert error["message"] == "3 of 4 items are invalid; nothing was written."
    per_item = error["fields"]["items"]
    assert per_item[0] == {}
    assert list(per_item[1]) == ["email"]
    assert sorted(per_item[2]) == ["country", "segment"]
    assert list(per_item[3]) == ["email"] and "item 0" in per_item[3]["email"][0]
    assert customers_state() == before


def test_a_key_only_a_later_item_has_is_refused_at_its_index(manager_client):
    """The keys of the first item are the columns: a later item's extra key is its error."""
    items = [
        {"email": "a@example.com", "name": "A"},
        {"email": "b@example.com", "name": "B", "segment": "corporate"},
    ]

    error = assert_error(manager_client.post(CUSTOMERS, {"items": items}, format="json"), 400)

    assert error["fields"]["items"][0] == {}
    assert "segment" in error["fields"]["items"][1]["non_field_errors"][0]
    assert Customer.objects.count() == 0


def test_customers_dry_run_writes_nothing(manager_client):
    make_customer(email="ann@example.com", name="Ann")
    before = customers_state()
    items = [{"email": "Ann@Example.com", "name": "Ann B"}, {"email": "c@example.com", "name": "C"}]

    body = manager_client.post(CUSTOMERS, {"items": items, "dry_run": True}, format="json").json()

    assert (body["created"], body["updated"], body["dry_run"]) == (1, 1, True)
    assert customers_state() == before


def test_customers_unknown_key_is_invalid_file(manager_client):
    items = [{"email": "a@example.com", "name": "A", "vat": "FR1"}]
    error = assert_error(
        manager_client.post(CUSTOMERS, {"items": items}, format="json"), 400, "invalid_file"
    )
    assert "vat" in error["message"]


# --- sales/bulk ----------------------------------------------------------------------------------


def sale(*lines, **extra) -> dict:
    return {"items": [{"product": p.pk, "quantity": q} for p, q in lines], **extra}


def sales_of(reference: str) -> int:
    return Sale.objects.filter(reference=reference).count()


def test_sales_are_recorded_one_by_one_and_a_refusal_is_reported(client_for):
    client = client_for("sales")
    hammer = make_product(sku="HAM", price="12.50", stock=5)
    nails = make_product(sku="NAI", price="0.10", stock=100)
    customer = make_customer()
    body = {
        "sales": [
            sale((hammer, 2), (nails, 30), reference="B-1", customer=customer.pk),
            sale((hammer, 4), reference="B-2"),  # only 3 left: refused
            sale((nails, 70)),  # no reference: one is generated
        ]
    }

    response = client.post(SALES, body, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["created"], result["already_recorded"], result["failed"]) == (2, 0, 1)
    first, refused, third = result["results"]
    assert first["index"] == 0 and first["status"] == "created"
    assert (first["reference"], first["total"]) == ("B-1", "28.00")
    assert refused["index"] == 1 and refused["status"] == "failed"
    assert refused["reference"] == "B-2"
    assert refused["error"]["code"] == "insufficient_stock"
    assert "requested 4, available 3" in refused["error"]["message"]
    assert third["status"] == "created" and third["reference"].startswith("S-")
    assert third["total"] == "7.00"

    assert sales_of("B-1") == 1 and sales_of("B-2") == 0 and sales_of(third["reference"]) == 1
    recorded = Sale.objects.get(pk=first["id"])
    assert recorded.customer_id == customer.pk
    assert recorded.created_by_id == client.user.pk
    assert stock_of(hammer) == 3 and stock_of(nails) == 0
    assert StockMovement.objects.filter(reference="B-1", reason="sale").count() == 2
    assert ledger_sum(hammer) == 3 and ledger_sum(nails) == 0
    assert_ledger_matches_stock(hammer, nails)


def test_duplicate_references_inside_the_batch_record_nothing(manager_client):
    product = make_product(stock=10)
    body = {
        "sales": [
            sale((product, 1), reference="D-1"),
            sale((product, 1), reference="D-2"),
            sale((product, 1), reference="D-1"),
        ]
    }

    error = assert_error(manager_client.post(SALES, body, format="json"), 400, "invalid")

    assert error["message"] == "1 of 3 sales cannot be recorded; nothing was."
    assert error["fields"]["sales"][:2] == [{}, {}]
    assert "also used by item 0" in error["fields"]["sales"][2]["reference"][0]
    assert Sale.objects.count() == 0
    assert stock_of(product) == 10


def test_references_already_recorded_record_nothing(manager_client):
    product = make_product(stock=10)
    first = manager_client.post(
        SALES, {"sales": [sale((product, 1), reference="E-1")]}, format="json"
    )
    assert first.status_code == 200
    body = {"sales": [sale((product, 2), reference="E-2"), sale((product, 3), reference="E-1")]}

    error = assert_error(manager_client.post(SALES, body, format="json"), 400, "invalid")

    assert error["fields"]["sales"][0] == {}
    assert "already exists" in error["fields"]["sales"][1]["reference"][0]
    assert Sale.objects.count() == 1 and sales_of("E-2") == 0
    assert stock_of(product) == 9
    assert_ledger_matches_stock(product)


@pytest.mark.parametrize(
    ("role", "status"), [("sales", 200), ("manager", 200), ("analyst", 403), (None, 401)]
)
def test_sales_bulk_permissions(client_for, role, status):
    product = make_product(stock=10)

    response = client_for(role).post(SALES, {"sales": [sale((product, 1))]}, format="json")

    if status == 200:
        assert response.status_code == 200 and response.json()["created"] == 1
    else:
        assert_error(response, status)
        assert Sale.objects.count() == 0 and stock_of(product) == 10


def test_more_than_sales_bulk_max_is_400(manager_client, settings):
    settings.SALES_BULK_MAX = 2
    product = make_product(stock=10)
    error = assert_error(
        manager_client.post(SALES, {"sales": [sale((product, 1))] * 3}, format="json"), 400
    )
    assert error["fields"]["sales"] == ["At most 2 sales per request."]
    assert Sale.objects.count() == 0


def test_over_the_sync_limit_sales_run_as_a_job(manager_client, settings):
    settings.SALES_BULK_SYNC_MAX = 2
    product = make_product(price="3.00", stock=5)
    body = {
        "sales": [
            sale((product, 2), reference="J-1"),
            sale((product, 9), reference="J-2"),  # refused: 3 left
            sale((product, 3), reference="J-3"),
        ]
    }

    response = manager_client.post(SALES, body, format="json")

    assert response.status_code == 202, response.json()
    job_body = response.json()["job"]
    assert response["Location"] == job_body["url"]
    assert (job_body["kind"], job_body["status"]) == ("sales_bulk", "succeeded")
    assert job_body["counts"] == {"sales": 3, "created": 2, "already_recorded": 0, "failed": 1}
    assert job_body["error_count"] == 1
    assert job_body["error_report"][0]["row"] == 1
    assert "Not enough stock" in job_body["error_report"][0]["message"]
    assert job_body["progress"]["done"] == job_body["progress"]["total"] == 3
    assert job_body["progress"]["unit"] == "sales"
    assert job_body["message"] == "2 sales recorded, 1 refused."
    job = BatchJob.objects.get(pk=job_body["id"])
    assert job.created_by_id == manager_client.user.pk
    assert [s["reference"] for s in job.params["sales"]] == ["J-1", "J-2", "J-3"]
    assert Sale.objects.filter(created_by=manager_client.user).count() == 2
    assert stock_of(product) == 0
    assert_ledger_matches_stock(product)


def test_the_same_job_run_twice_records_each_sale_once(manager_client, settings):
    settings.SALES_BULK_SYNC_MAX = 0
    products = [make_product(price="2.00", stock=20) for _ in range(3)]
    body = {"sales": [sale((p, 1), (products[0], 1)) for p in products] * 2}  # 6 sales
    job_id = manager_client.post(SALES, body, format="json").json()["job"]["id"]
    job = BatchJob.objects.get(pk=job_id)
    assert job.status == "succeeded" and job.counts["created"] == 6
    references = [s["reference"] for s in job.params["sales"]]
    assert len(set(references)) == 6  # generated up front, each different

    # The task delivered again (a redelivery after a crash, a second worker...).
    BatchJob.objects.filter(pk=job.pk).update(status="queued", finished_at=None, started_at=None)
    run_batch_job_task(job.pk)

    job.refresh_from_db()
    assert job.status == "succeeded"
    assert job.counts == {"sales": 6, "created": 0, "already_recorded": 6, "failed": 0}
    assert "6 already recorded" in job.message
    assert Sale.objects.count() == 6
    assert sorted(Sale.objects.values_list("reference", flat=True)) == sorted(references)
    # Per run products[0] sells 2 + 1 + 1, the others 1 each: taken once, not twice.
    assert stock_of(products[0]) == 20 - 8
    assert stock_of(products[1]) == stock_of(products[2]) == 20 - 2
    assert_ledger_matches_stock(*products)
    assert StockMovement.objects.filter(reason="sale").count() == 6 + 4


def test_a_job_delivered_twice_while_it_runs_does_nothing_the_second_time(manager_client):
    product = make_product(stock=5)
    job = BatchJob.objects.create(
        kind="sales_bulk",
        params={"sales": sales_bulk_plan([{"items": [{"product": product.pk, "quantity": 1}]}])},
        status="running",
        heartbeat_at=timezone.now(),
    )

    run_batch_job_task(job.pk)  # a live worker has it: this delivery returns at once

    job.refresh_from_db()
    assert job.status == "running"
    assert Sale.objects.count() == 0 and stock_of(product) == 5


def test_sales_bulk_record_twice_on_the_same_plan(db):
    bolts = make_product(sku="BOLT", price="0.25", stock=50)
    planned = sales_bulk_plan(
        [
            {"items": [{"product": bolts.pk, "quantity": 10}], "reference": "P-1"},
            {"items": [{"product": bolts.pk, "quantity": 15}]},
            {"items": [{"product": bolts.pk, "quantity": 40}]},  # refused the first time
        ]
    )

    first = sales_bulk_record(planned=planned)
    second = sales_bulk_record(planned=planned)

    assert (first.created, first.already_recorded, first.failed) == (2, 0, 1)
    assert [r["status"] for r in first.results] == ["created", "created", "failed"]
    assert (second.created, second.already_recorded, second.failed) == (0, 2, 1)
    assert [r["status"] for r in second.results] == [
        "already_recorded",
        "already_recorded",
        "failed",
    ]
    assert Sale.objects.count() == 2
    assert SaleItem.objects.aggregate(total=Sum("quantity"))["total"] == 25
    assert stock_of(bolts) == 25
    assert StockMovement.objects.filter(product=bolts, reason="sale").count() == 2
    assert_ledger_matches_stock(bolts)
