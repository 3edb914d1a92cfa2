"""Price updates of many products at once (by percent or amount), all or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ExpressionWrapper, F, Q, QuerySet
from django.db.models.expressions import Combinable
from django.db.models.functions import Round
from django.utils import timezone

from core.errors import ApplicationError
from core.money import MoneyField, money_str
from products.models import (
    Product,
)

PRICE_CHANGE_SAMPLE = 100
MAX_PRICE = Decimal("9999999999.99")


@dataclass
class PriceUpdateResult:
    matched: int  # products selected
    changed: int  # products whose price changes
    changes: list[dict[str, Any]]  # the first ones: sku, name, old_price, new_price
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "changed": self.changed,
            "changes": self.changes,
            "dry_run": self.dry_run,
        }


def _new_price(percent: Decimal | None, amount: Decimal | None) -> Combinable:
    if (percent is None) == (amount is None):
        raise ApplicationError(
            "Give either percent or amount.",
            fields={"percent": ["Give percent or amount, not both."]},
        )
    if percent is not None:
        if percent <= Decimal(-100):
            raise ApplicationError(
                "A price cannot go down by 100% or more.",
                fields={"percent": ["Must be more than -100."]},
            )
        return Round(F("price") * (Decimal(100) + percent) / Decimal(100), 2)
    return F("price") + amount


def product_price_update(
    *,
    products: QuerySet[Product],
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    dry_run: bool = False,
) -> PriceUpdateResult:
    """Change the price of ``products`` by ``percent`` (rounded to the cent) or by ``amount``,
    in one transaction; refused whole if any price would fall below 0 or exceed the maximum.
    ``dry_run`` tells what would change and writes nothing. Sales keep their price snapshots."""
    expression = _new_price(percent, amount)
    with transaction.atomic():
        selected = Product.objects.filter(pk__in=products.values("pk")).annotate(
            new_price=ExpressionWrapper(
                expression,
                output_field=MoneyField(max_digits=12),  # cents on SQLite too
            )
        )
        if not dry_run:  # lock in id order, as sales do, before reading the prices
            list(selected.order_by("pk").select_for_update().values_list("pk", flat=True))
        out_of_range = selected.filter(Q(new_price__lt=0) | Q(new_price__gt=MAX_PRICE))
        bad = list(out_of_range.order_by("sku").values_list("sku", flat=True)[:10])
        if bad:
            raise ApplicationError(
                f"{out_of_range.count()} prices would be out of range (0 to {MAX_PRICE}), "
                f"e.g. {', '.join(bad)}; nothing was changed.",
                code="price_out_of_range",
            )
        changing = selected.exclude(new_price=F("price"))
        result = PriceUpdateResult(
            matched=selected.count(),
            changed=changing.count(),
            changes=[
                {"sku": sku, "name": name, "old_price": money_str(old), "new_price": money_str(new)}
                for sku, name, old, new in changing.order_by("sku").values_list(
                    "sku", "name", "price", "new_price"
                )[:PRICE_CHANGE_SAMPLE]
            ],
            dry_run=dry_run,
        )
        if not dry_run and result.changed:
            Product.objects.filter(pk__in=changing.values("pk")).update(
                price=expression, updated_at=timezone.now()
            )
    return result
