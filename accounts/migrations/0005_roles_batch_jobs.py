"""Managers see and cancel everyone's batch jobs (``jobs.view_batchjob``,
``jobs.change_batchjob`` in accounts/roles.py): the role sync once run by jobs 0002, which the
core cannot import (issue 15, item 2). Idempotent: on a database where jobs 0002 synced the
roles already, the groups keep the same permissions."""

from django.db import migrations

from accounts.roles import sync_roles


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_token_generation"),
        ("jobs", "0002_manager_sees_all_jobs"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
