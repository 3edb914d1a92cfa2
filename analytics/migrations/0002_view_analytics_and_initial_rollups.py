"""The analytics permission for every role, and the rollups of the sales already recorded."""

from django.db import migrations

ROLES = ("analyst", "sales", "manager")


def grant_view_analytics(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("analytics")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(
        content_type__app_label="analytics", codename="view_analytics"
    )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(permission)


def revoke_view_analytics(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(
        content_type__app_label="analytics", codename="view_analytics"
    ).delete()


def build_rollups(apps, schema_editor):
    # Raw SQL over the tables of this migration state (the rollups of existing sales).
    from analytics.services import rollups_rebuild

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
        migrations.RunPython(grant_view_analytics, revoke_view_analytics),
        migrations.RunPython(build_rollups, migrations.RunPython.noop, elidable=True),
    ]
