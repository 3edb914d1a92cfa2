import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.idempotency import IdempotencyRecord, IdempotencyStatus


class Category(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="category_name_ci_unique",
                violation_error_message="A category with this name already exists.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField("SKU", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    price = models.DecimalField(max_digits=12, decimal_places=2)
    cost = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0.00"), help_text="Unit cost, for margin."
    )
    stock_quantity = models.IntegerField(
        default=0, help_text="Changed only through the stock ledger (StockMovement)."
    )
    is_active = models.BooleanField(default=True)
    remote_id = models.BigIntegerField(
        "remote catalog id",
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="CATALOG_BACKEND=http: the id of the remote catalog product this row mirrors. "
        "Empty for our own (local) products, which the remote catalog never touches.",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock_quantity__gte=0), name="product_stock_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="product_price_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(cost__gte=0), name="product_cost_non_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["category", "name"], name="product_category_name_idx"),
            models.Index(fields=["name"], name="product_name_idx"),
            models.Index(fields=["price"], name="product_price_idx"),
            models.Index(fields=["is_active"], name="product_is_active_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockMovementReason(models.TextChoices):
    SALE = "sale", "Sale"
    SALE_EDIT = "sale_edit", "Sale edited"
    SALE_CANCEL = "sale_cancel", "Sale cancelled or deleted"
    PURCHASE_API = "purchase_api", "Purchase through the catalog API"
    RESTOCK = "restock", "Restock"
    ADJUSTMENT = "adjustment", "Manual adjustment"
    IMPORT = "import", "Import"
    COMPENSATION = "compensation", "Catalog compensation (undone remote purchase)"


class StockMovement(models.Model):
    """The stock ledger: one row per stock change; per product the deltas sum to the stock."""

    Reason = StockMovementReason

    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="stock_movements",
        db_index=False,  # stockmove_product_created_idx (product, -created_at) serves it
    )
    delta = models.IntegerField()
    reason = models.CharField(max_length=20, choices=StockMovementReason.choices)
    reference = models.CharField(max_length=100, blank=True, help_text="E.g. the sale reference.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(delta=0), name="stock_movement_delta_non_zero"
            ),
            models.CheckConstraint(
                condition=models.Q(reason__in=StockMovementReason.values),
                name="stock_movement_reason_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["product", "-created_at"], name="stockmove_product_created_idx"),
            models.Index(fields=["reference"], name="stockmove_reference_idx"),
            # The ledger list, newest first (cursor pages: the table grows with every sale).
            models.Index(fields=["created_at", "id"], name="stockmove_created_at_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.delta:+d} ({self.reason})"


class CatalogOutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (the remote does not know the product; needs an operator)"


class CatalogOutboxEntry(models.Model):
    """A remote catalog stock change that must happen but has not yet (HTTP catalog only).

    Written in the same database transaction as the local change that needs it (a cancelled
    sale's restock), or after a failed compensation; executed after commit and retried with
    backoff by ``retry_catalog_outbox_task`` until done. Shown in the admin.
    """

    Status = CatalogOutboxStatus

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    delta = models.IntegerField(help_text="Positive: restock on the remote; negative: purchase.")
    reason = models.CharField(max_length=20, choices=StockMovementReason.choices)
    reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=10, choices=CatalogOutboxStatus.choices, default=CatalogOutboxStatus.PENDING
    )
    idempotency_key = models.UUIDField(
        default=uuid.uuid4,
        editable=False,
        help_text="Sent as the Idempotency-Key header: a remote that honours it (this project "
        "does) applies a retried entry once.",
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "catalog outbox entry"
        verbose_name_plural = "catalog outbox"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(delta=0), name="catalog_outbox_delta_non_zero"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=CatalogOutboxStatus.values),
                name="catalog_outbox_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="catalog_outbox_due_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()}: {self.delta:+d} x product {self.product_id}"


class CatalogRequestOperation(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    RESTOCK = "restock", "Restock"


class CatalogRequestKey(IdempotencyRecord):
    """A catalog-contract purchase/restock sent with an ``Idempotency-Key`` (our extension of
    the contract), through the one mechanism of ``core/idempotency.py``: a repeat with the same
    key, by the same API key, gets the stored answer instead of moving stock again. Kept
    ``IDEMPOTENCY_KEY_TTL_HOURS``."""

    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    operation = models.CharField(max_length=10, choices=CatalogRequestOperation.choices)
    product_id = models.BigIntegerField()
    quantity = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "key"], name="catalog_request_key_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=IdempotencyStatus.values),
                name="catalog_request_key_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.quantity} x {self.product_id} ({self.key})"
