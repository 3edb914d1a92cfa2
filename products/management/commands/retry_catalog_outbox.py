from django.core.management.base import BaseCommand
from django.utils import timezone

from products import services
from products.models import CatalogOutboxEntry


class Command(BaseCommand):
    help = (
        "Send the pending remote catalog stock changes (the catalog outbox of the HTTP catalog: "
        "restocks of cancelled sales, compensations of undone purchases) whose backoff has "
        "passed. --now ignores the backoff. The Celery beat task retry_catalog_outbox_task does "
        "the same every minute."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", action="store_true", help="Send every pending entry now, ignoring backoff."
        )

    def handle(self, *args, now, **options):
        if now:
            CatalogOutboxEntry.objects.filter(status=CatalogOutboxEntry.Status.PENDING).update(
                next_attempt_at=timezone.now()
            )
        counts = services.catalog_outbox_process()
        pending = CatalogOutboxEntry.objects.filter(status=CatalogOutboxEntry.Status.PENDING)
        self.stdout.write(
            f"Sent {counts['done']}, failed {counts['failed']}; {pending.count()} still pending."
        )
