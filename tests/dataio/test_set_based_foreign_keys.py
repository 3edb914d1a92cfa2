"""Foreign keys checked as a set by the sales import (``core.dataio.stage.trusted_references``):
when the lines' products and the sales' customers are locked FOR KEY SHARE, the lines and,
since issue 20, the analytics rollup rows derived from them skip the row-by-row foreign key
triggers (about 600,000 deferred checks at COMMIT on the reference import); a trigger of its
own on any table, or the setting off, keeps the triggers."""

from __future__ import annotations

import pytest
from django.db import connection

from analytics.models import DailySales
from analytics.services import rollups_rebuild
from sales.models import SaleItem
from tests.dataio import SALE_HEADER, csv_bytes, import_bytes, rollup_rows
from tests.factories import make_customer, make_product

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def sales_file() -> bytes:
    rows = [SALE_HEADER]
    for n in range(1, 21):
        email = "fk@example.org" if n % 2 else ""
        rows.append([f"FK-{n}", f"2025-04-{n:02d}T10:00:00Z", email, "FK-1", "2", "3.50", ""])
        rows.append([f"FK-{n}", f"2025-04-{n:02d}T10:00:00Z", email, "FK-2", "1", "1.25", ""])
    return csv_bytes(rows)


def import_watching_roles() -> dict[str, str]:
    """Import the file; the session_replication_role as the lines' insert and the rollups'
    add statement ran."""
    roles: dict[str, str] = {}

    def watch(execute, sql, params, many, context):
        if sql.lstrip().startswith(f'INSERT INTO "{SaleItem._meta.db_table}"'):
            kind = "lines"
        elif "span AS" in sql:
            kind = "rollups"
        else:
            return execute(sql, params, many, context)
        context["cursor"].execute("SELECT current_setting('session_replication_role')")
        roles[kind] = context["cursor"].fetchone()[0]
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        report = import_bytes("sales", sales_file())
    assert report.ok and report.created == 20, report.summary()
    return roles


@pytest.fixture
def catalog(db):
    make_product(sku="FK-1", price="3.50", cost="1.00")
    make_product(sku="FK-2", price="1.25", cost="0.50")
    make_customer(email="fk@example.org")


def test_the_rollup_rows_skip_the_row_by_row_triggers_when_the_lines_did(catalog, settings):
    settings.IMPORT_SET_BASED_FK_CHECKS = True
    assert import_watching_roles() == {"lines": "replica", "rollups": "replica"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('session_replication_role')")
        assert cursor.fetchone()[0] == "origin"  # restored after the block
    assert DailySales.objects.count() == 20
    kept = rollup_rows()
    assert rollups_rebuild().fixed == 0 and rollup_rows() == kept


def test_with_the_setting_off_every_row_is_checked_by_its_trigger(catalog, settings):
    settings.IMPORT_SET_BASED_FK_CHECKS = False
    assert import_watching_roles() == {"lines": "origin", "rollups": "origin"}


def test_a_trigger_of_its_own_on_any_table_keeps_the_rollups_triggers(catalog, settings):
    settings.IMPORT_SET_BASED_FK_CHECKS = True
    table = DailySales._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION fk_test_noop() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NEW; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER fk_test_noop BEFORE INSERT ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION fk_test_noop()"
        )
    # The lines' tables have no trigger of their own: their block still trusts the set.
    assert import_watching_roles() == {"lines": "replica", "rollups": "origin"}
