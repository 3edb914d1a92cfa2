"""``manage.py export``: refuses, naming ``export_data`` (see ``_generic``)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.dataio.management.commands._generic import table_for

FORMAT_EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "json"}


class Command(BaseCommand):
    help = (
        "Disabled here: use 'manage.py export_data TABLE --out FILE' (customers, categories, "
        "products or sales; see 'manage.py export_data --help'), which writes our columns "
        "(natural keys, formula-safe CSV) like the API and the admin. The arguments of "
        "django-import-export's generic export are accepted only to say so."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("format", help="Ignored: the generic command's format.")
        parser.add_argument("resource", help="Ignored: app.Model or a resource's dotted path.")
        parser.add_argument("--encoding")

    def handle(self, *args: Any, **options: Any) -> None:
        table = table_for(options["resource"])
        extension = FORMAT_EXTENSIONS.get(options["format"].rsplit(".", 1)[-1].lower(), "csv")
        suggestion = (
            f"manage.py export_data {table} --out {table}.{extension}"
            if table
            else "manage.py export_data --help"
        )
        raise CommandError(
            "'manage.py export' (django-import-export's generic export) is disabled. Use the "
            f"export_data command instead: {suggestion}"
        )
