"""The categories and products files. Products name their category by name; a file with a
``stock_quantity`` column sets stock like a stock-take, through the ledger (reason ``import``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from django.db import connection
from django.db.models import Model, QuerySet
from django.utils import timezone

from core.dataio.columns import Column
from core.dataio.exporter import queryset_rows
from core.dataio.importer import ImportOptions
from core.dataio.stage import Stage, execute, fetch_value, is_postgresql
from core.dataio.upsert import Target, UpsertTable, unknown_reference_check, upsert
from products.models import Category, Product, StockMovement, StockMovementReason
from products.services import require_local_stock

MAX_MONEY = Decimal("9999999999.99")
MAX_STOCK = 2_147_483_647


def _table(model: type[Model]) -> str:
    """A model's table, from ``_meta``, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


class CategoryTable(UpsertTable):
    name = "categories"
    model = Category
    columns = (
        Column("name", max_length=100),
        Column("description", required=False, blank=True, default=""),
    )
    key = ("name",)
    key_case_insensitive = True
    key_join = "lower(t.name) = lower(s.name)"
    conflict = "(lower(name))"
    targets = (
        Target("name", "s.name"),
        Target("description", "s.description", "description", "''"),
    )

    def export_rows(self, queryset: QuerySet[Category] | None = None) -> Iterator[list[str]]:
        queryset = Category.objects.all() if queryset is None else queryset
        return queryset_rows(queryset, self.columns, self.column_names, ("name", "id"))


class ProductTable(UpsertTable):
    name = "products"
    model = Product
    columns = (
        Column("sku", max_length=64),
        Column("name", max_length=200),
        Column("category", required=False, blank=True, max_length=100),
        Column("price", "decimal", min_value=Decimal(0), max_value=MAX_MONEY),
        Column("cost", "decimal", required=False, blank=True, min_value=0, max_value=MAX_MONEY),
        Column("stock_quantity", "integer", required=False, min_value=0, max_value=MAX_STOCK),
        Column("is_active", "boolean", required=False, blank=True, default=True),
    )
    key = ("sku",)
    key_join = "t.sku = s.sku"
    conflict = "(sku)"
    stage_extra = (("category_id", "bigint"), ("product_id", "bigint"))
    targets = (
        Target("sku", "s.sku"),
        Target("name", "s.name"),
        Target("category_id", "s.category_id", "category", "NULL"),
        Target("price", "s.price"),
        Target("cost", "COALESCE(s.cost, 0)", "cost", "0"),
        Target("stock_quantity", "s.stock_quantity", "stock_quantity", "0"),
        Target("is_active", "s.is_active", "is_active", "true"),
    )

    def checks(self, stage: Stage):
        yield from super().checks(stage)
        if "category" in stage.present:
            execute(
                f"UPDATE {stage.name} SET category_id = c.id FROM {_table(Category)} c "
                f"WHERE lower(c.name) = lower({stage.name}.category)"
            )
            yield from unknown_reference_check(
                stage,
                column="category",
                resolved="category_id",
                what="category",
                hint=" (import the categories first, or leave the cell empty)",
            )

    def merge(self, stage: Stage, options: ImportOptions) -> None:
        execute(
            f"UPDATE {stage.name} SET product_id = p.id FROM {_table(Product)} p "
            f"WHERE p.sku = {stage.name}.sku"
        )
        if fetch_value(f"SELECT COUNT(*) FROM {stage.name} WHERE product_id IS NULL") or (
            "stock_quantity" in stage.present
        ):
            require_local_stock(
                "import new products or stock"
            )  # with a remote catalog, products are its mirrors
        reference = f"import {options.source_name}"[:100].strip()
        actor_id = options.actor.pk if options.actor and options.actor.is_authenticated else None
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if "stock_quantity" in stage.present:
            # A stock-take: lock the products (in id order, as sales do), write the difference to
            # the ledger, then the upsert sets the stock.
            if is_postgresql():
                execute(
                    f"SELECT p.id FROM {_table(Product)} p JOIN {stage.name} s "
                    "ON s.product_id = p.id WHERE s.stock_quantity IS NOT NULL "
                    "ORDER BY p.id FOR UPDATE OF p"
                )
            execute(
                f"""
                INSERT INTO {_table(StockMovement)}
                    (product_id, delta, reason, reference, actor_id, created_at)
                SELECT p.id, s.stock_quantity - p.stock_quantity, %s, %s, %s, %s
                FROM {stage.name} s JOIN {_table(Product)} p ON p.id = s.product_id
                WHERE s.stock_quantity IS NOT NULL AND s.stock_quantity <> p.stock_quantity
                ORDER BY s.row_number
                """,
                [StockMovementReason.IMPORT, reference, actor_id, now],
            )
        upsert(stage, self)
        execute(  # the opening stock of new products
            f"""
            INSERT INTO {_table(StockMovement)}
                (product_id, delta, reason, reference, actor_id, created_at)
            SELECT p.id, p.stock_quantity, %s, %s, %s, %s
            FROM {stage.name} s JOIN {_table(Product)} p ON p.sku = s.sku
            WHERE s.product_id IS NULL AND p.stock_quantity > 0 ORDER BY s.row_number
            """,
            [StockMovementReason.IMPORT, reference, actor_id, now],
        )

    def export_rows(self, queryset: QuerySet[Product] | None = None) -> Iterator[list[str]]:
        queryset = Product.objects.all() if queryset is None else queryset
        names = [name if name != "category" else "category__name" for name in self.column_names]
        return queryset_rows(queryset, self.columns, names, ("sku",))
