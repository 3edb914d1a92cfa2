from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from products import services


def parse_ids(text: str) -> list[int]:
    """``"1,2,10-15"`` → ``[1, 2, 10, 11, 12, 13, 14, 15]``."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            raise CommandError(f"--ids: {part!r} is not an id or a range like 10-15")
        start, end = int(first), int(last or first)
        if end < start:
            raise CommandError(f"--ids: the range {part!r} goes backwards")
        ids.extend(range(start, end + 1))
    if not ids:
        raise CommandError("--ids: no id given")
    return ids


class Command(BaseCommand):
    help = (
        "HTTP catalog only (CATALOG_BACKEND=http): refresh the local mirror rows of remote "
        "catalog products (name, price, active flag, stock; stock differences are written to "
        "the ledger as adjustments). Without --ids every mirrored product is refreshed; --ids "
        "(the remote catalog's ids) also pulls products we have never seen. Products the remote "
        "no longer knows are deactivated locally. Our own local products (no remote id) are "
        "never changed; --adopt-by-sku links them to the remote products of the same SKU "
        "(docs/catalog.md, 'Switching to a remote catalog')."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ids", help="Remote product ids to pull, e.g. '1,2,10-15' (default: all mirrored)."
        )
        parser.add_argument(
            "--adopt-by-sku",
            action="store_true",
            help="Link each local product to the remote product with the same SKU (it keeps "
            "its id, sales and ledger; name, price and stock then come from the remote). Reads "
            "the remote's whole product list.",
        )
        parser.add_argument(
            "--deactivate-unmatched",
            action="store_true",
            help="With --adopt-by-sku: deactivate the local products no remote SKU matches.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="With --adopt-by-sku: only say which products would be linked.",
        )

    def handle(self, *args, ids=None, adopt_by_sku=False, **options):
        if settings.CATALOG_BACKEND != "http":
            raise CommandError(
                "sync_catalog needs CATALOG_BACKEND=http (with CATALOG_API_URL and "
                "CATALOG_API_KEY); with the local catalog there is nothing to sync."
            )
        if (options["deactivate_unmatched"] or options["dry_run"]) and not adopt_by_sku:
            raise CommandError("--deactivate-unmatched and --dry-run go with --adopt-by-sku.")
        if adopt_by_sku and ids:
            raise CommandError("--adopt-by-sku reads every remote product: leave out --ids.")
        if adopt_by_sku:
            self._adopt(options["deactivate_unmatched"], options["dry_run"])
            return
        try:
            result = services.catalog_sync(remote_ids=parse_ids(ids) if ids else None)
        except ApplicationError as exc:
            raise CommandError(f"The catalog could not be read: {exc.message}") from exc
        self.stdout.write(
            f"Synced {len(result['synced'])} product(s); "
            f"{len(result['missing'])} unknown to the catalog"
            + (f" (deactivated: {result['missing'][:20]})" if result["missing"] else "")
            + "."
        )
        local = services.catalog_local_products().filter(is_active=True).count()
        if local:
            self.stdout.write(
                f"{local} active local product(s) are not in the remote catalog and cannot be "
                "sold in this mode; see sync_catalog --adopt-by-sku."
            )

    def _adopt(self, deactivate_unmatched: bool, dry_run: bool) -> None:
        try:
            result = services.catalog_adopt_by_sku(
                deactivate_unmatched=deactivate_unmatched, dry_run=dry_run
            )
        except ApplicationError as exc:
            raise CommandError(f"The catalog could not be read: {exc.message}") from exc
        verb = "Would link" if dry_run else "Linked"
        self.stdout.write(f"{verb} {len(result['linked'])} local product(s) by SKU.")
        for local_id, remote_id in result["linked"][:50]:
            self.stdout.write(f"  product {local_id} -> remote product {remote_id}")
        if result["taken"]:
            self.stdout.write(
                f"{len(result['taken'])} local product(s) match a remote product another row "
                f"already mirrors, left as they are: {result['taken'][:20]}"
            )
        if result["unmatched"]:
            state = "deactivated" if deactivate_unmatched and not dry_run else "still local"
            self.stdout.write(
                f"{len(result['unmatched'])} local product(s) match no remote SKU ({state}): "
                f"{result['unmatched'][:20]}"
            )
