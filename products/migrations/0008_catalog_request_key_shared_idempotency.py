"""CatalogRequestKey joins the one idempotency mechanism (core/idempotency.py): it gets the
fields of IdempotencyRecord (fingerprint, status, response status, expiry). Existing rows are
completed answers: status completed, response 200, their fingerprint computed from what they
asked (as products.services.contract does), expiry = creation + IDEMPOTENCY_KEY_TTL_HOURS."""

import hashlib
import json
from datetime import timedelta

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def _fingerprint(operation, product_id, quantity):
    data = {"operation": operation, "product_id": product_id, "quantity": quantity}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def complete_existing(apps, schema_editor):
    CatalogRequestKey = apps.get_model("products", "CatalogRequestKey")
    ttl = timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    for row in CatalogRequestKey.objects.all().iterator():
        row.request_fingerprint = _fingerprint(row.operation, row.product_id, row.quantity)
        row.status = "completed"
        row.response_status = 200
        row.expires_at = row.created_at + ttl
        row.save(update_fields=["request_fingerprint", "status", "response_status", "expires_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("products", "0007_product_search_trigram_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="catalogrequestkey",
            name="request_fingerprint",
            field=models.CharField(
                default="", help_text="SHA-256 of the request body.", max_length=64
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="catalogrequestkey",
            name="status",
            field=models.CharField(
                choices=[("processing", "Processing"), ("completed", "Completed")],
                default="processing",
                max_length=12,
            ),
        ),
        migrations.AddField(
            model_name="catalogrequestkey",
            name="response_status",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="catalogrequestkey",
            name="expires_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="catalogrequestkey",
            name="response_body",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="catalogrequestkey",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(complete_existing, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="catalogrequestkey",
            constraint=models.CheckConstraint(
                condition=models.Q(status__in=["processing", "completed"]),
                name="catalog_request_key_status_valid",
            ),
        ),
    ]
