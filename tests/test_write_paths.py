"""No management command and no admin page changes stock without a ledger row.

Stock is written only by the product and sale services, each change with its ``StockMovement``
row, so the ledger of every product sums to its stock. This file walks every management command
(``get_commands()``) and every model admin (``admin.site._registry``, with its actions and the
fields of its forms) and fails on one that nobody reviewed: a command or admin added later
fails here until it is added to the lists below with the reason it cannot write around the
services. The paths that can move stock are run for real and the ledger is checked after each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import ModelAdmin
from django.core.management import CommandError, call_command, get_commands
from django.db.models import Sum
from django.test import RequestFactory
from import_export.admin import ImportMixin

from core.dataio.admin import TableResource
from products.models import Product, StockMovement
from sales.models import Sale
from sales.services import sale_cancel
from tests.factories import make_category, make_customer, make_product, make_sale, make_user

# Embedded too: the embedded default (SQLite) has the same commands and admins.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.embedded,
    pytest.mark.usefixtures("fast_password_hasher"),
]

# Every management command: (the app it must come from, why it cannot write stock around the
# services). A command that shows up here unreviewed, or from another app (a third-party
# command shadowing ours, or ours no longer shadowing it), fails the walk.
NO_DATA = "writes no product, sale or ledger row"
REVIEWED_COMMANDS: dict[str, tuple[str, str]] = {
    # Django's own.
    "check": ("django.core", NO_DATA),
    "compilemessages": ("django.core", NO_DATA),
    "createcachetable": ("django.core", NO_DATA),
    "dbshell": ("django.core", "an operator's SQL prompt: the database's own access control"),
    "diffsettings": ("django.core", NO_DATA),
    "dumpdata": ("django.core", "reads only"),
    "flush": ("django.core", "empties every table, products and ledger together (0 = 0)"),
    "inspectdb": ("django.core", NO_DATA),
    "loaddata": (
        "products",
        "ours: Django's loader, refused (rolled back) when a loaded product's ledger does not sum "
        "to its stock (test_loaddata_*)",
    ),
    "makemessages": ("django.core", NO_DATA),
    "makemigrations": ("django.core", NO_DATA),
    "migrate": ("django.core", "schema and reviewed data migrations only"),
    "optimizemigration": ("django.core", NO_DATA),
    "sendtestemail": ("django.core", NO_DATA),
    "shell": ("django.core", "an operator's Python prompt: arbitrary code by design"),
    "showmigrations": ("django.core", NO_DATA),
    "sqlflush": ("django.core", "prints SQL only"),
    "sqlmigrate": ("django.core", "prints SQL only"),
    "sqlsequencereset": ("django.core", "prints SQL only"),
    "squashmigrations": ("django.core", NO_DATA),
    "startapp": ("django.core", NO_DATA),
    "startproject": ("django.core", NO_DATA),
    "test": ("django.core", "runs the tests on a test database"),
    "testserver": ("django.core", "its fixtures go through our loaddata"),
    "changepassword": ("django.contrib.auth", NO_DATA),
    "createsuperuser": ("django.contrib.auth", NO_DATA),
    "clearsessions": ("django.contrib.sessions", NO_DATA),
    "remove_stale_contenttypes": ("django.contrib.contenttypes", NO_DATA),
    "collectstatic": ("django.contrib.staticfiles", NO_DATA),
    "findstatic": ("django.contrib.staticfiles", NO_DATA),
    "runserver": ("django.contrib.staticfiles", "serves the app, whose writes are the services"),
    # Third-party.
    "generateschema": ("rest_framework", NO_DATA),
    "spectacular": ("drf_spectacular", NO_DATA),
    # django-import-export's generic ``import``/``export`` are shadowed by ours, which refuse
    # and name import_data/export_data (test_generic_import_export_*).
    "import": ("core.dataio", "refuses: names import_data"),
    "export": ("core.dataio", "refuses: names export_data"),
    # Ours.
    "create_api_key": ("accounts", NO_DATA),
    "purge_cache": ("analytics", NO_DATA),
    "rebuild_rollups": ("analytics", "writes the rollup tables only"),
    "retry_catalog_outbox": (
        "products",
        "sends pending remote stock changes (products.services); the local stock and ledger "
        "were written with the sale",
    ),
    "sync_catalog": (
        "products",
        "mirrors remote stock through products.services with ledger adjustments "
        "(tests/catalog/test_sync_catalog_ledger.py)",
    ),
    "purge_idempotency_keys": ("sales", NO_DATA),
    "seed_demo": ("demo", "through the services (test_seed_demo_keeps_the_ledger)"),
    "import_data": (
        "core.dataio",
        "the import engine: stock_quantity and --apply-stock through the ledger "
        "(test_import_data_stock_goes_through_the_ledger)",
    ),
    "export_data": ("core.dataio", "reads only"),
    "fail_stale_jobs": ("core.jobs", "marks job rows failed only"),
    "purge_job_files": ("core.jobs", "deletes old job files only"),
    # django-oauth-toolkit's (OAuth2 applications, docs/oauth.md).
    "createapplication": ("oauth2_provider", NO_DATA),
    "cleartokens": ("oauth2_provider", "deletes expired OAuth2 tokens only"),
    "clearcimdapplications": ("oauth2_provider", "deletes OAuth2 application rows only"),
}

# Every model admin: why it cannot change stock without a ledger row.
REVIEWED_ADMINS: dict[str, str] = {
    "accounts.ApiKey": NO_DATA,
    "auth.User": NO_DATA,
    "auth.Group": NO_DATA,
    "customers.Customer": (
        "customers only (customers.services); analytics/admin.py's subclass adds read-only "
        "lifetime fields, not in the form"
    ),
    "products.Category": "categories only (products.services)",
    "products.Product": (
        "stock_quantity is saved by products.services.product_create/product_update, a change "
        "recorded as a ledger adjustment; deletion by product_delete (with its ledger); import "
        "through the dataio engine; analytics/admin.py's subclass adds a read-only 'bought "
        "together' field, not in the form"
    ),
    "products.StockMovement": "read-only for everyone",
    "products.CatalogOutboxEntry": "read-only; 'retry now' sends remote changes only",
    "sales.IdempotencyKey": "read-only",
    "sales.Sale": "sales.services (create, update, cancel, delete move stock with the ledger)",
    "jobs.BatchJob": "job rows; a retried job runs the services",
    "analytics.CustomerLifetime": "read-only for everyone (kept by the sale services)",
    "jobs.FailedTask": "dead-letter rows; sending again runs the task, i.e. the services",
    # OAuth2 (accounts/oauth/admin.py and django-oauth-toolkit's): applications and tokens.
    "oauth2_provider.Application": NO_DATA,
    "oauth2_provider.AccessToken": NO_DATA,
    "oauth2_provider.RefreshToken": NO_DATA,
    "oauth2_provider.Grant": NO_DATA,
    "oauth2_provider.IDToken": NO_DATA,
}

# Every admin action (by model) and the POST that applies it (past any confirmation page).
REVIEWED_ACTIONS: dict[tuple[str, str], dict[str, str]] = {
    ("customers.Customer", "delete_selected"): {"post": "yes"},
    ("products.Category", "delete_selected"): {"post": "yes"},
    ("products.Product", "delete_selected"): {"post": "yes"},
    ("products.Product", "change_prices"): {"apply": "1", "percent": "5"},
    ("products.CatalogOutboxEntry", "retry_now"): {},
    ("sales.Sale", "delete_selected"): {"post": "yes"},
    ("sales.Sale", "cancel_sales"): {},
    ("accounts.ApiKey", "delete_selected"): {"post": "yes"},
    ("auth.User", "delete_selected"): {"post": "yes"},
    ("auth.User", "logout_everywhere"): {},
    ("auth.Group", "delete_selected"): {"post": "yes"},
    ("sales.IdempotencyKey", "delete_selected"): {"post": "yes"},
    ("jobs.BatchJob", "cancel_jobs"): {},
    ("jobs.BatchJob", "retry_jobs"): {},
    ("jobs.FailedTask", "send_again"): {},
    ("jobs.FailedTask", "delete_selected"): {"post": "yes"},
    ("oauth2_provider.Application", "delete_selected"): {"post": "yes"},
    ("oauth2_provider.Application", "rotate_secret"): {},
    ("oauth2_provider.Application", "revoke_tokens"): {},
    ("oauth2_provider.AccessToken", "revoke_tokens"): {},
    ("oauth2_provider.RefreshToken", "revoke_tokens"): {},
    ("oauth2_provider.Grant", "delete_selected"): {"post": "yes"},
    ("oauth2_provider.IDToken", "delete_selected"): {"post": "yes"},
}


# --- helpers ---------------------------------------------------------------------------------


def ledger_sums() -> dict[int, int]:
    return dict(
        StockMovement.objects.values("product_id")
        .annotate(total=Sum("delta"))
        .values_list("product_id", "total")
    )


def assert_ledger_balanced() -> None:
    """For every product the ledger sums to the stock."""
    sums = ledger_sums()
    wrong = {
        pk: (stock, sums.get(pk, 0))
        for pk, stock in Product.objects.values_list("pk", "stock_quantity")
        if sums.get(pk, 0) != stock
    }
    assert wrong == {}, f"product: (stock, ledger sum) {wrong}"


def stock_state() -> list[tuple]:
    return sorted(Product.objects.values_list("pk", "sku", "stock_quantity")) + sorted(
        StockMovement.objects.values_list("product_id", "delta", "reason")
    )


class Shop:
    def __init__(self) -> None:
        tools = make_category(name="Tools")
        self.hammer = make_product(sku="HAM-1", name="Hammer", category=tools, stock=10)
        self.rake = make_product(sku="RAKE-1", name="Rake", category=tools, stock=5)
        self.unsold = make_product(sku="BOX-1", name="Box", stock=3)
        self.alice = make_customer(email="alice@example.com")
        self.sale = make_sale(items=[(self.hammer, 2), (self.rake, 1)], customer=self.alice)
        self.cancelled = sale_cancel(sale=make_sale(items=[(self.rake, 2)]))


@pytest.fixture
def shop() -> Shop:
    return Shop()


@pytest.fixture
def superuser():
    return make_user(is_superuser=True, is_staff=True)


@pytest.fixture
def su_client(client, superuser):
    client.force_login(superuser)
    return client


def write_csv(tmp_path, rows: list[list[str]], name: str = "f.csv") -> str:
    path = tmp_path / name
    path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")
    return str(path)


def admin_url(model_admin: ModelAdmin, view: str) -> str:
    meta = model_admin.model._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/{view}"


# --- management commands ---------------------------------------------------------------------


def test_every_management_command_is_reviewed():
    commands = get_commands()
    unreviewed = sorted(set(commands) - set(REVIEWED_COMMANDS))
    assert unreviewed == [], (
        f"new management command(s) {unreviewed}: check that they cannot change stock without "
        "a ledger row, then add them to REVIEWED_COMMANDS with the reason"
    )
    moved = {
        name: (app, REVIEWED_COMMANDS[name][0])
        for name, app in commands.items()
        if app != REVIEWED_COMMANDS[name][0]
    }
    assert moved == {}, f"command: (app now, app reviewed) {moved}"


GENERIC_IMPORTS = [
    ("import", "products.Product", "{file}"),
    ("import", "products.resources.ProductResource", "{file}"),
    ("import", "--no-input", "--format", "csv", "products.Product", "{file}"),
    ("import", "--dry-run", "products.Product", "{file}"),
]


@pytest.mark.parametrize("argv", GENERIC_IMPORTS)
def test_generic_import_is_refused_and_names_import_data(shop, tmp_path, argv):
    """django-import-export's ``import`` wrote ``id,stock_quantity`` straight into the product
    rows (no service, no ledger row) or crashed on our resources; ours refuses."""
    path = write_csv(tmp_path, [["id", "stock_quantity"], [str(shop.hammer.pk), "999"]])
    before = stock_state()

    with pytest.raises(CommandError) as refused:
        call_command(*[arg.format(file=path) for arg in argv])

    message = str(refused.value)
    assert "import_data" in message
    assert f"manage.py import_data products {path}" in message
    assert stock_state() == before
    assert_ledger_balanced()


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (("export", "CSV", "products.Product"), "manage.py export_data products --out"),
        (("export", "xlsx", "sales.resources.SaleResource"), "manage.py export_data sales --out"),
        (("export", "CSV", "auth.User"), "manage.py export_data --help"),
    ],
)
def test_generic_export_is_refused_and_names_export_data(shop, argv, suggestion):
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command(*argv, stdout=out)
    assert suggestion in str(refused.value)
    assert out.getvalue() == ""


def test_generic_import_from_the_command_line_exits_1_with_the_message(tmp_path):
    """Through ``manage.py`` (a fresh process): the refusal, exit 1, not an argparse usage
    error (exit 2), even with the options the generic command had."""
    path = write_csv(tmp_path, [["id", "stock_quantity"], ["1", "999"]])
    result = subprocess.run(
        [sys.executable, "manage.py", "import", "--raise-errors", "--encoding", "utf-8",
         "products.Product", path],
        cwd=settings.BASE_DIR, env={**os.environ, "READ_DOT_ENV": "false"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert f"manage.py import_data products {path}" in result.stderr


def test_import_data_stock_goes_through_the_ledger(shop, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"],
            ["HAM-1", "Hammer", "Tools", "10.00", "4.00", "40", "true"],
            ["NEW-1", "New", "", "2.00", "1.00", "7", "true"],
        ],
    )
    call_command("import_data", "products", path, "--no-progress", stdout=StringIO())
    assert Product.objects.get(pk=shop.hammer.pk).stock_quantity == 40
    assert Product.objects.get(sku="NEW-1").stock_quantity == 7
    assert_ledger_balanced()


def test_import_data_sales_with_apply_stock_keeps_the_ledger(shop, tmp_path):
    path = write_csv(
        tmp_path,
        [
            ["reference", "sold_at", "customer_email", "sku", "quantity", "unit_price"],
            ["S-NEW-1", "2026-01-02T10:00:00Z", "alice@example.com", "HAM-1", "3", "10.00"],
        ],
    )
    before = Product.objects.get(pk=shop.hammer.pk).stock_quantity
    call_command("import_data", "sales", path, "--apply-stock", "--no-progress", stdout=StringIO())
    assert Product.objects.get(pk=shop.hammer.pk).stock_quantity == before - 3
    assert_ledger_balanced()


def test_seed_demo_keeps_the_ledger():
    call_command(
        "seed_demo",
        customers=20,
        products=10,
        categories=3,
        sales=150,
        no_progress=True,
        stdout=StringIO(),
        stderr=StringIO(),
    )
    assert StockMovement.objects.exists()
    assert_ledger_balanced()


def _fixture(tmp_path, objects: list[dict]) -> str:
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(objects), encoding="utf-8")
    return str(path)


def _product_object(pk: int, stock: int, sku: str = "FIX-1") -> dict:
    return {
        "model": "products.product",
        "pk": pk,
        "fields": {
            "sku": sku,
            "name": "Fixture product",
            "price": "1.00",
            "cost": "0.50",
            "stock_quantity": stock,
            "is_active": True,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        },
    }


def test_loaddata_of_stock_without_its_ledger_is_refused(shop, tmp_path):
    """A fixture that sets a product's stock (new or existing product) without ledger rows
    summing to it is refused and nothing of it is written."""
    path = _fixture(
        tmp_path,
        [_product_object(900_001, 50), _product_object(shop.hammer.pk, 999, sku="HAM-1")],
    )
    before = stock_state()
    with pytest.raises(CommandError) as refused:
        call_command("loaddata", path, stdout=StringIO())
    assert "ledger" in str(refused.value) and "import_data" in str(refused.value)
    assert stock_state() == before
    assert_ledger_balanced()


def test_loaddata_of_a_consistent_dump_is_accepted(tmp_path):
    """A dump of products with their ledger (dumpdata) loads back."""
    movement = {
        "model": "products.stockmovement",
        "pk": 900_001,
        "fields": {
            "product": 900_001,
            "delta": 50,
            "reason": "restock",
            "reference": "",
            "created_at": "2026-01-01T00:00:00Z",
        },
    }
    call_command(
        "loaddata", _fixture(tmp_path, [_product_object(900_001, 50), movement]), stdout=StringIO()
    )
    assert Product.objects.get(pk=900_001).stock_quantity == 50
    assert_ledger_balanced()


# --- the admin -------------------------------------------------------------------------------


def test_every_model_admin_is_reviewed():
    registered = {model._meta.label for model in admin.site._registry}
    unreviewed = sorted(registered - set(REVIEWED_ADMINS))
    assert unreviewed == [], (
        f"new model admin(s) {unreviewed}: check that they cannot change stock without a "
        "ledger row, then add them to REVIEWED_ADMINS with the reason"
    )


def test_no_admin_form_edits_stock_except_through_the_product_services(superuser, shop):
    """Walk every admin's add and change forms and inlines: the ledger is never editable, and
    ``stock_quantity`` is only on the product admin, whose save goes through the services."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        obj = model._default_manager.first()
        for instance in (None, obj) if obj is not None else (None,):
            form = model_admin.get_form(request, instance, change=instance is not None)
            editable = set(form.base_fields) - set(
                model_admin.get_readonly_fields(request, instance)
            )
            if "stock_quantity" in editable:
                assert model is Product, model_admin
                assert type(model_admin).save_model is not ModelAdmin.save_model
            if model is StockMovement:
                assert not model_admin.has_add_permission(request)
                assert not model_admin.has_change_permission(request, instance)
                assert not model_admin.has_delete_permission(request, instance)
            for inline in model_admin.get_inline_instances(request, instance):
                if inline.model is StockMovement:
                    assert not inline.has_add_permission(request, instance)
                    assert not inline.has_change_permission(request, instance)
                    assert not inline.has_delete_permission(request, instance)
                if inline.model is Product:
                    raise AssertionError(f"{model_admin} edits products inline")


