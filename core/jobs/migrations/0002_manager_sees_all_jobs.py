"""Managers see and cancel everyone's batch jobs (accounts/roles.py)."""

from django.db import migrations

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("analytics", "0002_view_analytics_and_initial_rollups"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
