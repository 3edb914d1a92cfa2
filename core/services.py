"""Helpers shared by the apps' services (after HackSoftware's Django-Styleguide)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

ModelT = TypeVar("ModelT", bound=models.Model)


def model_update(
    *, instance: ModelT, fields: list[str], data: dict[str, Any]
) -> tuple[ModelT, bool]:
    """Set ``fields`` present in ``data`` on ``instance``, validate, and save only what changed.

    Returns ``(instance, has_updated)``. ``updated_at`` (``auto_now``) is saved with any change.
    """
    changed: list[str] = []
    for field in fields:
        if field not in data:
            continue
        model_field = instance._meta.get_field(field)
        attname = getattr(model_field, "attname", field)
        new_value = data[field]
        current = getattr(instance, field)
        if current != new_value:
            setattr(instance, field, new_value)
            changed.append(attname)
    if not changed:
        return instance, False
    instance.full_clean()
    if any(f.name == "updated_at" for f in instance._meta.concrete_fields):
        changed.append("updated_at")
    instance.save(update_fields=changed)
    return instance, True
