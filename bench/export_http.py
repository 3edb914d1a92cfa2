"""Time ``GET /api/sales/export/?format=…`` through gunicorn on a seeded database (issue 13 item 2:
the XLSX export of the 1M-sale reference set must finish within the worker timeout).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sales_bench \\
        .venv/bin/python bench/export_http.py --formats xlsx,csv --timeout 60

One sync gunicorn worker started as the web container starts it (docker/gunicorn.conf.py,
``--timeout`` as GUNICORN_TIMEOUT, default 60 s), DEBUG off. For each format: time to the
first byte, total time, size, and the worker's peak RSS (VmHWM, read from /proc after the
request; the worker is restarted between formats so each peak is its own). Prints one JSON
object per format; the figures are in docs/import_export.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from harness import (  # bench/ is on sys.path: the script's directory
    ROOT,
    AppInstance,
    _proc_children,
    app_env,
    get_token,
    log,
)

USER, PASSWORD = "bench_exporter", "bench-exporter-password"  # a throwaway benchmark login
SETUP_USER = f"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

user, _ = get_user_model().objects.get_or_create(username={USER!r})
user.set_password({PASSWORD!r})
user.is_active = True
user.save()
user.groups.set([Group.objects.get(name="analyst")])
"""


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def export(app: AppInstance, token: str, fmt: str, timeout: float) -> dict:
    [worker] = _proc_children(app.process.pid)
    request = urllib.request.Request(
        f"{app.base_url}/api/sales/export/?format={fmt}",
        headers={"Authorization": f"Bearer {token}"},
    )
    started = time.monotonic()
    first_byte = None
    size = 0
    with urllib.request.urlopen(request, timeout=timeout + 30) as response:
        status = response.status
        while chunk := response.read(1 << 16):
            if first_byte is None:
                first_byte = time.monotonic() - started
            size += len(chunk)
    total = time.monotonic() - started
    return {
        "format": fmt,
        "status": status,
        "bytes": size,
        "first_byte_s": round(first_byte or total, 2),
        "total_s": round(total, 1),
        "worker_peak_rss_mib": round(peak_rss_mib(worker), 0),
        "worker_alive": os.path.exists(f"/proc/{worker}"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--timeout", type=int, default=60, help="gunicorn --timeout (seconds)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        parser.error("set DATABASE_URL to the seeded PostgreSQL database")
    db = urlsplit(database_url).path.lstrip("/")
    env = app_env(args.redis_url, database_url, "bench_export", {})
    for fmt in args.formats.split(","):
        app = AppInstance(f"export-{fmt}", db, env)
        app.manage("shell", "-c", SETUP_USER)
        try:
            app.start(
                [
                    "--config",
                    str(ROOT / "docker" / "gunicorn.conf.py"),
                    "--workers",
                    "1",
                    "--timeout",
                    str(args.timeout),
                    "--log-level",
                    "warning",
                ]
            )
            token = get_token(app, USER, PASSWORD)
            result = export(app, token, fmt, args.timeout)
        finally:
            app.stop()
        log(json.dumps(result))
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
