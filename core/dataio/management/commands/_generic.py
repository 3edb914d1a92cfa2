"""What replaces django-import-export's generic ``import`` and ``export`` commands.

Those write rows with a ``ModelResource`` (``import products.Product f.csv`` with
``id,stock_quantity`` set the stock without the services and without a ledger row) and do not
work with our table resources. Our commands of the same names shadow them (``core.dataio``
comes before ``import_export`` in ``INSTALLED_APPS``: Django's first app wins a name), take the
same arguments, and refuse with the command to use instead.
"""

from __future__ import annotations

import shlex

from django.apps import apps
from django.utils.module_loading import import_string

from core.dataio.tables import TABLES, get_table


def table_for(dotted: str) -> str | None:
    """The dataio table of a generic command's ``resource`` argument (``app.Model`` or a
    resource class's dotted path), or None. Imports nothing but our own resources and models."""
    if dotted.count(".") == 1:
        try:
            model = apps.get_model(dotted)
        except (LookupError, ValueError):
            return None
        for name in TABLES:
            if get_table(name).model is model:
                return name
        return None
    from core.dataio.admin import TableResource

    project_apps = {config.name for config in apps.get_app_configs()} - {"import_export"}
    if dotted.split(".")[0] not in {name.split(".")[0] for name in project_apps}:
        return None
    try:
        resource = import_string(dotted)
    except ImportError:
        return None
    if isinstance(resource, type) and issubclass(resource, TableResource):
        return resource.table_name or None
    return None


def quoted(value: str) -> str:
    return shlex.quote(value)
