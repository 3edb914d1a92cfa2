"""Hostile import files through ``manage.py import_data``: time and peak memory (never run by
the tests; issue 13 items 4 and 5).

    .venv/bin/python bench/adversarial_files.py            # or: make bench-adversarial
    .venv/bin/python bench/adversarial_files.py --rows 1000000 --small 10000 --nonewline-mb 300

Files built in ``bench/results/adversarial/`` (git-ignored), each imported into a scratch
PostgreSQL database (``--database-url``, default ``sales_bench_adversarial`` on 127.0.0.1, created
and migrated when missing) with ``--on-error skip --errors-out``:

- ``bomb.xlsx``: a ~2 KB customers workbook whose sheet declares ``A1:XFD1048576`` (the
  "dimension bomb"): refused before reading.
- ``bad_<n>.csv`` / ``bad_<n>.xlsx``: a header and n identical bad rows (an invalid email), for
  n = ``--small`` and ``--rows``: every row rejected, counted, the first IMPORT_ERRORS_KEPT kept.
- ``dup_<n>.csv``: n valid rows with the same email: all but the first rejected by the
  whole-file duplicate check (rows staged, then rejected in SQL).
- ``badsales_<n>.csv`` (``import_data sales``): n lines of n different sales, each with a bad
  quantity: the bad sales' references are remembered to leave out their other lines.
- ``nonewline.csv``: a header, then ``--nonewline-mb`` MB without a newline: one row rejected
  for its length, read in chunks.

Each import is a subprocess; its wall time and peak RSS come from ``os.wait4``. The check: the
peak RSS of the ``--rows`` file is within 1.5 times the ``--small`` one, for each kind of
file (memory does not grow with the number of rejected rows), and the errors file stays small.
Prints a table,
writes ``bench/results/adversarial_files.json`` and exits 1 when a check fails. The figures
measured on the development machine are in docs/import_export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv").exists() else sys.executable
WORK = ROOT / "bench" / "results" / "adversarial"
RESULT_FILE = ROOT / "bench" / "results" / "adversarial_files.json"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/sales_bench_adversarial"
BAD_ROW = "not-an-email,Bad Row\n"

# --- files ----------------------------------------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_xlsx(path: Path, rows: int, dimension: str | None = None) -> None:
    """A customers workbook, its sheet XML streamed into the zip: the header, then ``rows``
    identical bad rows; ``dimension`` overrides the declared size."""
    dimension = dimension or f"A1:B{rows + 1}"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + f'<dimension ref="{dimension}"/><sheetData>'.encode()
                + f'<row r="1">{_cell("A1", "email")}{_cell("B1", "name")}</row>'.encode()
            )
            chunk = []
            for number in range(2, rows + 2):
                chunk.append(
                    f'<row r="{number}">{_cell(f"A{number}", "not-an-email")}'
                    f"{_cell(f'B{number}', 'Bad Row')}</row>"
                )
                if len(chunk) == 10_000:
                    sheet.write("".join(chunk).encode())
                    chunk = []
            sheet.write(("".join(chunk) + "</sheetData></worksheet>").encode())


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name\n")
        block = BAD_ROW * 10_000
        for _ in range(rows // 10_000):
            out.write(block)
        out.write(BAD_ROW * (rows % 10_000))


def write_duplicates(path: Path, rows: int) -> None:
    """Valid rows, all with the same email: all but one rejected by the whole-file check."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("email,name\n")
        for _ in range(rows // 10_000):
            out.write("dup@example.com,Dup\n" * 10_000)
        out.write("dup@example.com,Dup\n" * (rows % 10_000))


def write_bad_sales(path: Path, rows: int) -> None:
    """Sale lines, each its own sale, each with a bad quantity: rejected while reading, and each
    sale's reference remembered (to leave out its other lines)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("reference,sold_at,customer_email,sku,quantity,unit_price\n")
        for start in range(0, rows, 10_000):
            out.write(
                "".join(
                    f"BAD-{number:08d},2025-01-01T00:00:00Z,,SKU-1,0,1.00\n"
                    for number in range(start, min(start + 10_000, rows))
                )
            )


def write_no_newline(path: Path, megabytes: int) -> None:
    with path.open("wb") as out:
        out.write(b"email,name\nx@example.com,")
        block = b"a" * (1 << 20)
        for _ in range(megabytes):
            out.write(block)


def build(args) -> list[tuple[str, Path]]:
    WORK.mkdir(parents=True, exist_ok=True)
    files = [("bomb.xlsx", WORK / "bomb.xlsx")]
    write_xlsx(files[0][1], 1, dimension="A1:XFD1048576")
    for rows in (args.small, args.rows):
        for prefix, fmt, writer in (
            ("bad", "csv", write_csv),
            ("bad", "xlsx", write_xlsx),
            ("dup", "csv", write_duplicates),
            ("badsales", "csv", write_bad_sales),
        ):
            path = WORK / f"{prefix}_{rows}.{fmt}"
            if not (args.reuse and path.exists()):
                writer(path, rows)
            files.append((path.name, path))
    path = WORK / "nonewline.csv"
    if not (args.reuse and path.exists() and path.stat().st_size > args.nonewline_mb << 20):
        write_no_newline(path, args.nonewline_mb)
    files.append((path.name, path))
    return files


# --- running --------------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"--database-url must name a scratch database with 'bench' in it, not {name!r}")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [PY, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=environment(url),
        check=True,
    )


def environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "READ_DOT_ENV": "false",
        "CACHE_KEY_PREFIX": "bench_adversarial",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--rows", type=int, default=1_000_000, help="bad rows, big file")
    parser.add_argument("--small", type=int, default=10_000, help="bad rows, small file")
    parser.add_argument("--nonewline-mb", type=int, default=300)
    parser.add_argument("--reuse", action="store_true", help="keep files already built")
    args = parser.parse_args()

    print("building files …", flush=True)
    files = build(args)
    ensure_database(args.database_url)
    results = []
    for name, path in files:
        result = measure(args.database_url, path)
        results.append(result)
        print(
            f"{name:22} {result['file_bytes'] / 1e6:9.1f} MB  exit {result['exit']}  "
            f"{result['seconds']:7.1f} s  peak RSS {result['peak_rss_mb']:7.1f} MB  errors file "
            f"{result['errors_file_bytes'] / 1e3:7.1f} kB  | {result['last_line']}",
            flush=True,
        )
    by_name = {result["file"]: result for result in results}
    checks = {}
    for kind in ("bad", "dup", "badsales"):
        for fmt in ("csv", "xlsx") if kind == "bad" else ("csv",):
            small = by_name[f"{kind}_{args.small}.{fmt}"]
            big = by_name[f"{kind}_{args.rows}.{fmt}"]
            ratio = big["peak_rss_mb"] / small["peak_rss_mb"]
            checks[f"{kind}_{fmt}_rss_ratio_{args.rows}_vs_{args.small}"] = round(ratio, 2)
            checks[f"{kind}_{fmt}_flat"] = ratio < 1.5 and big["errors_file_bytes"] < 1_000_000
    checks["bomb_refused"] = by_name["bomb.xlsx"]["exit"] == 1 and (
        "declares 16384 columns" in by_name["bomb.xlsx"]["last_line"]
    )
    checks["nonewline_rejected"] = by_name["nonewline.csv"]["exit"] == 3
    print(json.dumps(checks, indent=2))
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(
        json.dumps({"args": vars(args), "results": results, "checks": checks}, indent=2)
    )
    ok = all(value for key, value in checks.items() if not key.endswith(tuple("0123456789")))
    return 0 if ok else 1


def measure(url: str, path: Path) -> dict:
    """Run the import as a child process and read its peak RSS with ``os.wait4``."""
    errors = path.with_suffix(path.suffix + ".errors.csv")
    errors.unlink(missing_ok=True)
    command = [
        PY,
        "manage.py",
        "import_data",
        "sales" if path.name.startswith("badsales") else "customers",
        str(path),
        "--on-error",
        "skip",
        "--errors-out",
        str(errors),
        "--no-progress",
    ]
    started = time.perf_counter()
    with (WORK / "output.txt").open("w+") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment(url), stdout=output, stderr=output
        )
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        output.seek(0)
        lines = [line for line in output.read().splitlines() if line.strip()]
    return {
        "file": path.name,
        "file_bytes": path.stat().st_size,
        "exit": process.returncode,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # kB on Linux
        "errors_file_bytes": errors.stat().st_size if errors.exists() else 0,
        # the summary (done) or the CommandError (failed), without a traceback
        "last_line": next(
            (
                line
                for line in reversed(lines)
                if line.startswith(("customers:", "sales:", "CommandError"))
            ),
            (lines or [""])[-1],
        )[:240],
    }


if __name__ == "__main__":
    sys.exit(main())
