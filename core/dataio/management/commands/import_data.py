import os
import sys
from argparse import ArgumentParser, RawDescriptionHelpFormatter
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.dataio.errorlog import ERROR_COLUMNS, ERROR_PREFIX
from core.dataio.formats import FORMATS, format_from_name
from core.dataio.importer import DEFAULT_BATCH_SIZE, ON_ERROR_CHOICES, ImportOptions
from core.dataio.services import data_import
from core.dataio.tables import TABLES
from core.errors import ApplicationError

EXIT_REJECTED_ROWS = 3  # 2 is argparse's usage error

EPILOG = f"""\
Exit status:
  0  done: every row imported (or, with --dry-run, would be)
  1  failed: nothing was written (a bad file, or a bad row with --on-error abort)
  2  usage error: wrong arguments (argparse)
  3  done with rejected rows (--on-error skip): the good rows were imported

Errors file (--errors-out): the rejected rows in file order, their cells exactly as in the
file, then the columns {", ".join(ERROR_COLUMNS)}
(the row, the column(s), the reasons). The first IMPORT_ERRORS_KEPT rejected rows are written
(all are counted). An import ignores every column whose name starts with {ERROR_PREFIX}:
fix the cells and import the errors file as it is.
"""


class Command(BaseCommand):
    help = (
        "Import customers, categories, products or sales from a CSV (UTF-8; comma, semicolon or "
        "tab), XLSX or JSON file. Rows are matched by natural key (customer email, category "
        "name, product sku, sale reference), so importing the same file again updates instead "
        "of duplicating. Sales files have one row per sale line: reference, sold_at, "
        "customer_email, sku, quantity, unit_price (optional status); they record history and "
        "leave stock alone unless --apply-stock. With --on-error abort (the default) one bad "
        "row means nothing is written. Columns named _error… are ignored (the errors file imports "
        "again as it is)."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = EPILOG
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: ArgumentParser) -> None:
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
            "--errors-out",
            metavar="FILE",
            help="Write the rejected rows as CSV, as they were in the file, with the reason in "
            "_error… columns that an import ignores (see below).",
        )
        parser.add_argument(
            "--apply-stock",
            action="store_true",
            help="Sales only: take the stock of new sales (and return that of cancellations) "
            "through the catalog; a sale that would oversell is refused.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
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
            title = f"Importing {options['table']}"
            bar = tqdm(
                total=size,
                unit="B",
                unit_scale=True,
                desc=title,
                disable=options["no_progress"],
                file=sys.stderr,
            )

            def progress(rows: int, bytes_read: int) -> None:  # bytes for every format
                bar.update(min(bytes_read, size) - bar.n)
                bar.set_postfix_str(f"rows={rows:,}", refresh=False)

            def phase(name: str) -> None:  # reading, checking, writing, applying stock
                if name != "reading":
                    bar.update(size - bar.n)
                bar.set_description(f"{title}: {name}")

            import_options = ImportOptions(
                dry_run=options["dry_run"],
                on_error=options["on_error"],
                batch_size=options["batch_size"],
                apply_stock=options["apply_stock"],
                source_name=os.path.basename(path),
                errors_out=errors_out,
                progress=progress,
                phase=phase,
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
        for row_error in report.errors[:20]:
            self.stderr.write(f"  {str(row_error)[0].upper()}{str(row_error)[1:]}")
        if report.error_count > 20:
            self.stderr.write(f"  … and {report.error_count - 20} more errors.")
        if options["errors_out"] and report.error_count:
            self.stderr.write(f"Rejected rows written to {options['errors_out']}.")
        if report.aborted:
            raise CommandError(report.summary())
        self.stdout.write(self.style.SUCCESS(report.summary()))
        if report.rejected:
            sys.exit(EXIT_REJECTED_ROWS)
