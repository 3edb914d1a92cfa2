"""The analytics permission for every role (accounts/roles.py), and the rollups of the sales
already recorded."""

from django.db import migrations

from accounts.roles import sync_roles


def build_rollups(apps, schema_editor):
    # The rollups of the sales already recorded. rollups_rebuild works on the current tables:
    # when a later migration adds one, it is not there yet and that migration builds instead.
    from analytics.services import rollups_rebuild
    from analytics.sql import REBUILT_TABLES

    if set(REBUILT_TABLES) <= set(schema_editor.connection.introspection.table_names()):
        rollups_rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0001_rollups"),
        ("accounts", "0003_roles_operations_views"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sales", "0002_idempotency_key"),
    ]

    operations = [
        migrations.RunPython(sync_roles, migrations.RunPython.noop),
        migrations.RunPython(build_rollups, migrations.RunPython.noop, elidable=True),
    ]