def test_product_admin_stock_change_is_a_ledger_row(su_client, shop):
    product = shop.unsold
    response = su_client.post(
        f"/admin/products/product/{product.pk}/change/",
        {
            "stock_movements-TOTAL_FORMS": "0",
            "stock_movements-INITIAL_FORMS": "0",
            "sku": product.sku,
            "name": product.name,
            "category": "",
            "price": "10.00",
            "cost": "4.00",
            "stock_quantity": "17",
            "initial-stock_quantity": "3",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Product.objects.get(pk=product.pk).stock_quantity == 17
    assert_ledger_balanced()


def test_every_admin_action_is_reviewed_and_keeps_the_ledger(su_client, superuser, shop):
    """Each action of each admin, applied for real (confirmation included) to every row."""
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        for name in model_admin.get_actions(request):
            key = (model._meta.label, name)
            assert key in REVIEWED_ACTIONS, (
                f"new admin action {key}: check that it cannot change stock without a ledger "
                "row, then add it to REVIEWED_ACTIONS with the POST that applies it"
            )
            rows = model._default_manager.all()
            if model is type(superuser):
                rows = rows.exclude(pk=superuser.pk)  # stay logged in
            selected = [str(pk) for pk in rows.values_list("pk", flat=True)]
            response = su_client.post(
                admin_url(model_admin, ""),
                {"action": name, ACTION_CHECKBOX_NAME: selected, **REVIEWED_ACTIONS[key]},
            )
            assert response.status_code in (200, 302), (key, response.status_code)
            assert "/login/" not in response.get("Location", ""), key
            assert_ledger_balanced()
    # The actions did run: the completed sale was cancelled or deleted (stock back).
    assert not Sale.objects.filter(status="completed").exists()


def test_admin_imports_go_through_the_engine():
    """Every admin with django-import-export's import screens imports with a dataio table
    resource (the engine: services, ledger), never a generic ModelResource."""
    importers = [a for a in admin.site._registry.values() if isinstance(a, ImportMixin)]
    assert importers
    for model_admin in importers:
        for resource in model_admin.get_import_resource_classes(None):
            assert issubclass(resource, TableResource), (model_admin, resource)
            assert resource.import_data is TableResource.import_data, resource


def test_admin_product_import_changes_stock_through_the_ledger(su_client, shop):
    from tests.admin.test_admin_import_export import confirm_fields, csv_bytes, import_post

    data = csv_bytes(
        [
            ["sku", "name", "category", "price", "cost", "stock_quantity", "is_active"],
            ["HAM-1", "Hammer", "Tools", "10.00", "4.00", "55", "true"],
            ["NEW-2", "New", "", "2.00", "1.00", "4", "true"],
        ]
    )
    fields = confirm_fields(import_post(su_client, "products", data))
    response = su_client.post(fields.pop("action"), fields)
    assert response.status_code == 302
    assert Product.objects.get(pk=shop.hammer.pk).stock_quantity == 55
    assert Product.objects.get(sku="NEW-2").stock_quantity == 4
    assert_ledger_balanced()
