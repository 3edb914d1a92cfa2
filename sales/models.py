from django.conf import settings
from django.db import models
from django.utils import timezone

from core.idempotency import IdempotencyRecord, IdempotencyStatus


class SaleStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Sale(models.Model):
    """A sale is a ledger entry: cancelling keeps the record (status ``cancelled``)."""

    Status = SaleStatus

    reference = models.CharField(max_length=64, unique=True, help_text="Human readable, unique.")
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales",
        db_index=False,  # sale_customer_sold_at_idx (customer, -sold_at) serves it
    )
    sold_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=SaleStatus.choices, default=SaleStatus.COMPLETED
    )
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-sold_at", "-id")
        permissions = [("cancel_sale", "Can cancel sale")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="sale_total_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SaleStatus.values), name="sale_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status=SaleStatus.CANCELLED, cancelled_at__isnull=False)
                | models.Q(status=SaleStatus.COMPLETED, cancelled_at__isnull=True),
                name="sale_cancelled_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["-sold_at", "-id"], name="sale_sold_at_id_idx"),
            models.Index(fields=["customer", "-sold_at"], name="sale_customer_sold_at_idx"),
            models.Index(fields=["status", "-sold_at"], name="sale_status_sold_at_idx"),
            models.Index(fields=["total"], name="sale_total_idx"),
            # ?ordering=created_at / -created_at of the sales list (read backwards for -).
            models.Index(fields=["created_at", "id"], name="sale_created_at_id_idx"),
        ]

    def __str__(self) -> str:
        return self.reference


class SaleItem(models.Model):
    # No single-column indexes: the unique (sale, product) constraint serves ``sale`` and
    # saleitem_product_sale_idx (product, sale) serves ``product`` (fewer indexes to maintain
    # on every insert: the sales import writes a million lines at a time).
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="items", db_index=False)
    product = models.ForeignKey(
        "products.Product", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Price at sale time."
    )
    unit_cost = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, help_text="Cost at sale time, for margin."
    )
    line_total = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="saleitem_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="saleitem_unit_price_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0), name="saleitem_unit_cost_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(line_total__gte=0), name="saleitem_line_total_non_negative"
            ),
            models.UniqueConstraint(
                fields=["sale", "product"], name="saleitem_one_line_per_product"
            ),
        ]
        indexes = [
            models.Index(fields=["product", "sale"], name="saleitem_product_sale_idx"),
        ]

    def __str__(self) -> str:
        # By SKU and name (the admin's inline rows, its history): the admin selects the product.
        return f"{self.quantity} x {self.product} @ {self.unit_price}"


IdempotencyKeyStatus = IdempotencyStatus


class IdempotencyKey(IdempotencyRecord):
    """The stored answer to a ``POST /api/sales/`` sent with an ``Idempotency-Key`` header
    (``core/idempotency.py``).

    A repeat with the same key and body gets the stored answer; the same key with another body
    is refused (422). Keys are per user, kept at least ``IDEMPOTENCY_KEY_TTL_HOURS`` and then
    purged by ``purge_idempotency_keys_task``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    sale = models.ForeignKey(
        Sale, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
            models.CheckConstraint(
                condition=models.Q(status__in=IdempotencyStatus.values),
                name="idempotency_key_status_valid",
            ),
        ]
