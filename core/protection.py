"""Is a row still referenced by a ``PROTECT`` foreign key? Asked of the database, through the
model's ``_meta``, so an app can refuse a delete with a clear message without importing the
apps that refer to it (issue 15: dependencies run one way; e.g. customers and products do not
import sales to know that a customer has sales, or that a product was sold).
"""

from __future__ import annotations

from typing import Any

from django.db import models


def protecting_relations(model: type[models.Model]) -> list[Any]:
    """The reverse relations (hidden ones too: ``related_name="+"``) of the foreign keys and
    one-to-one fields that point to ``model`` with ``on_delete=PROTECT``."""
    return [
        rel
        for rel in model._meta.get_fields(include_hidden=True)
        if rel.auto_created
        and not rel.concrete
        and (rel.one_to_many or rel.one_to_one)
        and getattr(rel, "on_delete", None) is models.PROTECT
    ]


def protected_by_other_apps(instance: models.Model) -> bool:
    """Whether a row of ANOTHER app refers to ``instance`` through a ``PROTECT`` foreign key
    (a customer with sales, a product that appears in a sale): its delete would raise
    ``ProtectedError``, and only that app could lift it. The owning app's own protecting rows
    (a product's stock ledger) are its own business and not counted. One ``EXISTS`` query per
    such relation (each served by the foreign key's index)."""
    label = instance._meta.app_label
    for rel in protecting_relations(type(instance)):
        if rel.related_model._meta.app_label == label:
            continue
        manager = rel.related_model._base_manager.db_manager(instance._state.db)
        if manager.filter(**{rel.field.name: instance.pk}).exists():
            return True
    return False
