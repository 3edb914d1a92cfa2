"""The tables the demo fills (and ``--reset`` empties): the seeded models and every model whose
table references them."""

from __future__ import annotations

from django.db import models

from customers.models import Customer
from products.models import Category, Product, StockMovement
from sales.models import Sale, SaleItem

SEEDED_MODELS = (SaleItem, Sale, StockMovement, Product, Category, Customer)


def existing_data_counts() -> dict[str, int]:
    """What demo seeding would collide with: rows already in the demo's tables."""
    return {
        "sales": Sale.objects.count(),
        "customers": Customer.objects.count(),
        "products": Product.objects.count(),
    }


def dependent_models() -> list[type[models.Model]]:
    """Models outside the seeded ones whose tables reference them (directly or through each
    other), deepest first: ``--reset`` empties them too, e.g. a catalog outbox of products."""
    seeded = set(SEEDED_MODELS)
    found: list[type[models.Model]] = []
    frontier = list(SEEDED_MODELS)
    while frontier:
        model = frontier.pop(0)
        for relation in model._meta.get_fields(include_hidden=True):
            # Reverse foreign keys, also hidden ones (related_name="+") and those of the
            # automatic many-to-many tables; not the many-to-many relation itself.
            if not (relation.auto_created and not relation.concrete) or relation.many_to_many:
                continue
            other = relation.related_model
            if other is None or other in seeded or other in found:
                continue
            found.append(other)
            frontier.append(other)
    found.sort(key=lambda m: m._meta.label)  # a stable order, then the deepest first
    depth = {m: _dependency_depth(m, seeded) for m in found}
    return sorted(found, key=lambda m: -depth[m])


def _dependency_depth(model: type[models.Model], seeded: set, seen: frozenset = frozenset()) -> int:
    """1 for a model that references a seeded one, 2 for one referencing such a model, ..."""
    depths = [0]
    for f in model._meta.get_fields():
        target = getattr(f, "related_model", None)
        if not (f.many_to_one or f.one_to_one) or not f.concrete or target is None:
            continue
        if target in seeded:
            depths.append(1)
        elif target is not model and target not in seen:
            inner = _dependency_depth(target, seeded, seen | {model})
            if inner:
                depths.append(inner + 1)
    return max(depths)


def count_rows() -> dict[str, int]:
    counts = {str(m._meta.verbose_name_plural): m._base_manager.count() for m in dependent_models()}
    counts.update(
        {
            "sale lines": SaleItem.objects.count(),
            "sales": Sale.objects.count(),
            "stock movements": StockMovement.objects.count(),
            "products": Product.objects.count(),
            "categories": Category.objects.count(),
            "customers": Customer.objects.count(),
        }
    )
    return counts
