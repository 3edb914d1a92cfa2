"""``python manage.py seed_demo``: realistic, deterministic demo data (see the demo package)."""

from __future__ import annotations

import sys
import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from demo.options import DEFAULTS, DemoDataError, DemoOptions
from demo.seed import (
    BULK_FOREIGN_KEY_THRESHOLD,
    OPENING_STOCK_REFERENCE,
    SALES_MOVEMENT_REFERENCE,
    seed_demo_data,
)
from demo.tables import existing_data_counts
from demo.users import demo_users_ensure
from demo.vocabulary import CATEGORY_TEMPLATES


def _anchor_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        message = f"--anchor-date must be a date like 2025-01-31, not {value!r}."
        raise CommandError(message) from None


class Command(BaseCommand):
    help = (
        "Fill the database with realistic demo data: customers (names, unique emails, phones, "
        "cities in 10 countries, segments), categories, products (unique SKUs, prices with "
        "20-60% margins, stock) and --days days of sales before the anchor day (today at "
        "00:00 UTC unless --anchor-date is given), with "
        "seasonality (December peak, summer dip, busy weekends, Black Friday, slow growth), "
        "1-5 lines per sale, ~8% of sales without customer and ~3% cancelled. The same --seed, "
        "sizes and anchor day give the same data. The stock ledger stays balanced: per product one "
        f"'restock' movement ({OPENING_STOCK_REFERENCE!r}) and one 'sale' movement "
        f"({SALES_MOVEMENT_REFERENCE!r}). Loads with COPY on PostgreSQL (1,000,000 sales in "
        "about a minute), batched inserts on SQLite, all in one transaction."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sizes = parser.add_argument_group("sizes and randomness")
        sizes.add_argument(
            "--seed",
            type=int,
            default=DEFAULTS["seed"],
            help=(
                "Random seed; the same seed, sizes and anchor day give the same data "
                "(default: %(default)s)."
            ),
        )
        sizes.add_argument(
            "--customers",
            type=int,
            default=DEFAULTS["customers"],
            help="Number of customers to create, 0 or more (default: %(default)s).",
        )
        sizes.add_argument(
            "--categories",
            type=int,
            default=DEFAULTS["categories"],
            help=(
                f"Number of product categories, taken from a built-in list of "
                f"{len(CATEGORY_TEMPLATES)} (Electronics, Books, ...); existing categories of "
                "the same name are reused (default: %(default)s)."
            ),
        )
        sizes.add_argument(
            "--products",
            type=int,
            default=DEFAULTS["products"],
            help="Number of products to create; at least 1 if --sales > 0 (default: %(default)s).",
        )
        sizes.add_argument(
            "--sales",
            type=int,
            default=DEFAULTS["sales"],
            help=(
                "Number of sales to create, about 2.5 lines each (default: %(default)s). "
                "1000000 is a benchmark size for PostgreSQL."
            ),
        )
        sizes.add_argument(
            "--days",
            type=int,
            default=DEFAULTS["days"],
            help=(
                "Sales fall on this many days before the anchor day, between 08:00 and 20:00 "
                "UTC (default: %(default)s, two years)."
            ),
        )
        sizes.add_argument(
            "--anchor-date",
            metavar="YYYY-MM-DD",
            default=None,
            help=(
                "The anchor day: sales end at its 00:00 UTC. Default: today (UTC), so the "
                "dates depend on the day the command runs; give a fixed date for data that is "
                "identical whatever the day."
            ),
        )
        behaviour = parser.add_argument_group("behaviour")
        behaviour.add_argument(
            "--reset",
            action="store_true",
            help=(
                "Delete all existing sales, sale lines, stock movements, products, categories "
                "and customers first, and every table that references them (e.g. the catalog "
                "outbox). Without it the "
                "command refuses to run when the database already has sales, customers or "
                "products."
            ),
        )
        behaviour.add_argument(
            "--if-empty",
            action="store_true",
            help=(
                "Do nothing (and exit 0) when the database already has sales, customers or "
                "products; for start-up scripts such as `make run`."
            ),
        )
        behaviour.add_argument(
            "--with-users",
            action="store_true",
            help=(
                "Also create (or refresh) the demo logins: superuser admin/admin and staff users "
                "analyst/analyst, sales/sales and manager/manager in the groups of the same names. "
                "Passwords are reset to these values."
            ),
        )
        behaviour.add_argument(
            "--keep-foreign-keys",
            action="store_true",
            help=(
                f"PostgreSQL, from {BULK_FOREIGN_KEY_THRESHOLD} sales: keep the foreign keys of "
                "the sales tables and let PostgreSQL check them row by row (about 1.5x slower). "
                "By default they are dropped for the load and re-added, which checks every row "
                "at once, in the same transaction; indexes are always kept."
            ),
        )
        behaviour.add_argument(
            "--no-progress",
            action="store_true",
            help="Do not show the progress bar (it is written to stderr).",
        )

    def handle(self, *args, **options) -> None:
        anchor = options.get("anchor_date")
        if isinstance(anchor, str):
            anchor = _anchor_date(anchor)
        demo = DemoOptions(
            seed=options["seed"],
            customers=options["customers"],
            products=options["products"],
            categories=options["categories"],
            sales=options["sales"],
            days=options["days"],
            anchor=anchor,
        )
        problems = demo.errors()
        if options["reset"] and options["if_empty"]:
            problems.append("--reset and --if-empty cannot be used together.")
        if problems:
            raise CommandError("\n".join(problems))

        existing = {name: n for name, n in existing_data_counts().items() if n}
        if existing and not options["reset"]:
            found = ", ".join(f"{n} {name}" for name, n in existing.items())
            if options["if_empty"]:
                self.stdout.write(f"The database already has data ({found}); nothing seeded.")
                return
            raise CommandError(
                f"The database already has data ({found}); use --reset to replace it with "
                "demo data (this deletes it), or --if-empty to skip seeding."
            )

        show_progress = not options["no_progress"] and options["verbosity"] > 0
        bar = tqdm(
            total=demo.sales,
            desc="seed_demo sales",
            unit=" sales",
            unit_scale=True,
            file=getattr(self.stderr, "_out", sys.stderr),
            disable=not show_progress,
            dynamic_ncols=True,
        )
        started = time.perf_counter()
        try:
            with bar:
                result = seed_demo_data(
                    options=demo,
                    reset=options["reset"],
                    progress=bar.update,
                    bulk_foreign_keys=False if options["keep_foreign_keys"] else None,
                )
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started

        if result.deleted:
            gone = ", ".join(f"{n} {name}" for name, n in result.deleted.items() if n)
            self.stdout.write(f"Deleted {gone or 'nothing'}.")
        load = max(result.seconds, 1e-9)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {result.customers} customers, {result.categories} categories, "
                f"{result.products} products, {result.sales} sales ({result.cancelled} "
                f"cancelled, {result.without_customer} without customer), {result.lines} sale "
                f"lines and {result.movements} stock movements in {result.seconds:.1f} s "
                f"({result.sales / load:,.0f} sales/s, {result.lines / load:,.0f} lines/s); "
                f"ANALYZE {result.analyze_seconds:.1f} s; analytics rollups rebuilt in "
                f"{result.rollup_seconds:.1f} s; total {elapsed:.1f} s."
            )
        )
        self.stdout.write(
            f"Sales from {result.start} to the day before {result.anchor} (anchor "
            f"{result.anchor} 00:00 UTC), seed {demo.seed}."
        )

        if options["with_users"]:
            try:
                logins = demo_users_ensure()
            except DemoDataError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write("Demo logins (username / password):")
            for username, password, role in logins:
                self.stdout.write(f"  {username} / {password}  ({role})")
