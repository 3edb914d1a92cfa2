"""Where a sales import's time goes (issue 20): the reference file imported in process, with the
server's CPU (the backend's, read from /proc) beside the wall time of each phase and of each
statement, and the client's CPU. Needs the databases and the file ``make bench-import`` makes.

    .venv/bin/python bench/import_profile.py                  # or: make bench-import-profile
    .venv/bin/python bench/import_profile.py --per-row        # IMPORT_COLUMNAR_PARSE off
    .venv/bin/python bench/import_profile.py --runs 3 --top 15

Each run: a fresh copy of ``sales_bench_import_empty`` (after a CHECKPOINT), the file imported
into it, then the same file again (nothing changes: the re-import). The database server must
run on this machine (its backend's /proc/<pid>/stat). The COPY into the staging table goes
through psycopg's own COPY, so it is in its phase ("reading") but not in the statements.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from files_import_export import EMPTY_DB, WORK_DIR, db_url, fresh_copy

ROOT = Path(__file__).resolve().parent.parent
PROFILE_DB = "sales_bench_import_profile"


def backend_cpu(pid: int) -> float:
    """User + system seconds of a local process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Profile:
    """Wall and server CPU per phase (ImportOptions.phase) and per statement."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.phases: list[list[Any]] = []  # [name, wall, server CPU]
        self.statements: dict[str, list[float]] = {}  # first words -> [count, wall, server]
        self._mark = (time.perf_counter(), backend_cpu(pid))

    def phase(self, name: str) -> None:
        self._close()
        self.phases.append([name, 0.0, 0.0])

    def _close(self) -> None:
        now = (time.perf_counter(), backend_cpu(self.pid))
        if self.phases:
            self.phases[-1][1] += now[0] - self._mark[0]
            self.phases[-1][2] += now[1] - self._mark[1]
        self._mark = now

    def finish(self) -> None:
        self._close()

    def wrapper(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started, server = time.perf_counter(), backend_cpu(self.pid)
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:110]
            entry = self.statements.setdefault(key, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += time.perf_counter() - started
            entry[2] += backend_cpu(self.pid) - server


def run(path: Path, top: int) -> list[dict[str, Any]]:
    from django.db import connection

    from core.dataio.importer import ImportOptions
    from core.dataio.services import data_import

    results = []
    for label in ("first import (empty tables)", "the same file again"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        profile = Profile(pid)
        server0, client0, started = backend_cpu(pid), client_cpu(), time.perf_counter()
        with connection.execute_wrapper(profile.wrapper), path.open("rb") as source:
            report = data_import(
                table="sales", source=source, fmt="csv", options=ImportOptions(phase=profile.phase)
            )
        profile.finish()
        wall = time.perf_counter() - started
        server, client = backend_cpu(pid) - server0, client_cpu() - client0
        print(f"\n## {label}: {report.summary()}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"wall {wall:.2f} s ({report.rows / wall:,.0f} lines/s); server CPU {server:.2f} s; "
            f"client CPU {client:.2f} s; peak RSS {peak:.0f} MB"
        )
        print("\n| phase | wall | server CPU |\n| --- | ---: | ---: |")
        for name, phase_wall, phase_server in profile.phases:
            print(f"| {name} | {phase_wall:.2f} s | {phase_server:.2f} s |")
        print(f"\n| statement (the {top} most server CPU) | runs | wall | server CPU |")
        print("| --- | ---: | ---: | ---: |")
        ranked = sorted(profile.statements.items(), key=lambda item: -item[1][2])
        for sql, (count, statement_wall, statement_server) in ranked[:top]:
            print(f"| `{sql}` | {count} | {statement_wall:.2f} s | {statement_server:.2f} s |")
        results.append({"label": label, "wall": wall, "server": server, "client": client})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--file", type=Path, default=WORK_DIR / "sales.csv")
    parser.add_argument("--per-row", action="store_true", help="IMPORT_COLUMNAR_PARSE=false")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--top", type=int, default=12, help="statements listed")
    args = parser.parse_args()
    if not args.file.exists():
        print(f"{args.file} is missing: run make bench-import first.", file=sys.stderr)
        return 2
    os.environ.update(
        DATABASE_URL=db_url(args.pg_url, PROFILE_DB),
        READ_DOT_ENV="false",
        LOG_LEVEL="warning",
        CACHE_KEY_PREFIX="bench_import_profile",
        IMPORT_COLUMNAR_PARSE="false" if args.per_row else "true",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")
    # The project first, and not bench/ (its analytics.py would shadow the analytics app, a
    # namespace package: a module found anywhere on the path wins over one).
    here = Path(__file__).resolve().parent
    sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != here)]
    os.chdir(ROOT)  # Celery's Django fixup puts the working directory first on sys.path
    import django

    summary = []
    for number in range(1, args.runs + 1):
        fresh_copy(args.pg_url, EMPTY_DB, PROFILE_DB)
        if number == 1:
            django.setup()
        print(f"\n# run {number} of {args.runs} ({'per row' if args.per_row else 'columnar'})")
        summary += run(args.file, args.top)
        from django.db import connection

        connection.close()  # the next run drops the database
    print("\n| run | import | wall | server CPU | client CPU |\n| --- | --- | ---: | ---: | ---: |")
    for index, result in enumerate(summary):
        print(
            f"| {index // 2 + 1} | {result['label']} | {result['wall']:.2f} s | "
            f"{result['server']:.2f} s | {result['client']:.2f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
