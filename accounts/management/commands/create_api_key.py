from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for the catalog-compatible endpoints (POST /api/products/{id}/purchase/ "
        "and /restock/, header 'Authorization: Api-Key <key>'). The full key is printed once, as "
        "the last word of the output; only a hash of it is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'shop-frontend'.")

    def handle(self, *args, name, **options):
        try:
            api_key, full_key = api_key_create(name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Created API key {api_key.name!r} (prefix {api_key.prefix}). "
            f"Store it now, it will not be shown again: {full_key}"
        )
