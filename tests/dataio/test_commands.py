"""import_data and export_data: through call_command, and in a real process for exit codes."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command, load_command_class
from django.db import connection

from customers.models import Customer
from products.models import Product
from sales.models import Sale
from tests.dataio import (
    SALE_HEADER,
    csv_bytes,
    database_state,
    export_bytes,
    row_counts,
)
from tests.factories import make_customer

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD = csv_bytes([["email", "name"], ["n1@example.com", "N1"], ["n2@example.com", "N2"]])
MIXED = csv_bytes([["email", "name"], ["n1@example.com", "N1"], ["bad", "X"]])


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run_import(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_data", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_import_prints_the_summary(small, tmp_path):
    out, _ = run_import("customers", write(tmp_path, "c.csv", GOOD))
    assert "customers: 2 rows read; rows created 2, updated 0, unchanged 0; rows rejected 0" in out
    assert "rows/s" in out
    assert Customer.objects.filter(email__in=["n1@example.com", "n2@example.com"]).count() == 2
    out, _ = run_import("customers", write(tmp_path, "c.csv", GOOD))
    assert "created 0, updated 0, unchanged 2" in out


@pytest.mark.django_db
def test_an_aborted_import_fails_and_writes_nothing(small, tmp_path):
    before = database_state()
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match=r"Nothing was written: 1 of 2 rows have errors"):
        call_command(
            "import_data",
            "customers",
            write(tmp_path, "c.csv", MIXED),
            "--no-progress",
            stdout=out,
            stderr=err,
        )
    assert "Row 3, column email: email 'bad' is not a valid email address." in err.getvalue()
    assert database_state() == before


@pytest.mark.django_db
def test_skip_with_rejections_exits_3_and_writes_the_errors_file(small, tmp_path):
    errors = tmp_path / "errors.csv"
    with pytest.raises(SystemExit) as exited:
        run_import(
            "customers",
            write(tmp_path, "c.csv", MIXED),
            "--on-error",
            "skip",
            "--errors-out",
            str(errors),
        )
    assert exited.value.code == 3
    assert Customer.objects.filter(email="n1@example.com").exists()
    rows = list(csv.reader(errors.open(encoding="utf-8")))
    assert rows == [
        ["email", "name", "_error_row", "_error_column", "_error"],  # the file's own columns
        ["bad", "X", "3", "email", "email 'bad' is not a valid email address."],
    ]


@pytest.mark.django_db
def test_dry_run(small, tmp_path):
    before = database_state()
    out, _ = run_import("customers", write(tmp_path, "c.csv", GOOD), "--dry-run")
    assert "would be created 2" in out and "Dry run: nothing was written." in out
    assert database_state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--batch-size", "0"), r"batch_size must be between 1 and 100000"),
        (("--batch-size", "100001"), r"batch_size must be between 1 and 100000"),
    ],
)
def test_batch_size_is_validated(small, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        run_import("customers", write(tmp_path, "c.csv", GOOD), *args)
    assert not Customer.objects.filter(email="n1@example.com").exists()


@pytest.mark.django_db
def test_a_small_batch_size_gives_the_same_result(small, tmp_path):
    out, _ = run_import("customers", write(tmp_path, "c.csv", GOOD), "--batch-size", "1")
    assert "created 2" in out


@pytest.mark.django_db
def test_format_override_and_unknown_extension(small, tmp_path):
    path = write(tmp_path, "customers.txt", GOOD)
    with pytest.raises(CommandError, match=r"Cannot tell the format of .*customers.txt.*csv, xlsx"):
        run_import("customers", path)
    out, _ = run_import("customers", path, "--format", "csv")
    assert "created 2" in out
    json_named_csv = write(tmp_path, "x.csv", b'[{"email": "j@example.com", "name": "J"}]')
    out, _ = run_import("customers", json_named_csv, "--format", "json")
    assert "created 1" in out


@pytest.mark.django_db
def test_a_missing_file_or_apply_stock_on_another_table_is_an_error(small, tmp_path):
    with pytest.raises(CommandError, match=r"No such file: .*nope.csv"):
        run_import("customers", str(tmp_path / "nope.csv"))
    with pytest.raises(CommandError, match=r"--apply-stock is for sales files only"):
        run_import("customers", write(tmp_path, "c.csv", GOOD), "--apply-stock")
    with pytest.raises(CommandError, match=r"The file is empty"):
        run_import("customers", write(tmp_path, "e.csv", b""))


@pytest.mark.django_db
def test_import_sales_with_apply_stock(small, tmp_path):
    data = csv_bytes(
        [SALE_HEADER[:-1], ["C-1", "2025-01-01T00:00:00Z", "", "HAM-001", "2", "12.50"]]
    )
    out, _ = run_import("sales", write(tmp_path, "s.csv", data), "--apply-stock")
    assert "sales created 1" in out
    assert Product.objects.get(sku="HAM-001").stock_quantity == 7


@pytest.mark.django_db
def test_export_with_a_real_filter(dataset, tmp_path):
    out = tmp_path / "cancelled.csv"
    call_command(
        "export_data",
        "sales",
        "--out",
        str(out),
        "--filter",
        "status=cancelled",
        "--no-progress",
        stdout=StringIO(),
    )
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(SALE_HEADER)
    assert len(lines) == 3 and all(line.startswith("S-CANCELLED,") for line in lines[1:])
    customers = tmp_path / "fr.json"
    call_command(
        "export_data",
        "customers",
        "--out",
        str(customers),
        "--filter",
        "country=FR",
        "--no-progress",
        stdout=StringIO(),
    )
    import json

    assert [row["email"] for row in json.loads(customers.read_bytes())] == [
        "Alice.Martin@Example.com"
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (["nope=1"], r"Unknown filter\(s\) nope for sales; known: .*status"),
        (["status=bogus"], r"Invalid filter: status"),
        (["status"], r"--filter takes NAME=VALUE, not 'status'"),
    ],
)
def test_export_refuses_bad_filters_and_leaves_no_file(small, tmp_path, filters, message):
    out = tmp_path / "sales.csv"
    args = [arg for item in filters for arg in ("--filter", item)]
    with pytest.raises(CommandError, match=message):
        call_command("export_data", "sales", "--out", str(out), *args, "--no-progress")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_failed_export_leaves_no_partial_file(small, tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep").write_text("x")
    with pytest.raises(CommandError, match=r"--out .*taken.* is a directory"):
        call_command(
            "export_data",
            "products",
            "--out",
            str(target),
            "--format",
            "csv",
            "--no-progress",
            stdout=StringIO(),
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]
    assert (target / "keep").read_text() == "x"


@pytest.mark.django_db
def test_export_unknown_extension_is_an_error(small, tmp_path):
    with pytest.raises(CommandError, match=r"Cannot tell the format"):
        call_command("export_data", "sales", "--out", str(tmp_path / "x.dat"), "--no-progress")
    out = tmp_path / "x.dat"
    call_command(
        "export_data",
        "categories",
        "--out",
        str(out),
        "--format",
        "json",
        "--no-progress",
        stdout=StringIO(),
    )
    assert out.read_bytes() == export_bytes("categories", "json")


@pytest.mark.django_db
def test_export_to_a_missing_directory_is_a_command_error(small, tmp_path):
    """Issue 14 item 8: a CommandError naming the path (exit 1, no traceback), nothing written."""
    out = tmp_path / "nonexistent" / "dir" / "x.csv"
    with pytest.raises(CommandError, match=r"--out .*nonexistent/dir.* does not exist"):
        call_command("export_data", "sales", "--out", str(out), "--no-progress")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_export_under_a_file_is_a_command_error(small, tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(CommandError, match=r"--out .*plain.* is not a directory"):
        call_command(
            "export_data", "sales", "--out", str(tmp_path / "plain" / "x.csv"), "--no-progress"
        )
    assert (tmp_path / "plain").read_text() == "x"


@pytest.mark.parametrize("name", ["import_data", "export_data"])
def test_help_text(name):
    parser = load_command_class("core.dataio", name).create_parser("manage.py", name)
    text = parser.format_help()
    for option in ("--format", "--no-progress", "customers,categories,products,sales"):
        assert option in text
    if name == "import_data":
        for option in ("--dry-run", "--batch-size", "--on-error", "--errors-out", "--apply-stock"):
            assert option in text
        assert "Exit status" in text
    else:
        assert "--out" in text and "--filter" in text


# --- exit codes, in a real process ---------------------------------------------------------------


def _environment() -> dict[str, str]:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = (
        f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": url, "READ_DOT_ENV": "false"}
    env.setdefault("CACHE_KEY_PREFIX", "dataio_test")
    return env


def manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args, "--no-progress"],
        cwd=BASE_DIR,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.postgres
@pytest.mark.skipif(not settings.IS_POSTGRES, reason="a second process needs a shared database")
@pytest.mark.django_db(transaction=True)
def test_exit_status_of_import_data(tmp_path):
    make_customer(email="old@example.com", name="Old")
    done = manage("import_data", "customers", write(tmp_path, "good.csv", GOOD))
    assert done.returncode == 0, done.stderr
    assert "rows created 2, updated 0, unchanged 0; rows rejected 0" in done.stdout
    assert Customer.objects.count() == 3

    counts = row_counts()
    bad = csv_bytes([["email", "name"], ["n3@example.com", "N3"], ["bad", "X"]])
    failed = manage("import_data", "customers", write(tmp_path, "bad.csv", bad))
    assert failed.returncode == 1
    assert "Nothing was written: 1 of 2 rows have errors" in failed.stderr
    assert row_counts() == counts

    errors = tmp_path / "errors.csv"
    skipped = manage(
        "import_data",
        "customers",
        str(tmp_path / "bad.csv"),
        "--on-error",
        "skip",
        "--errors-out",
        str(errors),
    )
    assert skipped.returncode == 3, skipped.stderr
    assert "rows created 1" in skipped.stdout and "rows rejected 1" in skipped.stdout
    assert f"Rejected rows written to {errors}" in skipped.stderr
    assert "bad,X,3,email," in errors.read_text(encoding="utf-8")
    assert Customer.objects.filter(email="n3@example.com").exists()

    exported = manage("export_data", "customers", "--out", str(tmp_path / "all.xlsx"))
    assert exported.returncode == 0 and "(" in exported.stdout and "xlsx" in exported.stdout
    missing = manage("export_data", "sales", "--out", str(tmp_path / "s.csv"), "--filter", "x=1")
    assert missing.returncode == 1 and "Unknown filter(s) x" in missing.stderr
    assert not (tmp_path / "s.csv").exists() and Sale.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.skipif(not settings.IS_POSTGRES, reason="a second process needs a shared database")
@pytest.mark.django_db(transaction=True)
def test_export_to_a_missing_directory_exits_1_without_a_traceback(tmp_path):
    done = manage("export_data", "sales", "--out", str(tmp_path / "nonexistent" / "x.csv"))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "CommandError: The directory of --out" in done.stderr
    assert list(tmp_path.iterdir()) == []
