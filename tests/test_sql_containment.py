"""Raw SQL stays where it can be seen (issue 15 item 3).

- Hand-written SQL runs only from each app's one SQL module (``<app>/sql.py``, or the modules of
  an ``<app>/sql/`` package when it outgrows one file), or from the few modules allow-listed
  below, each with its reason.
- No table name of a model is written out anywhere outside migrations, tests and benchmarks:
  SQL takes it from ``Model._meta.db_table`` (a renamed table cannot leave a stale copy).
- No private Django attributes set or read by hand (QuerySet caches, prefetch caches).

The checks read the source files: they fail on the line that breaks the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {"migrations", "tests", "bench", "node_modules", "__pycache__"}

# Running SQL by hand: a cursor, Django's raw-SQL doors, and core.dataio.stage's helpers.
RAW_SQL = re.compile(
    r"\.cursor\(|\.execute\(|\.executemany\(|\bRawSQL\b|\.raw\(|\.extra\("
    r"|(?<![\w.])(execute|fetch_value|fetch_all|fetch_iter)\("
)

# Modules that may run SQL although they are not an app's SQL module, and why.
RAW_SQL_ALLOWED = {
    "core/ops/health.py": "the readiness probe's SELECT 1: it checks the connection, no table",
    "core/ops/database.py": "sets the session's statement_timeout (set_config): no table",
    "scripts/create_database.py": "runs before Django (psycopg, CREATE DATABASE)",
    "scripts/check_services.py": "runs before Django (psycopg, SELECT 1)",
    "core/dataio/stage.py": "the import's staging tables (temporary, per import): its SQL layer",
    "core/dataio/upsert.py": "the import's set-based upsert from a staging table (composed)",
    "core/dataio/importer.py": "fills the staging table (executemany): part of the SQL layer",
    "core/dataio/errorlog.py": "the rejected rows' side table (executemany): the import's SQL",
    "core/migration_operations.py": "migration operations: DDL through the schema editor",
    "core/ops/replicas.py": "replication state (WAL positions, lag): server functions, no table",
    "core/dataio/exporter.py": "the export's server-side cursor over a queryset's own SQL",
    # Each file import's set-based statements, next to the columns they serve.
    "products/tables.py": "the products file import's SQL (staging table to products, ledger)",
    "sales/tables.py": "the sales file import's SQL (staging table to sales and lines)",
    "demo/seed.py": "the demo loader's transaction and COPY around demo/sql.py's statements",
}

PRIVATE_ATTRIBUTES = re.compile(r"\._result_cache\b|\._prefetch_done\b|\._prefetched_objects_cache")


def _sources():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        parts = relative.parts[:-1]
        if any(part in SKIPPED_DIRS or part.startswith(".") for part in parts):
            continue
        yield relative.as_posix(), path.read_text(encoding="utf-8")


def _code_lines(text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(("#", "def ")):
            continue
        yield number, line


def _is_sql_module(name: str) -> bool:
    """``<app>/sql.py``, or a module right inside an ``<app>/sql/`` package (not deeper)."""
    parts = name.split("/")
    if parts[-1] == "sql.py":
        return True
    return len(parts) >= 3 and parts[-2] == "sql"


def test_the_sql_module_rule():
    assert _is_sql_module("products/sql.py")
    assert _is_sql_module("analytics/sql/rollups.py")
    assert _is_sql_module("analytics/sql/__init__.py")
    assert not _is_sql_module("analytics/sqlite.py")
    assert not _is_sql_module("analytics/sql_helpers.py")
    assert not _is_sql_module("analytics/selectors/sql_parts.py")
    assert not _is_sql_module("analytics/sql/deeper/module.py")
    assert not _is_sql_module("sql/module.py")  # a top-level package is not an app's SQL


def test_the_scan_sees_the_sql_modules():
    names = {name for name, _ in _sources()}
    assert {"analytics/sql/rollups.py", "analytics/sql/reports.py"} <= names
    assert {"products/sql.py", "sales/sql.py"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    assert not any("/migrations/" in name for name in names)


def test_raw_sql_runs_only_from_the_sql_modules():
    breaches = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _sources()
        if not _is_sql_module(name) and name not in RAW_SQL_ALLOWED
        for number, line in _code_lines(text)
        if RAW_SQL.search(line)
    ]
    assert breaches == [], "raw SQL outside an app's sql.py or sql/:\n" + "\n".join(breaches)


def test_the_allow_list_names_existing_modules_that_run_sql():
    sources = dict(_sources())
    stale = [
        name
        for name in RAW_SQL_ALLOWED
        if name not in sources
        or not any(RAW_SQL.search(line) for _, line in _code_lines(sources[name]))
    ]
    assert stale == [], f"allow-listed but running no SQL (drop them): {stale}"


def test_no_table_name_is_written_out():
    tables = sorted(
        {model._meta.db_table for model in apps.get_models(include_auto_created=True)},
        key=len,
        reverse=True,
    )
    literal = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, tables)) + r")(?!\w)")
    breaches = [
        f"{name}:{number}: {match.group(1)}"
        for name, text in _sources()
        for number, line in enumerate(text.splitlines(), start=1)
        for match in literal.finditer(line)
    ]
    assert breaches == [], "table names written out (use Model._meta.db_table):\n" + "\n".join(
        breaches
    )


def test_no_private_django_attributes():
    breaches = [
        f"{name}:{number}: {line.strip()}"
        for name, text in _sources()
        for number, line in enumerate(text.splitlines(), start=1)
        if PRIVATE_ATTRIBUTES.search(line)
    ]
    assert breaches == [], "private Django attributes:\n" + "\n".join(breaches)
