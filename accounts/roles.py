"""The role groups and their permissions. Used by the roles migration; when a model or a custom
permission is added, add it here and write a migration that calls :func:`sync_roles` again."""

MODELS = {
    "customers": ["customer"],
    "products": ["category", "product", "stockmovement"],
    "sales": ["sale", "saleitem"],
}

ANALYST = [
    *[f"{app}.view_{model}" for app, models in MODELS.items() for model in models],
    "analytics.view_analytics",  # the analytics API and dashboard (every role)
]
SALES = [
    *ANALYST,
    "sales.add_sale",
    "sales.add_saleitem",
    "sales.cancel_sale",
    "customers.add_customer",
]
MANAGER = [
    *[
        f"{app}.{action}_{model}"
        for app, models in MODELS.items()
        for model in models
        for action in ("view", "add", "change", "delete")
    ],
    "sales.cancel_sale",
    "analytics.view_analytics",
    *[f"accounts.{action}_apikey" for action in ("view", "add", "change", "delete")],
    # Operations views (read-only in the admin): the HTTP catalog outbox, stored idempotent
    # answers.
    "products.view_catalogoutboxentry",
    "sales.view_idempotencykey",
    # Everyone's batch jobs (others see their own), and cancelling them.
    "jobs.view_batchjob",
    "jobs.change_batchjob",
]

ROLES = {"analyst": ANALYST, "sales": SALES, "manager": MANAGER}


def sync_roles(apps, schema_editor=None):
    """Create the groups and give each exactly its permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    role_groups_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )


def role_groups_sync(*, group_model, permission_model):
    """Create each role's group and give it exactly its permissions (those that exist)."""
    Group, Permission = group_model, permission_model
    for role, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            # None: its app is not migrated yet at this point of the migration history; that
            # app's own migration calls sync_roles again (e.g. analytics 0002).
            if permission is not None:
                permissions.append(permission)
        group.permissions.set(permissions)
