from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from products import services
from salesproject.errors import ApplicationError


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
        "the ledger as adjustments). Without --ids every local product is refreshed; --ids "
        "also pulls products we have never seen. Products the remote no longer knows are "
        "deactivated locally."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--ids", help="Remote product ids to pull, e.g. '1,2,10-15' (default: all local)."
        )

    def handle(self, *args, ids=None, **options):
        if settings.CATALOG_BACKEND != "http":
            raise CommandError(
                "sync_catalog needs CATALOG_BACKEND=http (with CATALOG_API_URL and "
                "CATALOG_API_KEY); with the local catalog there is nothing to sync."
            )
        try:
            result = services.catalog_sync(product_ids=parse_ids(ids) if ids else None)
        except ApplicationError as exc:
            raise CommandError(f"The catalog could not be read: {exc.message}") from exc
        self.stdout.write(
            f"Synced {len(result['synced'])} product(s); "
            f"{len(result['missing'])} unknown to the catalog"
            + (f" (deactivated: {result['missing'][:20]})" if result["missing"] else "")
            + "."
        )
