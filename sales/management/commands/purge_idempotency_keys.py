from django.core.management.base import BaseCommand

from sales import idempotency


class Command(BaseCommand):
    help = (
        "Delete the stored answers of POST /api/sales/ Idempotency-Keys that have expired "
        "(they are kept IDEMPOTENCY_KEY_TTL_HOURS, at least 24 h). The Celery beat task "
        "purge_idempotency_keys_task does the same every hour."
    )

    def handle(self, *args, **options):
        deleted = idempotency.idempotency_keys_purge()
        self.stdout.write(f"Deleted {deleted} expired idempotency key(s).")
