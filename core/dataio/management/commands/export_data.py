import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet
from django.urls import resolve, reverse
from tqdm import tqdm

from core.dataio.formats import FORMATS, format_from_name
from core.dataio.services import data_export
from core.dataio.tables import TABLES, get_table
from core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Export customers, categories, products or sales (one row per sale line) to CSV, XLSX "
        "or JSON, streamed with a server-side cursor (memory does not grow with the data). The "
        "columns are the import's: the file imports back unchanged. --filter takes the API "
        "list filters, e.g. --filter sold_after=2025-01-01 --filter status=completed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("table", choices=list(TABLES), help="What to export.")
        parser.add_argument("--out", required=True, metavar="FILE", help="The file to write.")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv, xlsx or json (default: from the extension)."
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="A filter of the API's list endpoint for this table (repeatable).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            fmt = format_from_name(options["out"], options["format"])
            queryset = self._filtered(options["table"], options["filter"])
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self._check_out(options["out"])
        partial = f"{options['out']}.partial"
        written = 0
        try:
            with (
                open(partial, "wb") as out,
                tqdm(
                    unit="B",
                    unit_scale=True,
                    desc=f"Exporting {options['table']}",
                    disable=options["no_progress"],
                    file=sys.stderr,
                ) as bar,
            ):
                for chunk in data_export(table=options["table"], fmt=fmt, queryset=queryset):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            os.replace(partial, options["out"])  # never leave a half-written file behind
        except BaseException as error:
            if os.path.exists(partial):
                os.remove(partial)
            if isinstance(error, OSError):  # disk full, permissions, a directory in the way
                raise CommandError(
                    f"Cannot write {options['out']!r}: {error.strerror or error}."
                ) from None
            raise
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['out']} ({written:,} bytes, {fmt})."))

    @staticmethod
    def _check_out(out: str) -> None:
        """Refuse a path that cannot be written before any query runs."""
        directory = os.path.dirname(os.path.abspath(out))
        if os.path.isdir(out):
            raise CommandError(f"--out {out!r} is a directory; give a file name.")
        if not os.path.exists(directory):
            raise CommandError(f"The directory of --out {out!r} does not exist: {directory}.")
        if not os.path.isdir(directory):
            raise CommandError(f"The directory of --out {out!r} is not a directory: {directory}.")

    @staticmethod
    def _filtered(table: str, filters: list[str]) -> QuerySet[Any] | None:
        if not filters:
            return None
        data = {}
        for item in filters:
            name, sep, value = item.partition("=")
            if not sep or not name:
                raise ApplicationError(f"--filter takes NAME=VALUE, not {item!r}.")
            data[name] = value
        model = get_table(table).model
        # The filters of the table's API list endpoint, found through the URLconf (the router
        # names it "<model name>-list"): the core does not import the project's router.
        view = resolve(reverse(f"{model._meta.model_name}-list")).func
        viewset = view.cls  # type: ignore[attr-defined]  # set by DRF's as_view()
        filterset_class = viewset.filterset_class
        unknown = sorted(set(data) - set(filterset_class.base_filters))
        if unknown:
            raise ApplicationError(
                f"Unknown filter(s) {', '.join(unknown)} for {table}; known: "
                f"{', '.join(sorted(filterset_class.base_filters))}."
            )
        filterset = filterset_class(data=data, queryset=model._default_manager.all())
        if not filterset.is_valid():
            problems = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in filterset.errors.items()
            )
            raise ApplicationError(f"Invalid filter: {problems}")
        filtered: QuerySet[Any] = filterset.qs
        return filtered
