"""Test data built through the real services (so stock and ledger stay consistent)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from customers.models import Customer
from customers.services import customer_create
from products.models import Category, Product
from products.services import category_create, product_create
from sales.models import Sale
from sales.services import SaleLine, sale_create

_sequence = itertools.count(1)


def make_user(*, role: str | None = None, username: str | None = None, **extra):
    User = get_user_model()
    username = username or f"user{next(_sequence)}"
    user = User.objects.create_user(username=username, password="pw-Secret-123", **extra)
    if role:
        group = Group.objects.filter(name=role).first()
        if group is None:  # an earlier transactional test flushed what the migrations made
            group = _role_groups_restored().get(name=role)
        user.groups.add(group)
    return user


def _role_groups_restored():
    """The role groups and their permissions again, as the migrations make them."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.management import create_contenttypes

    from accounts.roles import role_groups_sync

    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)
        create_permissions(app_config, verbosity=0)
    role_groups_sync(group_model=Group, permission_model=Permission)
    return Group.objects


def make_category(*, name: str | None = None) -> Category:
    return category_create(name=name or f"Category {next(_sequence)}")


def make_product(
    *,
    sku: str | None = None,
    name: str | None = None,
    price: str | Decimal = "10.00",
    cost: str | Decimal = "4.00",
    stock: int = 100,
    category: Category | None = None,
    is_active: bool = True,
) -> Product:
    n = next(_sequence)
    return product_create(
        sku=sku or f"SKU-{n:05d}",
        name=name or f"Product {n}",
        price=Decimal(price),
        cost=Decimal(cost),
        category=category,
        stock_quantity=stock,
        is_active=is_active,
    )


def make_customer(**fields) -> Customer:
    n = next(_sequence)
    fields.setdefault("name", f"Customer {n}")
    fields.setdefault("email", f"customer{n}@example.com")
    return customer_create(**fields)


def make_sale(*, items: list[tuple[Product, int]], customer: Customer | None = None, **kw) -> Sale:
    lines = [SaleLine(product_id=product.pk, quantity=quantity) for product, quantity in items]
    return sale_create(lines=lines, customer_id=customer.pk if customer else None, **kw)


def make_api_key(*, name: str | None = None, is_active: bool = True):
    """``(api_key, full_key)``: a key for the catalog-compatible endpoints, made by the real
    service (only its hash is stored); ``is_active=False`` gives a revoked key."""
    from accounts.services import api_key_create

    api_key, full_key = api_key_create(name=name or f"key {next(_sequence)}")
    if not is_active:
        api_key.is_active = False
        api_key.save(update_fields=["is_active"])
    return api_key, full_key


def ensure_role_groups() -> None:
    """Create the role groups (with their permissions) if they are missing. A transactional test
    (``django_db(transaction=True)``) may start after another one's flush, which removed the
    groups that the roles migration created."""
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    from accounts.roles import ROLES

    for role, codenames in ROLES.items():
        group, created = Group.objects.get_or_create(name=role)
        if not created:
            continue
        wanted = Q(pk__in=[])
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
