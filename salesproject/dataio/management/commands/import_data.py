import os
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from salesproject.dataio.formats import FORMATS, format_from_name
from salesproject.dataio.importer import DEFAULT_BATCH_SIZE, ON_ERROR_CHOICES, ImportOptions
from salesproject.dataio.services import data_import
from salesproject.dataio.tables import TABLES
from salesproject.errors import ApplicationError

EXIT_REJECTED_ROWS = 2


class Command(BaseCommand):
    help = (
        "Import customers, categories, products or sales from a CSV (UTF-8; comma, semicolon or "
        "tab), XLSX or JSON file. Rows are matched by natural key (customer email, category "
        "name, product sku, sale reference), so importing the same file again updates instead "
        "of duplicating. Sales files have one row per sale line: reference, sold_at, "
        "customer_email, sku, quantity, unit_price (optional status); they record history and "
        "leave stock alone unless --apply-stock. With --on-error abort (the default) one bad "
        "row means nothing is written. Exit status: 0 done, 1 failed (nothing written), 2 done "
        "but some rows were rejected (--on-error skip)."
    )

    def add_arguments(self, parser):
        parser.add_argument("table", choices=list(TABLES), help="What the file holds.")
        parser.add_argument("file", help="The file to import.")
        parser.add_argument(
            "--format", choices=FORMATS, help="csv, xlsx or json (default: from the extension)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and count; write nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows validated and loaded at a time (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--on-error",
            choices=ON_ERROR_CHOICES,
            default="abort",
            help="abort: nothing is written if any row is bad (default); skip: import the good "
            "rows (a sale with one bad line is left out whole) and report the others.",
        )
        parser.add_argument(
            "--errors-out", metavar="FILE", help="Write the rejected rows, with the reason, as CSV."
        )
        parser.add_argument(
            "--apply-stock",
            action="store_true",
            help="Sales only: take the stock of new sales (and return that of cancellations) "
            "through the catalog; a sale that would oversell is refused.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"No such file: {path}")
        if options["apply_stock"] and options["table"] != "sales":
            raise CommandError("--apply-stock is for sales files only.")
        errors_out = None
        try:
            fmt = format_from_name(path, options["format"])
            if options["errors_out"]:
                errors_out = open(options["errors_out"], "w", encoding="utf-8", newline="")  # noqa: SIM115
            size = os.path.getsize(path)
            bar = tqdm(
                total=size if fmt != "xlsx" else None,
                unit="B" if fmt != "xlsx" else " rows",
                unit_scale=True,
                desc=f"Importing {options['table']}",
                disable=options["no_progress"],
                file=sys.stderr,
            )

            def progress(rows: int, bytes_read: int) -> None:
                bar.update((bytes_read if fmt != "xlsx" else rows) - bar.n)
                bar.set_postfix(rows=rows, refresh=False)

            import_options = ImportOptions(
                dry_run=options["dry_run"],
                on_error=options["on_error"],
                batch_size=options["batch_size"],
                apply_stock=options["apply_stock"],
                source_name=os.path.basename(path),
                errors_out=errors_out,
                progress=progress,
            )
            with open(path, "rb") as source, bar:
                report = data_import(
                    table=options["table"], source=source, fmt=fmt, options=import_options
                )
        except ApplicationError as error:
            raise CommandError(error.message) from None
        finally:
            if errors_out is not None:
                errors_out.close()
        for error in report.errors[:20]:
            self.stderr.write(f"  {str(error)[0].upper()}{str(error)[1:]}")
        if report.error_count > 20:
            self.stderr.write(f"  … and {report.error_count - 20} more errors.")
        if options["errors_out"] and report.error_count:
            self.stderr.write(f"Rejected rows written to {options['errors_out']}.")
        if report.aborted:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
        if report.rejected:
            sys.exit(EXIT_REJECTED_ROWS)
