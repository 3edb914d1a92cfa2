#!/usr/bin/env python
"""Container health checks (no curl in the slim image): ``healthcheck.py web|worker|beat``.

- web: GET /health/live on the local gunicorn answers 200. The Host header is the first of
  ALLOWED_HOSTS (a leading dot dropped; ``*`` becomes localhost) so Django accepts it; /health/
  is exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT).
- worker: this container's Celery worker answers a ping over the broker within 5 seconds.
- beat: the beat schedule file was written in the last BEAT_HEALTH_MAX_AGE seconds (default
  600; beat syncs it at least every 3 minutes and after running entries every minute).

Exit status 0 when healthy, 1 otherwise (the reason on stderr).
"""

import glob
import os
import socket
import sys
import time
import urllib.request

BEAT_SCHEDULE = os.environ.get("BEAT_SCHEDULE_FILE", "/tmp/celerybeat-schedule")


def host_header() -> str:
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")
    return "localhost" if first in ("", "*") else first


def check_web() -> str | None:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/live"
    request = urllib.request.Request(url, headers={"Host": host_header()})
    with urllib.request.urlopen(request, timeout=3) as response:
        return None if response.status == 200 else f"/health/live answered {response.status}"


def check_worker() -> str | None:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")
    from salesproject.celery import app

    name = f"celery@{socket.gethostname()}"
    replies = app.control.ping(destination=[name], timeout=5)
    return None if replies else f"no ping reply from {name}"


def check_beat() -> str | None:
    files = glob.glob(BEAT_SCHEDULE + "*")
    if not files:
        return f"no beat schedule file at {BEAT_SCHEDULE}"
    age = time.time() - max(os.path.getmtime(path) for path in files)
    limit = float(os.environ.get("BEAT_HEALTH_MAX_AGE", "600"))
    return None if age <= limit else f"beat schedule not written for {age:.0f}s"


CHECKS = {"web": check_web, "worker": check_worker, "beat": check_beat}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in CHECKS:
        print(f"usage: healthcheck.py {'|'.join(CHECKS)}", file=sys.stderr)
        return 2
    try:
        problem = CHECKS[argv[1]]()
    except Exception as exc:  # any failure means unhealthy
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
