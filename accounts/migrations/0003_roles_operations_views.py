from django.db import migrations

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles"),
        ("products", "0002_catalog_outbox"),
        ("sales", "0002_idempotency_key"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
