"""``manage.py import``: refuses, naming ``import_data`` (see ``_generic``)."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.dataio.management.commands._generic import quoted, table_for


class Command(BaseCommand):
    help = (
        "Disabled here: django-import-export's generic import wrote rows without the services "
        "(stock without a ledger row). Use 'manage.py import_data TABLE FILE' (customers, "
        "categories, products or sales; see 'manage.py import_data --help'). The arguments of "
        "the generic command are accepted only to say so."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        # The generic command's arguments, so that any invocation of it gets this refusal
        # rather than a usage error.
        parser.add_argument("resource", help="Ignored: app.Model or a resource's dotted path.")
        parser.add_argument("import_file_name", help="Ignored: the file.")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")
        parser.add_argument("--raise-errors", action="store_true")
        parser.add_argument("-n", "--dry-run", action="store_true")
        parser.add_argument("--format")
        parser.add_argument("--encoding")

    def handle(self, *args: Any, **options: Any) -> None:
        table = table_for(options["resource"])
        suggestion = (
            f"manage.py import_data {table} {quoted(options['import_file_name'])}"
            + (" --dry-run" if options["dry_run"] else "")
            if table
            else "manage.py import_data --help"
        )
        raise CommandError(
            "'manage.py import' (django-import-export's generic import) is disabled: it writes "
            "rows around the services (stock without a ledger row). Use the import_data command "
            f"instead: {suggestion}"
        )
