from django.core.management.base import BaseCommand

from sales.tasks import purge_idempotency_keys_task


class Command(BaseCommand):
    help = (
        "Delete the stored answers of Idempotency-Keys that have expired (POST /api/sales/ and "
        "the catalog purchase/restock endpoints; they are kept IDEMPOTENCY_KEY_TTL_HOURS, at "
        "least 24 h). The Celery beat task purge_idempotency_keys_task does the same hourly."
    )

    def handle(self, *args, **options):
        deleted = purge_idempotency_keys_task()
        self.stdout.write(f"Deleted {deleted} expired idempotency key(s).")
