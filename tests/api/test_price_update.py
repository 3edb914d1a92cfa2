"""``POST /api/products/price-update/`` and the admin action "Change prices of the selected
products": the selection (category ids, skus, price range; every criterion must hold), percent
(rounded to the cent, half up) or amount, dry runs that write nothing, the batch job whose price
change and completion commit together, and refusals that change nothing."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core.jobs.models import BatchJob
from core.jobs.tasks import run_batch_job_task
from products.models import Product
from tests.factories import make_category, make_product, make_user

from . import assert_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

URL = "/api/products/price-update/"
CENT = Decimal("0.01")


@pytest.fixture(autouse=True)
def _jobs_in_process(jobs_in_process):
    """Batch jobs run in process (see tests/conftest.py)."""


def prices() -> dict[str, Decimal]:
    return dict(Product.objects.values_list("sku", "price"))


def by_percent(price: str, percent: str) -> Decimal:
    return (Decimal(price) * (100 + Decimal(percent)) / 100).quantize(CENT, ROUND_HALF_UP)


@pytest.fixture
def catalog(db):
    """Two categories and a product without one, with prices that round in interesting ways."""
    tools = make_category(name="Tools")
    garden = make_category(name="Garden")
    specs = {
        "T-1": ("10.10", tools),
        "T-2": ("19.99", tools),
        "T-3": ("0.15", tools),
        "T-4": ("0.01", tools),
        "G-1": ("99.95", garden),
        "G-2": ("250.00", garden),
        "N-1": ("5.00", None),
    }
    for sku, (price, category) in specs.items():
        make_product(sku=sku, name=f"Product {sku}", price=price, category=category)
    return {
        "tools": tools,
        "garden": garden,
        "prices": {k: Decimal(v) for k, (v, _) in specs.items()},
    }


# --- dry run -------------------------------------------------------------------------------------


def test_dry_run_lists_the_changes_and_writes_nothing(manager_client, catalog):
    before = prices()
    body = {"category": [catalog["tools"].pk], "percent": "5", "dry_run": True}

    response = manager_client.post(URL, body, format="json")

    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["dry_run"] is True
    # 0.01 x 1.05 = 0.0105 rounds back to 0.01: selected, not changed.
    assert (result["matched"], result["changed"]) == (4, 3)
    assert result["changes"] == [
        {"sku": "T-1", "name": "Product T-1", "old_price": "10.10", "new_price": "10.61"},
        {"sku": "T-2", "name": "Product T-2", "old_price": "19.99", "new_price": "20.99"},
        {"sku": "T-3", "name": "Product T-3", "old_price": "0.15", "new_price": "0.16"},
    ]
    assert prices() == before
    assert BatchJob.objects.count() == 0


def test_dry_run_lists_at_most_the_first_hundred_changes(manager_client):
    category = make_category(name="Many")
    Product.objects.bulk_create(
        Product(sku=f"M-{i:03d}", name=f"M {i}", price=Decimal("1.00"), category=category)
        for i in range(150)
    )

    result = manager_client.post(
        URL, {"category": [category.pk], "amount": "1", "dry_run": True}, format="json"
    ).json()

    assert (result["matched"], result["changed"]) == (150, 150)
    assert len(result["changes"]) == 100
    assert [c["sku"] for c in result["changes"]][:2] == ["M-000", "M-001"]
    assert Product.objects.filter(price=Decimal("1.00")).count() == 150


# --- what the new prices are ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        ("5", {"T-1": "10.61", "T-2": "20.99", "T-3": "0.16", "T-4": "0.01"}),
        ("10", {"T-1": "11.11", "T-2": "21.99", "T-3": "0.17", "T-4": "0.01"}),  # 0.165 -> 0.17
        ("-33.33", {"T-1": "6.73", "T-2": "13.33", "T-3": "0.10", "T-4": "0.01"}),
        ("12.5", {"T-1": "11.36", "T-2": "22.49", "T-3": "0.17", "T-4": "0.01"}),
        ("-99.99", {"T-1": "0.00", "T-2": "0.00", "T-3": "0.00", "T-4": "0.00"}),
    ],
)
def test_percent_rounds_to_the_cent_half_up(manager_client, catalog, percent, expected):
    body = {"category": [catalog["tools"].pk], "percent": percent}

    response = manager_client.post(URL, body, format="json")

    assert response.status_code == 202, response.json()
    now = prices()
    assert {sku: now[sku] for sku in expected} == {k: Decimal(v) for k, v in expected.items()}
    for sku, value in expected.items():  # the same as Decimal arithmetic, half up
        assert Decimal(value) == by_percent(str(catalog["prices"][sku]), percent)
    for sku in ("G-1", "G-2", "N-1"):
        assert now[sku] == catalog["prices"][sku]


def test_amount_is_added_to_each_price(manager_client, catalog):
    body = {"category": [catalog["garden"].pk], "amount": "-0.95"}

    response = manager_client.post(URL, body, format="json")

    assert response.status_code == 202, response.json()
    now = prices()
    assert (now["G-1"], now["G-2"]) == (Decimal("99.00"), Decimal("249.05"))
    assert now["T-1"] == Decimal("10.10") and now["N-1"] == Decimal("5.00")


# --- the selection -------------------------------------------------------------------------------


def matched(client, **selection) -> tuple[int, list[str]]:
    result = client.post(
        URL, {**selection, "amount": "1.00", "dry_run": True}, format="json"
    ).json()
    return result["matched"], sorted(change["sku"] for change in result["changes"])


def test_selection_by_each_criterion_and_combined(manager_client, catalog):
    tools, garden = catalog["tools"].pk, catalog["garden"].pk
    assert matched(manager_client, category=[tools]) == (4, ["T-1", "T-2", "T-3", "T-4"])
    assert matched(manager_client, category=[tools, garden])[0] == 6
    assert matched(manager_client, skus=["N-1", "G-2", "NOPE"]) == (2, ["G-2", "N-1"])
    assert matched(manager_client, price_min="10.10") == (4, ["G-1", "G-2", "T-1", "T-2"])
    assert matched(manager_client, price_max="0.15") == (2, ["T-3", "T-4"])
    assert matched(manager_client, price_min="5", price_max="99.95") == (
        4,
        ["G-1", "N-1", "T-1", "T-2"],
    )
    # Every criterion must hold.
    assert matched(manager_client, category=[tools], price_min="10") == (2, ["T-1", "T-2"])
    assert matched(manager_client, category=[garden], skus=["G-1", "T-1"]) == (1, ["G-1"])
    assert matched(
        manager_client, category=[tools, garden], skus=["T-2", "G-1", "G-2"], price_max="100"
    ) == (2, ["G-1", "T-2"])
    assert matched(manager_client, skus=["T-1"], price_min="11") == (0, [])


def test_the_job_changes_only_the_combined_selection(manager_client, catalog):
    body = {"category": [catalog["tools"].pk], "price_min": "1", "percent": "10"}

    response = manager_client.post(URL, body, format="json")

    assert response.status_code == 202, response.json()
    expected = dict(catalog["prices"], **{"T-1": Decimal("11.11"), "T-2": Decimal("21.99")})
    assert prices() == expected


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"percent": "5"}, "non_field_errors"),  # no selection at all
        ({"category": [], "percent": "5"}, "category"),
        ({"skus": [], "percent": "5"}, "skus"),
        ({"skus": ["T-1"]}, "percent"),  # neither percent nor amount
        ({"skus": ["T-1"], "percent": "5", "amount": "1"}, "percent"),  # both
        ({"skus": ["T-1"], "percent": "5.001"}, "percent"),
        ({"skus": ["T-1"], "percent": "abc"}, "percent"),
        ({"category": [999999], "percent": "5"}, "category"),
        ({"category": ["x"], "percent": "5"}, "category"),
        ({"skus": ["T-1"], "percent": "-100"}, "percent"),
        ({"skus": ["T-1"], "percent": "-250"}, "percent"),
    ],
)
def test_invalid_requests_are_400_and_change_nothing(manager_client, catalog, body, field):
    before = prices()

    error = assert_error(manager_client.post(URL, body, format="json"), 400, "invalid")

    assert field in error["fields"], error
    assert prices() == before
    assert BatchJob.objects.count() == 0


def test_no_selection_says_what_to_choose(manager_client, catalog):
    error = assert_error(manager_client.post(URL, {"percent": "5"}, format="json"), 400)
    assert "at least one" in error["fields"]["non_field_errors"][0]


def test_down_by_100_percent_or_more_is_refused_with_its_reason(manager_client, catalog):
    error = assert_error(
        manager_client.post(URL, {"skus": ["T-1"], "percent": "-100"}, format="json"), 400
    )
    assert error["message"] == "A price cannot go down by 100% or more."
    assert error["fields"]["percent"] == ["Must be more than -100."]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "-0.16"},  # T-3 (0.15) and T-4 (0.01) would go below 0
        {"amount": "9999999999.00"},  # 250.00 + that is over the maximum price
    ],
)
@pytest.mark.parametrize("dry_run", [True, False])
def test_out_of_range_prices_are_400_and_nothing_changes(manager_client, catalog, body, dry_run):
    before = prices()
    selection = {"price_min": "0"}

    response = manager_client.post(URL, {**selection, **body, "dry_run": dry_run}, format="json")

    error = assert_error(response, 400, "price_out_of_range")
    assert "nothing was changed" in error["message"]
    assert prices() == before
    assert BatchJob.objects.count() == 0


def test_out_of_range_names_the_products(manager_client, catalog):
    error = assert_error(
        manager_client.post(URL, {"price_max": "1", "amount": "-0.10"}, format="json"),
        400,
        "price_out_of_range",
    )
    assert error["message"].startswith("1 prices would be out of range")
    assert "T-4" in error["message"] and "T-3" not in error["message"]


# --- the job -------------------------------------------------------------------------------------


def test_the_job_changes_each_price_once_and_reports(manager_client, catalog):
    body = {"category": [catalog["tools"].pk, catalog["garden"].pk], "percent": "10"}

    response = manager_client.post(URL, body, format="json")

    assert response.status_code == 202, response.json()
    job_body = response.json()["job"]
    assert response["Location"] == job_body["url"]
    assert (job_body["kind"], job_body["status"]) == ("price_update", "succeeded")
    assert job_body["counts"] == {"matched": 6, "changed": 5}  # T-4 stays 0.01
    assert job_body["message"] == "5 of 6 prices changed."
    assert job_body["progress"]["done"] == job_body["progress"]["total"] == 6
    assert job_body["params"] == {
        "selection": {
            "category_ids": [catalog["tools"].pk, catalog["garden"].pk],
            "skus": None,
            "price_min": None,
            "price_max": None,
        },
        "percent": "10.00",
        "amount": None,
    }
    after = prices()
    for sku, old in catalog["prices"].items():
        expected = old if sku == "N-1" else by_percent(str(old), "10")
        assert after[sku] == expected, sku
    job = BatchJob.objects.get(pk=job_body["id"])
    assert job.created_by_id == manager_client.user.pk

    # The task delivered again after the job finished: nothing changes twice.
    run_batch_job_task(job.pk)
    assert prices() == after
    job.refresh_from_db()
    assert (job.status, job.counts) == ("succeeded", {"matched": 6, "changed": 5})


def test_a_job_whose_prices_went_out_of_range_meanwhile_fails_and_changes_nothing(catalog):
    job = BatchJob.objects.create(
        kind="price_update",
        params={
            "selection": {"category_ids": [catalog["tools"].pk], "skus": None},
            "percent": None,
            "amount": "-0.10",  # T-4 (0.01) would go below 0
        },
    )
    before = prices()

    run_batch_job_task(job.pk)

    job.refresh_from_db()
    assert job.status == "failed"
    assert "out of range" in job.message and "T-4" in job.message
    assert job.finished_at is not None
    assert prices() == before


@pytest.mark.parametrize(("role", "status"), [("sales", 403), ("analyst", 403), (None, 401)])
def test_a_price_update_needs_change_product(client_for, catalog, role, status):
    before = prices()
    for dry_run in (True, False):
        body = {"skus": ["T-1"], "percent": "5", "dry_run": dry_run}
        assert_error(client_for(role).post(URL, body, format="json"), status)
    assert prices() == before
    assert BatchJob.objects.count() == 0


def test_a_user_with_only_change_product_may(client_for, catalog):
    from django.contrib.auth.models import Permission

    user = make_user()
    user.user_permissions.add(Permission.objects.get(codename="change_product"))
    client = client_for(None)
    client.force_authenticate(user)

    response = client.post(URL, {"skus": ["T-1"], "amount": "1"}, format="json")

    assert response.status_code == 202, response.json()
    assert prices()["T-1"] == Decimal("11.10")


# --- the admin action ----------------------------------------------------------------------------

CHANGELIST = "admin:products_product_changelist"


@pytest.fixture
def admin_client_(client, db):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    return client


def action(pks, **extra) -> dict:
    return {"action": "change_prices", "_selected_action": [str(pk) for pk in pks], **extra}


def action_names(response) -> list[str]:
    form = response.context["action_form"]
    return [] if form is None else [value for value, _ in form.fields["action"].choices]


def selected(*skus) -> list[int]:
    return list(Product.objects.filter(sku__in=skus).values_list("pk", flat=True))


def test_admin_action_shows_the_form(admin_client_, catalog):
    pks = selected("T-1", "T-2")

    response = admin_client_.post(reverse(CHANGELIST), action(pks))

    assert response.status_code == 200
    assert response.templates[0].name == "admin/products/product/change_prices.html"
    page = response.content.decode()
    assert "Change the price of the 2 selected products" in page
    assert 'name="percent"' in page and 'name="amount"' in page
    for pk in pks:
        assert f'name="_selected_action" value="{pk}"' in page
    assert response.context["preview"] is None
    assert not response.context["form"].is_bound


def test_admin_action_previews_without_writing(admin_client_, catalog):
    before = prices()

    response = admin_client_.post(
        reverse(CHANGELIST), action(selected("T-1", "T-3", "T-4"), percent="10", preview="Preview")
    )

    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.matched, preview.changed, preview.dry_run) == (3, 2, True)
    page = response.content.decode()
    assert "2 of 3 prices would change" in page
    assert "<td>10.10</td><td>11.11</td>" in page.replace("\n", "").replace(" ", "")
    assert "<td>0.15</td><td>0.17</td>" in page.replace("\n", "").replace(" ", "")
    assert prices() == before


def test_admin_action_applies_and_says_so(admin_client_, catalog):
    response = admin_client_.post(
        reverse(CHANGELIST), action(selected("T-1", "T-4", "G-2"), amount="-0.01", apply="Apply")
    )

    assert response.status_code == 302
    assert response["Location"].endswith(reverse(CHANGELIST))
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["3 of 3 prices changed."]
    now = prices()
    assert (now["T-1"], now["T-4"], now["G-2"]) == (
        Decimal("10.09"),
        Decimal("0.00"),
        Decimal("249.99"),
    )
    assert now["T-2"] == Decimal("19.99")


def test_admin_action_shows_out_of_range_and_changes_nothing(admin_client_, catalog):
    before = prices()

    response = admin_client_.post(
        reverse(CHANGELIST), action(selected("T-1", "T-4"), amount="-0.02", apply="Apply")
    )

    assert response.status_code == 200
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1 and "out of range" in errors[0] and "T-4" in errors[0]
    assert "would be out of range" in response.content.decode()
    assert prices() == before


@pytest.mark.parametrize("fields", [{}, {"percent": "5", "amount": "1"}])
def test_admin_action_needs_percent_or_amount(admin_client_, catalog, fields):
    before = prices()

    response = admin_client_.post(
        reverse(CHANGELIST), action(selected("T-1"), apply="Apply", **fields)
    )

    assert response.status_code == 200
    assert "Give a percentage or an amount" in response.content.decode()
    assert prices() == before


def test_admin_action_needs_the_change_permission(client, catalog):
    analyst = make_user(role="analyst", is_staff=True)
    client.force_login(analyst)
    before = prices()

    listing = client.get(reverse(CHANGELIST))
    assert listing.status_code == 200
    assert "change_prices" not in action_names(listing)

    client.post(reverse(CHANGELIST), action(selected("T-1"), percent="50", apply="Apply"))
    assert prices() == before

    manager = make_user(role="manager", is_staff=True)
    client.force_login(manager)
    listing = client.get(reverse(CHANGELIST))
    assert "change_prices" in action_names(listing)
