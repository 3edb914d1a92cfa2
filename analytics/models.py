"""Daily rollups of the completed sales: what the analytics read instead of the sales tables.

"day" is the local date of ``Sale.sold_at`` in ``settings.TIME_ZONE``. Only completed sales
count. Every row is a sum over the sale lines of its key, so rows of a period add up:

- :class:`DailySales`: per day, all completed sales (``orders`` = sales of the day);
- :class:`DailyProductSales`: per day and product (``orders`` = lines = sales containing the
  product, a sale has at most one line per product);
- :class:`DailyCustomerSales`: per day and customer (sales without customer are only in
  :class:`DailySales`);
- :class:`DailyCategorySales`: per day and category (``orders`` = sales with at least one line
  in the category, which cannot be summed from the product rows); ``category_key`` is the
  category id, ``0`` for products without category. The category of a product is the one in
  :class:`RollupProductCategory` (see there);
- :class:`MonthlyProductSales`, :class:`MonthlyCustomerSales`: the same per calendar month, for
  the whole months of long periods.

The rows are kept exact by ``analytics.services.rollups_apply_sales`` inside every sale write's
transaction, and rebuilt from the sales tables by ``rollups_rebuild``. A row whose ``orders``
falls to 0 is deleted. Measures are never negative (database CHECK constraints).
"""

from typing import Any

from django.db import models

MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}


def _measure_checks(prefix: str) -> list[models.BaseConstraint]:
    return [
        models.CheckConstraint(
            condition=models.Q(revenue__gte=0, cost__gte=0, units__gte=0, orders__gte=0),
            name=f"{prefix}_measures_non_negative",
        ),
    ]


class RollupMeasures(models.Model):
    revenue = models.DecimalField(**MONEY, help_text="Sum of line totals.")
    cost = models.DecimalField(**MONEY, help_text="Sum of unit cost x quantity at sale time.")
    units = models.BigIntegerField(help_text="Units sold.")
    orders = models.BigIntegerField(help_text="Completed sales (see each table).")

    class Meta:
        abstract = True
        default_permissions = ()

    def __str__(self) -> str:
        keys = ", ".join(str(getattr(self, f.attname)) for f in self._meta.pk_fields)
        return f"{keys}: {self.orders} orders, {self.revenue} revenue"


class DailySales(RollupMeasures):
    day = models.DateField(primary_key=True)

    class Meta(RollupMeasures.Meta):
        verbose_name_plural = "daily sales"
        # The permission of the analytics API and dashboard (given to every role by a migration).
        permissions = [("view_analytics", "Can view analytics (API and dashboard)")]
        constraints = _measure_checks("dailysales")
        indexes = [
            models.Index(fields=["day"], name="dailysales_zero_idx", condition=models.Q(orders=0)),
        ]


