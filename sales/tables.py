"""The sales file: one row per sale line, grouped into sales by ``reference``.

Columns: reference, sold_at, customer_email, sku, quantity, unit_price (and optionally status).
A sale's lines share reference, sold_at, customer_email and status. Re-importing a file updates
the sales whose header or lines differ and leaves the others alone (counted in sales).

By default an import records history: it does not touch stock. With ``apply_stock`` the new
sales (and cancellations) go through the sale services, so the catalog's stock rules hold and a
sale that would oversell is refused.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from core.dataio.columns import Column
from core.dataio.errorlog import ErrorLog, RowSet
from core.dataio.exporter import queryset_rows
from core.dataio.importer import ImportOptions, ImportReport, ImportTable, duplicate_key_check
from core.dataio.stage import (
    Stage,
    distinct,
    execute,
    fetch_all,
    fetch_iter,
    fetch_value,
    indexes_built_after,
    trusted_references,
)
from core.dataio.upsert import unknown_reference_check
from core.errors import ApplicationError
from core.signals import reporting_data_changed
from customers.models import Customer
from products.catalog import get_catalog
from products.models import Product
from sales.models import Sale, SaleItem, SaleStatus
from sales.services import MAX_LINE_QUANTITY, SaleLine, sale_cancel, sale_create
from sales.signals import send_sales_contribution

MAX_MONEY = Decimal("9999999999.99")
_STATUSES = tuple(SaleStatus.values)


def _table(model: type[Model]) -> str:
    """A model's table, from ``_meta``, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


