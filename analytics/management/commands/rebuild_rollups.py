"""``python manage.py rebuild_rollups``: recompute the analytics rollups from the sales tables."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from analytics.services import rollups_rebuild
from analytics.tasks import recent_days


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date like 2025-01-31, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Rebuild the analytics rollups (daily sales per day, product, customer and category) "
        "from the sales tables: the rows of the local days --from..--to (inclusive, in "
        "TIME_ZONE) are recomputed from the completed sales and corrected where they differ, "
        "in one transaction, with set-based SQL. Without --from and --to: the whole sales "
        "history, and every product is counted under its current category again (run it "
        "after moving products to other categories). With only one of them, the other is "
        "the first or last sale day. Sales being recorded meanwhile wait for it (about 15 s "
        "per million sales); analytics reads go on. Needed after writing sales behind the "
        "services' back (SQL, restores); the services, the import and seed_demo keep the "
        "rollups exact themselves. --days-back N rebuilds the N whole local days before "
        "today, as the daily beat task refresh_recent_rollups_task does for yesterday."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="date_from",
            metavar="YYYY-MM-DD",
            help="First local day to rebuild (default: the first sale's day).",
        )
        parser.add_argument(
            "--to",
            dest="date_to",
            metavar="YYYY-MM-DD",
            help="Last local day to rebuild, inclusive (default: the last sale's day).",
        )
        parser.add_argument(
            "--days-back",
            type=int,
            metavar="N",
            help="Rebuild the N whole local days before today (1: yesterday); not with "
            "--from/--to.",
        )

    def handle(self, *args, **options) -> None:
        date_from = _day("--from", options["date_from"])
        date_to = _day("--to", options["date_to"])
        if options["days_back"] is not None:
            if date_from or date_to:
                raise CommandError("--days-back cannot be combined with --from or --to.")
            if options["days_back"] < 1:
                raise CommandError("--days-back must be at least 1.")
            date_from, date_to = recent_days(options["days_back"])
        if date_from and date_to and date_from > date_to:
            raise CommandError(f"--from {date_from} is after --to {date_to}.")
        what = (
            "the whole sales history"
            if date_from is None and date_to is None
            else f"{date_from or 'the first sale day'} to {date_to or 'the last sale day'}"
        )
        self.stdout.write(f"Rebuilding the analytics rollups for {what} ...")
        stats = rollups_rebuild(date_from=date_from, date_to=date_to)
        rows = ", ".join(f"{n:,} {table}" for table, n in stats.rows.items()) or "no rows"
        span = (
            f"{stats.date_from} to {stats.date_to}"
            if stats.date_from and stats.date_to
            else "no sales"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt the rollups of {span} in {stats.seconds:.1f} s: {rows}; "
                f"{stats.fixed:,} rows corrected ({stats.deleted:,} deleted, "
                f"{stats.updated:,} updated, {stats.inserted:,} inserted)."
            )
        )
