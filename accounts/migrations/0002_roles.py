from django.db import migrations

from accounts.roles import sync_roles


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["analyst", "sales", "manager"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("customers", "0001_initial"),
        ("products", "0001_initial"),
        ("sales", "0001_initial"),
    ]

    operations = [migrations.RunPython(sync_roles, remove_roles)]