class SaleTable(ImportTable):
    name = "sales"
    model = Sale
    counted = "sales"
    columns = (
        Column("reference", max_length=64),
        Column("sold_at", "datetime"),
        Column("customer_email", "email", blank=True, max_length=254),
        Column("sku", max_length=64),
        Column("quantity", "integer", min_value=1, max_value=MAX_LINE_QUANTITY),
        Column("unit_price", "decimal", min_value=Decimal(0), max_value=MAX_MONEY),
        Column("status", "choice", required=False, blank=True, choices=_STATUSES),
    )
    key = ("reference", "sku")
    group_column = "reference"
    stage_extra = (("customer_id", "bigint"), ("product_id", "bigint"), ("unit_cost", "numeric"))
    bulk_index_min_lines = 10_000  # smaller loads keep the indexes (and readers unblocked)

    def __init__(self) -> None:
        self._spool: IO[str] | None = None
        self._sales = ""
        self._sales_version: tuple[str, int] | None = None
        self._maps: tuple[str, str] = ("", "")
        self.trusted_references = False  # the last merge skipped the row-by-row FK triggers
        self._references: list[tuple[str, str]] = []  # (table, ids) the last merge locked
        self.rebuilt_indexes: list[str] = []  # the last merge built these after its inserts

    # -- checks ----------------------------------------------------------------------------------
    #
    # The staged lines are never rewritten: foreign keys are resolved once per distinct sku and
    # email into two small tables (``_sku``, ``_email``), and one GROUP BY gives the per-sale
    # table (``_sale``) the checks, the classification and the merge share. (Writing the
    # resolved ids into every staged line took two full UPDATE passes: ~18 s per million lines.)

    def checks(self, stage: Stage) -> Iterator[tuple[int, str, str]]:
        table = stage.name
        skus, emails = self._key_maps(stage)
        sales = self._sales_table(stage)
        # The per-sale GROUP BY counts each sale's distinct skus: a window over the million
        # staged lines (~1 s) only when a sale has a sku twice.
        if fetch_all(f"SELECT 1 FROM {sales} WHERE line_count <> sku_count LIMIT 1"):
            yield from duplicate_key_check(stage, self.key, label="line (reference / sku)")
        if fetch_all(f"SELECT 1 FROM {skus} WHERE product_id IS NULL LIMIT 1"):
            yield from unknown_reference_check(
                stage,
                column="sku",
                resolved=f"(SELECT m.product_id FROM {skus} m WHERE m.sku = {table}.sku)",
                what="sku",
            )
        if fetch_all(f"SELECT 1 FROM {emails} WHERE customer_id IS NULL LIMIT 1"):
            yield from unknown_reference_check(
                stage,
                column="customer_email",
                resolved=(
                    f"(SELECT m.customer_id FROM {emails} m "
                    f"WHERE m.customer_email = {table}.customer_email)"
                ),
                what="customer email",
                hint=" (import the customers first, or leave the cell empty for no customer)",
            )
        if not fetch_all(f"SELECT 1 FROM {sales} WHERE suspicious = 1 LIMIT 1"):
            return  # every sale's lines agree byte for byte: nothing to compare line by line
        mismatch = " OR ".join(
            [
                distinct("s.sold_at", "f.sold_at"),
                distinct("lower(s.customer_email)", "lower(f.customer_email)"),
                distinct("s.status", "f.status"),
            ]
        )
        for row, first, reference in fetch_iter(
            f"""
            SELECT s.row_number, f.row_number, s.reference FROM {table} s
            JOIN {sales} g ON g.reference = s.reference AND g.suspicious = 1
            JOIN {table} f ON f.row_number = g.first_row
            WHERE s.row_number <> f.row_number AND ({mismatch}) ORDER BY s.row_number
            """
        ):
            yield (
                row,
                "reference",
                f"the lines of sale {reference!r} disagree: sold_at, customer_email and status "
                f"must be the same as on row {first}.",
            )

    def _key_maps(self, stage: Stage) -> tuple[str, str]:
        """Temporary tables: each distinct sku of the file with its product (id, cost), each
        distinct customer email with its customer (NULL when unknown)."""
        skus, emails = f"{stage.name}_sku", f"{stage.name}_email"
        suffix = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
        for name in (skus, emails):
            stage.also_drop.append(name)
            execute(f"DROP TABLE IF EXISTS {name}")
        execute(
            f"""
            CREATE TEMPORARY TABLE {skus}{suffix} AS
            SELECT k.sku, p.id AS product_id, p.cost AS cost
            FROM (SELECT DISTINCT sku FROM {stage.name}) k
            LEFT JOIN {_table(Product)} p ON p.sku = k.sku
            """
        )
        execute(
            f"""
            CREATE TEMPORARY TABLE {emails}{suffix} AS
            SELECT k.customer_email, c.id AS customer_id
            FROM (SELECT DISTINCT customer_email FROM {stage.name}
                  WHERE customer_email IS NOT NULL) k
            LEFT JOIN {_table(Customer)} c ON lower(c.email) = lower(k.customer_email)
            """
        )
        if connection.vendor == "postgresql":
            # Their sizes for the planner (a temporary table has no statistics until then):
            # without them the lines' insert hashed the million joined lines and probed them
            # with the 500 skus, instead of the other way round.
            execute(f"ANALYZE {skus}, {emails}")
        self._maps = (skus, emails)
        return skus, emails

    def reject_related(
        self, stage: Stage, rejected: RowSet, rejected_groups: str | None
    ) -> Iterator[tuple[int, str, str]]:
        """A sale is all or nothing: when one line is bad, its other lines go too. The bad
        sales' references are gathered in a temporary table (those of rows rejected while
        reading are there already), so memory does not grow with the number of bad sales."""
        groups = rejected_groups or stage.side_table("bad_groups", "reference text")
        numbers = iter(rejected)
        while chunk := list(itertools.islice(numbers, 10_000)):
            marks = ", ".join(["%s"] * len(chunk))
            execute(
                f"INSERT INTO {groups} (reference) SELECT reference FROM {stage.name} "
                f"WHERE row_number IN ({marks})",
                chunk,
            )
        for row, reference in fetch_iter(
            f"SELECT row_number, reference FROM {stage.name} "
            f"WHERE reference IN (SELECT reference FROM {groups}) ORDER BY row_number"
        ):
            if row not in rejected:
                yield (
                    row,
                    "reference",
                    f"sale {reference!r} is left out: another of its lines has an error.",
                )

    # -- classify --------------------------------------------------------------------------------

    def _sales_table(self, stage: Stage) -> str:
        """One row per sale of the file, with what the merge will do to it (built once per
        state of the staged rows: again only when rows were taken out since)."""
        if self._sales and self._sales_version == (stage.name, stage.version):
            return self._sales
        if self._maps[0] != f"{stage.name}_sku":
            self._key_maps(stage)
        skus, emails = self._maps
        name = f"{stage.name}_sale"
        if name not in stage.also_drop:
            stage.also_drop.append(name)
        postgresql = connection.vendor == "postgresql"
        present = "status" in stage.present
        status = "MIN(status)" if present else "NULL"
        status_disagree = (
            " OR MIN(status) <> MAX(status) OR COUNT(status) NOT IN (0, COUNT(*))"
            if present
            else ""
        )
        suffix = " ON COMMIT DROP" if postgresql else ""
        details_changed = " OR ".join(
            [distinct("t.sold_at", "g.sold_at"), distinct("t.customer_id", "e.customer_id")]
        )
        status_changed = f"g.status IS NOT NULL AND {distinct('t.status', 'g.status')}"
        if postgresql:  # new sales get their ids now, in file order (no join back by reference)
            sequence = fetch_value(
                "SELECT pg_get_serial_sequence(%s, %s)", [Sale._meta.db_table, Sale._meta.pk.column]
            )
            new_id = f"CASE WHEN t.id IS NULL THEN nextval('{sequence}'::regclass) END"
        else:
            new_id = "CAST(NULL AS bigint)"
        execute(f"DROP TABLE IF EXISTS {name}")
        execute(
            f"""
            CREATE TEMPORARY TABLE {name}{suffix} AS
            SELECT g.reference, g.first_row, g.sold_at, e.customer_id, g.status, g.total,
                   g.line_count, g.sku_count, g.suspicious, t.id AS sale_id,
                   t.status AS old_status,
                   CASE WHEN t.id IS NOT NULL AND ({details_changed}) THEN 1 ELSE 0 END
                       AS details_changed,
                   CASE WHEN t.id IS NOT NULL AND ({details_changed} OR {status_changed})
                       THEN 1 ELSE 0 END AS header_changed,
                   0 AS lines_changed, {new_id} AS new_id
            FROM (SELECT reference, MIN(row_number) AS first_row, MIN(sold_at) AS sold_at,
                         MIN(customer_email) AS customer_email, {status} AS status,
                         SUM(quantity * unit_price) AS total, COUNT(*) AS line_count,
                         COUNT(DISTINCT sku) AS sku_count,
                         CASE WHEN MIN(sold_at) <> MAX(sold_at)
                                OR MIN(customer_email) <> MAX(customer_email)
                                OR COUNT(customer_email) NOT IN (0, COUNT(*)){status_disagree}
                              THEN 1 ELSE 0 END AS suspicious
                  FROM {stage.name} GROUP BY reference) g
            LEFT JOIN {emails} e ON e.customer_email = g.customer_email
            LEFT JOIN {_table(Sale)} t ON t.reference = g.reference
            ORDER BY g.first_row
            """
        )
        changed_lines = self._changed_lines_sql(stage, name, skus)
        if postgresql:  # the planner's estimates for the statements that join it
            execute(f"ANALYZE {name}")
        if fetch_all(f"SELECT 1 FROM {name} WHERE sale_id IS NOT NULL LIMIT 1"):
            if not postgresql:  # SQLite joins by nested loops: the lines by reference
                execute(
                    f"CREATE INDEX IF NOT EXISTS {stage.name}_reference ON {stage.name} (reference)"
                )
            # (PostgreSQL hashes these joins: the index cost 0.3 s of the 10.8 s re-import of
            # the reference file and served none of its statements.)
            execute(f"UPDATE {name} SET lines_changed = 1 WHERE sale_id IN ({changed_lines})")
        self._sales, self._sales_version = name, (stage.name, stage.version)
        return name

    def _changed_lines_sql(self, stage: Stage, sales: str, skus: str) -> str:
        """SQL giving the stored sales of the file whose lines differ from the file's.

        A line is (sale, product, quantity, unit price); a sale's file lines are unique by
        product (a file with duplicates is aborted, or they are taken out and this table built
        again), and so are its stored lines. PostgreSQL: one
        FULL JOIN of the file's lines of stored sales with those sales' stored lines on all
        four; a line missing on either side marks its sale (both sides hashed once; the
        two counts per sale it replaces probed the stored lines' index once per sale: on the
        re-import of the 400,000 reference sales 5.1 s of server CPU, 3.4 s with fresh
        statistics, this 2.3 s). SQLite (FULL JOIN only since 3.39): a sale changed unless
        the file has as many lines as are stored and each matches a stored line."""
        items = _table(SaleItem)
        file_lines = (
            f"SELECT g.sale_id, m.product_id, s.quantity, s.unit_price FROM {stage.name} s "
            f"JOIN {sales} g ON g.reference = s.reference JOIN {skus} m ON m.sku = s.sku "
            "WHERE g.sale_id IS NOT NULL"
        )
        if connection.vendor == "postgresql":
            return f"""
                SELECT COALESCE(f.sale_id, i.sale_id)
                FROM ({file_lines}) f
                FULL JOIN (SELECT i.sale_id, i.product_id, i.quantity, i.unit_price
                           FROM {items} i WHERE i.sale_id IN (SELECT sale_id FROM {sales}
                                                            WHERE sale_id IS NOT NULL)) i
                  ON i.sale_id = f.sale_id AND i.product_id = f.product_id
                 AND i.quantity = f.quantity AND i.unit_price = f.unit_price
                WHERE f.sale_id IS NULL OR i.sale_id IS NULL
            """
        return f"""
            SELECT g.sale_id FROM {sales} g
            LEFT JOIN (SELECT i.sale_id, COUNT(*) AS n FROM {items} i
                       WHERE i.sale_id IN (SELECT sale_id FROM {sales}
                                           WHERE sale_id IS NOT NULL)
                       GROUP BY i.sale_id) stored ON stored.sale_id = g.sale_id
            LEFT JOIN (SELECT f.sale_id, COUNT(*) AS n FROM ({file_lines}) f
                       JOIN {items} i
                         ON i.sale_id = f.sale_id AND i.product_id = f.product_id
                        AND i.quantity = f.quantity AND i.unit_price = f.unit_price
                       GROUP BY f.sale_id) matched ON matched.sale_id = g.sale_id
            WHERE g.sale_id IS NOT NULL
              AND (g.line_count <> COALESCE(stored.n, 0)
                   OR g.line_count <> COALESCE(matched.n, 0))
        """

    def classify(self, stage: Stage, options: ImportOptions) -> tuple[int, int, int]:
        sales = self._sales_table(stage)
        created, updated, total = fetch_all(
            f"""
            SELECT COALESCE(SUM(CASE WHEN sale_id IS NULL THEN 1 ELSE 0 END), 0),
                   COALESCE(SUM(CASE WHEN sale_id IS NOT NULL
                                     AND header_changed + lines_changed > 0
                                THEN 1 ELSE 0 END), 0),
                   COUNT(*)
            FROM {sales}
            """
        )[0]
        return int(created), int(updated), int(total) - int(created) - int(updated)

    def preview(self, stage: Stage, limit: int) -> list[tuple[int, str]]:
        sales = self._sales_table(stage)
        return list(
            fetch_iter(
                f"""
                SELECT s.row_number,
                       CASE WHEN g.sale_id IS NULL THEN 'new'
                            WHEN g.header_changed + g.lines_changed > 0 THEN 'update'
                            ELSE 'skip' END
                FROM {stage.name} s JOIN {sales} g ON g.reference = s.reference
                ORDER BY s.row_number LIMIT {int(limit)}
                """
            )
        )

    # -- merge -----------------------------------------------------------------------------------

    def merge(self, stage: Stage, options: ImportOptions) -> None:
        if options.apply_stock:
            self._spool_for_services(stage)
            return
        sales = self._sales_table(stage)
        changed = "g.header_changed + g.lines_changed > 0"
        new_sales, new_lines = fetch_all(
            f"SELECT COUNT(*), COALESCE(SUM(line_count), 0) FROM {sales} g "
            f"WHERE g.sale_id IS NULL OR {changed}"
        )[0]
        loads = [(Sale._meta.db_table, int(new_sales)), (SaleItem._meta.db_table, int(new_lines))]
        if int(new_lines) < self.bulk_index_min_lines:
            loads = []
        # A load large relative to the tables: their secondary indexes are built after it.
        with indexes_built_after(loads, settings.IMPORT_INDEX_REBUILD_PERCENT) as rebuilt:
            self.rebuilt_indexes = rebuilt
            self._write(stage, options, sales, changed)
        if int(new_sales):
            # The rollups of the new and changed sales, in one pass over the staging table.
            # Their rows reference the lines' products and the sales' customers: when the
            # lines were written with those checked as a set (locked FOR KEY SHARE until the
            # commit), the rollup rows skip the row-by-row foreign key triggers too (on the
            # reference import ~600,000 of them, 1.85 s of server CPU at COMMIT).
            trusted = (
                trusted_references((), self._references)
                if self.trusted_references
                else contextlib.nullcontext(False)
            )
            with trusted:
                send_sales_contribution(
                    sign=1,
                    sale_ids_sql=f"SELECT COALESCE(g.sale_id, g.new_id) FROM {sales} g "
                    f"WHERE g.sale_id IS NULL OR {changed}",
                )
            reporting_data_changed.send(sender=Sale)

    def _write(self, stage: Stage, options: ImportOptions, sales: str, changed: str) -> None:
        """The sales and their lines: the changed ones updated, the new ones inserted."""
        lines, skus = stage.name, self._maps[0]
        changes_existing = f"g.sale_id IS NOT NULL AND {changed}"
        before = bool(fetch_all(f"SELECT 1 FROM {sales} g WHERE {changes_existing} LIMIT 1"))
        if before:
            send_sales_contribution(
                sign=-1,
                sale_ids_sql=f"SELECT sale_id FROM {sales} g WHERE {changes_existing}",
            )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        actor = options.actor.pk if options.actor and options.actor.is_authenticated else None
        status = f"COALESCE(g.status, g.old_status, '{SaleStatus.COMPLETED}')"
        columns = (
            "reference, customer_id, sold_at, status, total, cancelled_at, created_by_id, "
            "created_at, updated_at"
        )
        values = (
            f"g.reference, g.customer_id, g.sold_at, {status}, g.total, "
            f"CASE WHEN {status} = '{SaleStatus.CANCELLED}' THEN %s END, %s, %s, %s"
        )
        if before:  # the changed sales that exist
            execute(
                f"""
                INSERT INTO {_table(Sale)} ({columns})
                SELECT {values} FROM {sales} g
                WHERE g.sale_id IS NOT NULL AND {changed} ORDER BY g.first_row
                ON CONFLICT (reference) DO UPDATE SET
                    customer_id = excluded.customer_id, sold_at = excluded.sold_at,
                    status = excluded.status, total = excluded.total,
                    cancelled_at = CASE WHEN excluded.status = '{SaleStatus.CANCELLED}'
                        THEN COALESCE({_table(Sale)}.cancelled_at, excluded.cancelled_at) END,
                    updated_at = excluded.updated_at
                """,
                [now, actor, now, now],
            )
            # Edited sales keep the cost snapshot of the lines they keep.
            execute(
                f"""
                UPDATE {lines} SET unit_cost = i.unit_cost
                FROM {sales} g, {skus} m, {_table(SaleItem)} i
                WHERE g.reference = {lines}.reference AND g.lines_changed = 1
                  AND m.sku = {lines}.sku AND i.sale_id = g.sale_id
                  AND i.product_id = m.product_id
                """
            )
            execute(
                f"DELETE FROM {_table(SaleItem)} WHERE sale_id IN "
                f"(SELECT sale_id FROM {sales} WHERE lines_changed = 1)"
            )
        references = [
            (Product._meta.db_table, f"SELECT product_id FROM {skus}"),
            (Customer._meta.db_table, f"SELECT customer_id FROM {sales}"),
        ]
        if actor is not None:
            references.append(
                (Sale.created_by.field.related_model._meta.db_table, f"SELECT {int(actor)}")
            )
        self._references = references
        # The lines' sale ids are this import's new sales and the existing ones it just updated
        # (locked by the update): the other foreign keys can be checked as a set.
        with trusted_references(
            [Sale._meta.db_table, SaleItem._meta.db_table], references
        ) as trusted:
            # New sales: a plain INSERT (a concurrent import of the same reference meanwhile
            # fails the unique constraint: nothing is written, run it again).
            if connection.vendor == "postgresql":
                execute(
                    f"""
                    INSERT INTO {_table(Sale)} (id, {columns})
                    SELECT g.new_id, {values} FROM {sales} g
                    WHERE g.sale_id IS NULL ORDER BY g.new_id
                    """,
                    [now, actor, now, now],
                )
            else:
                execute(
                    f"""
                    INSERT INTO {_table(Sale)} ({columns})
                    SELECT {values} FROM {sales} g
                    WHERE g.sale_id IS NULL ORDER BY g.first_row
                    """,
                    [now, actor, now, now],
                )
                execute(
                    f"UPDATE {sales} SET new_id = (SELECT t.id FROM {_table(Sale)} t "
                    f"WHERE t.reference = {sales}.reference) WHERE sale_id IS NULL"
                )
            execute(
                f"""
                INSERT INTO {_table(SaleItem)} (sale_id, product_id, quantity, unit_price,
                                            unit_cost, line_total)
                SELECT COALESCE(g.sale_id, g.new_id), m.product_id, s.quantity, s.unit_price,
                       COALESCE(s.unit_cost, m.cost, 0), s.quantity * s.unit_price
                FROM {lines} s JOIN {sales} g ON g.reference = s.reference
                JOIN {skus} m ON m.sku = s.sku
                WHERE g.sale_id IS NULL OR g.lines_changed = 1 ORDER BY s.row_number
                """
            )
        self.trusted_references = trusted

    # -- apply-stock: through the sale services ---------------------------------------------------

    def _spool_for_services(self, stage: Stage) -> None:
        """Write the sales to apply (one JSON line each, in file order) to a temporary file:
        the services run after the staging transaction, one sale at a time."""
        spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed after use)
        sales, (skus, _) = self._sales_table(stage), self._maps
        current: str | None = None
        sale: dict[str, Any] | None = None
        for (
            reference,
            row,
            sold_at,
            customer_id,
            status,
            product_id,
            quantity,
            price,
            sale_id,
            old_status,
            details_changed,
            lines_changed,
        ) in fetch_iter(
            f"""
            SELECT s.reference, s.row_number, s.sold_at, g.customer_id, g.status, m.product_id,
                   s.quantity, s.unit_price, g.sale_id, g.old_status, g.details_changed,
                   g.lines_changed
            FROM {stage.name} s JOIN {sales} g ON g.reference = s.reference
            JOIN {skus} m ON m.sku = s.sku
            WHERE g.sale_id IS NULL OR g.header_changed + g.lines_changed > 0
            ORDER BY g.first_row, s.row_number
            """
        ):
            if reference != current:
                if sale is not None:
                    spool.write(json.dumps(sale) + "\n")
                current = reference
                if isinstance(sold_at, str):  # SQLite gives the stored text…
                    # SQLite's operations (the branch runs there only).
                    sold_at = connection.ops.convert_datetimefield_value(  # type: ignore[attr-defined]
                        sold_at, None, None
                    )
                if timezone.is_naive(sold_at):  # …or a naive datetime, in UTC as stored
                    sold_at = sold_at.replace(tzinfo=UTC)
                sale = {
                    "reference": reference,
                    "sold_at": sold_at.isoformat() if isinstance(sold_at, datetime) else sold_at,
                    "customer_id": customer_id,
                    "status": status or old_status or SaleStatus.COMPLETED,
                    "sale_id": sale_id,
                    "old_status": old_status,
                    "lines_changed": bool(lines_changed),
                    "details_changed": bool(details_changed),
                    "rows": [],
                    "lines": [],
                }
            assert sale is not None  # started by the sale's first row (a reference never NULL)
            sale["rows"].append(row)
            sale["lines"].append([product_id, quantity, str(price)])
        if sale is not None:
            spool.write(json.dumps(sale) + "\n")
        spool.seek(0)
        self._spool = spool

    def after_import(self, options: ImportOptions, report: ImportReport, errors: ErrorLog) -> None:
        if self._spool is None:
            return
        failures: list[tuple[dict, str]] = []
        with self._spool as spool:
            if settings.CATALOG_BACKEND == "http":  # no transaction can hold remote stock
                self._apply_each(spool, options, failures, undo_on_abort=True)
            elif options.on_error == "abort":
                with contextlib.suppress(_Abort), transaction.atomic():
                    self._apply_each(spool, options, failures, undo_on_abort=False)
            else:
                self._apply_each(spool, options, failures, undo_on_abort=False)
        for sale, message in failures:
            for row in sale["rows"]:
                errors.add(row, "reference", f"sale {sale['reference']!r}: {message}")
            report.rejected += len(sale["rows"])
            if sale["sale_id"] is None:
                report.created -= 1
            else:
                report.updated -= 1
        report.error_count = errors.count
        report.errors = errors.errors()
        if failures and options.on_error == "abort":
            report.aborted = True
            report.created = report.updated = 0
            report.message = f"sale {failures[0][0]['reference']!r}: {failures[0][1]}"

    def _apply_each(
        self, spool: IO[str], options: ImportOptions, failures: list, undo_on_abort: bool
    ) -> None:
        catalog = get_catalog()
        created: list[Sale] = []
        for line in spool:
            sale = json.loads(line)
            try:
                created_sale = self._apply_one(sale, options, catalog)
            except ApplicationError as error:
                failures.append((sale, error.message))
                if options.on_error == "abort":
                    if undo_on_abort:
                        self._undo(created, catalog, options)
                    raise _Abort from None  # a local transaction rolls everything back
                continue
            if created_sale is not None:
                created.append(created_sale)

    def _apply_one(self, sale: dict, options: ImportOptions, catalog) -> Sale | None:
        actor = options.actor if options.actor and options.actor.is_authenticated else None
        if sale["sale_id"] is not None:
            if sale["lines_changed"] or sale["details_changed"]:
                raise ApplicationError(
                    "it already exists with other lines, customer or date; with apply-stock, "
                    "existing sales are not edited (edit it through the API or the admin, or "
                    "import without apply-stock to record history only)."
                )
            if sale["old_status"] == SaleStatus.CANCELLED:
                raise ApplicationError("it is cancelled; a cancelled sale cannot be completed.")
            sale_cancel(sale=Sale(pk=sale["sale_id"]), actor=actor, catalog=catalog)
            return None
        lines = [SaleLine(product_id=pid, quantity=qty) for pid, qty, _ in sale["lines"]]
        created = sale_create(
            lines=lines,
            customer_id=sale["customer_id"],
            sold_at=datetime.fromisoformat(sale["sold_at"]),
            reference=sale["reference"],
            created_by=actor,
            catalog=catalog,
            unit_prices={pid: Decimal(price) for pid, _, price in sale["lines"]},
        )
        if sale["status"] == SaleStatus.CANCELLED:
            sale_cancel(sale=created, actor=actor, catalog=catalog)
        return created

    @staticmethod
    def _undo(created: list[Sale], catalog, options: ImportOptions) -> None:
        """A remote catalog cannot roll back: delete this import's sales (their stock comes
        back through the catalog), newest first."""
        from sales.services import sale_delete

        for sale in reversed(created):
            sale_delete(sale=sale, actor=options.actor, catalog=catalog)

    # -- export ----------------------------------------------------------------------------------

    def export_rows(self, queryset: QuerySet[Sale] | None = None) -> Iterator[list[str]]:
        items = SaleItem.objects.all()
        if queryset is not None:
            items = items.filter(sale__in=queryset.values("pk"))
        fields = [
            "sale__reference",
            "sale__sold_at",
            "sale__customer__email",
            "product__sku",
            "quantity",
            "unit_price",
            "sale__status",
        ]
        return queryset_rows(
            items, self.columns, fields, ("sale__sold_at", "sale__reference", "product__sku")
        )


class _Abort(Exception):
    pass
