"""Managers see and cancel everyone's batch jobs (accounts/roles.py).

The role sync this migration ran moved to ``accounts/migrations/0005_roles_batch_jobs.py``
(which depends on this one): the core imports no domain app (issue 15, item 2). Kept, empty,
so the migration history stays as applied.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
        ("analytics", "0002_view_analytics_and_initial_rollups"),
    ]

    operations: list = []
