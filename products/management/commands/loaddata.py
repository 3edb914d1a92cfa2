"""``manage.py loaddata``, Django's fixture loader, kept from writing stock around the ledger.

A fixture writes rows as they are (no services), so one that sets a product's
``stock_quantity``, or adds ledger rows, without the two agreeing would break the rule that a
product's ledger sums to its stock. Fixtures load as before, and after loading (inside
loaddata's own transaction) every product the fixture touched is checked: if its ledger does
not sum to its stock the whole load is rolled back with an error naming the products. A dump of
products together with their ledger (``dumpdata products``) loads back fine.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands.loaddata import Command as DjangoLoadData
from django.db.models import Sum
from django.db.models.signals import post_save

from products.models import Product, StockMovement

CHECK_CHUNK = 10_000  # products checked per query
SHOWN = 10  # products named in the error


class Command(DjangoLoadData):
    help = (
        DjangoLoadData.help
        + " Refused (nothing loaded) if a loaded product's stock ledger then does not sum to "
        "its stock: set stock with 'manage.py import_data products FILE' instead."
    )

    def loaddata(self, fixture_labels):
        touched: set[int] = set()

        def product_saved(sender, instance, **kwargs):
            touched.add(instance.pk)

        def movement_saved(sender, instance, **kwargs):
            touched.add(instance.product_id)

        post_save.connect(product_saved, sender=Product, weak=False)
        post_save.connect(movement_saved, sender=StockMovement, weak=False)
        try:
            super().loaddata(fixture_labels)
        finally:
            post_save.disconnect(product_saved, sender=Product)
            post_save.disconnect(movement_saved, sender=StockMovement)
        wrong = self._unbalanced(sorted(touched))
        if wrong:
            shown = "; ".join(
                f"product {pk}: stock {stock}, ledger sum {total}"
                for pk, stock, total in wrong[:SHOWN]
            )
            more = f" and {len(wrong) - SHOWN} more" if len(wrong) > SHOWN else ""
            raise CommandError(
                f"Nothing was loaded: the fixture leaves {len(wrong)} product(s) whose stock "
                f"ledger does not sum to their stock ({shown}{more}). Load products with their "
                "ledger rows (as dumpdata writes them), or set stock with "
                "'manage.py import_data products FILE', which records it in the ledger."
            )

    def _unbalanced(self, product_ids: list[int]) -> list[tuple[int, int, int]]:
        wrong = []
        for start in range(0, len(product_ids), CHECK_CHUNK):
            chunk = product_ids[start : start + CHECK_CHUNK]
            sums = dict(
                StockMovement.objects.using(self.using)
                .filter(product_id__in=chunk)
                .values("product_id")
                .annotate(total=Sum("delta"))
                .values_list("product_id", "total")
            )
            for pk, stock in (
                Product.objects.using(self.using)
                .filter(pk__in=chunk)
                .values_list("pk", "stock_quantity")
            ):
                if sums.get(pk, 0) != stock:
                    wrong.append((pk, stock, sums.get(pk, 0)))
        return wrong
