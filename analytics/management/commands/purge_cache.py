"""``python manage.py purge_cache``: delete the cache keys of stale generations now."""

from __future__ import annotations

from argparse import ArgumentTypeError

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.ops.caching import CachePurgeRefused, purge_stale_cache_generations


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise ArgumentTypeError("it must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise ArgumentTypeError("it must not be negative")
    return value


class Command(BaseCommand):
    help = (
        "Delete the cached answers of old cache generations (analytics:g{N}:… with N below the "
        "current generation) from Redis: SCAN with the cache's key prefix, then UNLINK in "
        "batches, on the cache's own database only (never KEYS or FLUSHDB, never the Celery "
        "broker's database). The current generation and every other cache key stay. Safe at "
        "any time; a no-op on the local-memory cache. The Celery beat task "
        "purge_stale_cache_task does the same every 10 minutes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch",
            type=_positive_int,
            default=500,
            help="Keys per UNLINK command (default 500).",
        )
        parser.add_argument(
            "--pause",
            type=_seconds,
            default=0.0,
            metavar="SECONDS",
            help="Sleep between batches, to leave Redis more room for other clients on a huge "
            "purge (default 0).",
        )

    def handle(self, *args, **options) -> None:
        try:
            stats = purge_stale_cache_generations(batch=options["batch"], pause=options["pause"])
        except CachePurgeRefused as exc:
            raise CommandError(str(exc)) from None
        if stats.skipped:
            self.stdout.write(f"Nothing purged: {stats.skipped}.")
            return
        kept = ", ".join(
            f"{namespace} g{generation}" if generation is not None else f"{namespace} (no counter)"
            for namespace, generation in stats.generations.items()
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {stats.deleted:,} stale cache key(s) of {stats.scanned:,} scanned in "
                f"{stats.seconds:.2f} s; kept the current generation ({kept})."
            )
        )