class DailyProductSales(RollupMeasures):
    pk = models.CompositePrimaryKey("day", "product")
    day = models.DateField()
    product = models.ForeignKey(
        "products.Product", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta(RollupMeasures.Meta):
        verbose_name_plural = "daily product sales"
        constraints = _measure_checks("dailyproductsales")
        indexes = [
            models.Index(fields=["product", "day"], name="dailyproduct_product_day_idx"),
            models.Index(
                fields=["day"], name="dailyproduct_zero_idx", condition=models.Q(orders=0)
            ),
        ]


class DailyCustomerSales(RollupMeasures):
    pk = models.CompositePrimaryKey("day", "customer")
    day = models.DateField()
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta(RollupMeasures.Meta):
        verbose_name_plural = "daily customer sales"
        constraints = _measure_checks("dailycustomersales")
        indexes = [
            # Covering: per-customer figures of a period (RFM, repeat customers) are read in
            # customer order from this index alone and grouped as they come, no hash table.
            models.Index(
                fields=["customer", "day"],
                include=["orders", "revenue"],
                name="dailycustomer_cust_day_cover",
            ),
            models.Index(
                fields=["day"], name="dailycustomer_zero_idx", condition=models.Q(orders=0)
            ),
        ]


class DailyCategorySales(RollupMeasures):
    pk = models.CompositePrimaryKey("day", "category_key")
    day = models.DateField()
    category_key = models.BigIntegerField(help_text="Category id; 0 = products without category.")

    class Meta(RollupMeasures.Meta):
        verbose_name_plural = "daily category sales"
        constraints = [
            *_measure_checks("dailycategorysales"),
            models.CheckConstraint(
                condition=models.Q(category_key__gte=0), name="dailycategory_key_non_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["day"], name="dailycategory_zero_idx", condition=models.Q(orders=0)
            ),
        ]


class MonthlyProductSales(RollupMeasures):
    """Per calendar month (its first day) and product: the sums of :class:`DailyProductSales`,
    so that a year of top products reads ~12 rows per product instead of ~365."""

    pk = models.CompositePrimaryKey("month", "product")
    month = models.DateField(help_text="First day of the month.")
    product = models.ForeignKey(
        "products.Product", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta(RollupMeasures.Meta):
        verbose_name_plural = "monthly product sales"
        constraints = _measure_checks("monthlyproductsales")
        indexes = [
            models.Index(
                fields=["month"], name="monthlyproduct_zero_idx", condition=models.Q(orders=0)
            ),
        ]


class MonthlyCustomerSales(RollupMeasures):
    """Per calendar month and customer: the sums of :class:`DailyCustomerSales`."""

    pk = models.CompositePrimaryKey("month", "customer")
    month = models.DateField(help_text="First day of the month.")
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta(RollupMeasures.Meta):
        verbose_name_plural = "monthly customer sales"
        constraints = _measure_checks("monthlycustomersales")
        indexes = [
            models.Index(
                fields=["month"], name="monthlycustomer_zero_idx", condition=models.Q(orders=0)
            ),
        ]


class RollupProductCategory(models.Model):
    """The category each product's sales are counted under in :class:`DailyCategorySales`.

    Written when a product first reaches the rollups and reset to the current categories by a
    full rebuild. When a product has since moved to another category, the category rollup no
    longer matches the catalog: the analytics notice it (one cheap query) and answer the
    category figures from the sales tables, exact but slower, until ``rebuild_rollups`` runs.
    """

    product = models.OneToOneField(
        "products.Product", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    category_key = models.BigIntegerField(help_text="Category id; 0 = no category.")

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"product {self.product_id} in category {self.category_key}"


class CustomerLifetime(models.Model):
    """Per customer with at least one completed sale: the local days of their first and last
    completed sale ever, the day of the second-latest one, how many completed sales and their
    revenue (from the customer's :class:`DailyCustomerSales` rows). Recomputed for the
    customers of every sale write in its transaction (``analytics.sql.refresh_lifetimes``)
    and by ``rollups_rebuild``; a customer without completed sales has no row. What cohorts
    ("first sale ever"), new vs returning and repeat customers, top customers (a bound) and
    the customer API's lifetime figures read."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    first_day = models.DateField(help_text="Local day of the first completed sale.")
    last_day = models.DateField(help_text="Local day of the latest completed sale.")
    orders = models.BigIntegerField(help_text="Completed sales.")
    revenue = models.DecimalField(**MONEY, help_text="Sum of their line totals.")
    second_day = models.DateField(
        null=True,
        blank=True,
        help_text="Local day of the second-latest completed sale (the latest day when it had "
        "two or more); empty with a single completed sale. A period ending on or after every "
        "last_day has a customer with two or more sales in it exactly when this day is in it.",
    )

    class Meta:
        default_permissions = ()
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    orders__gt=0, revenue__gte=0, last_day__gte=models.F("first_day")
                ),
                name="customerlifetime_consistent",
            ),
            models.CheckConstraint(
                condition=models.Q(orders=1, second_day__isnull=True)
                | models.Q(
                    orders__gte=2,
                    second_day__gte=models.F("first_day"),
                    second_day__lte=models.F("last_day"),
                ),
                name="customerlifetime_second_day",
            ),
        ]
        indexes = [models.Index(fields=["first_day"], name="customerlifetime_first_idx")]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: {self.orders} orders since {self.first_day}"
