#!/bin/sh
# The web container: apply migrations (every web start; they are idempotent and run in
# transactions), then replace this shell with gunicorn so that it receives the stop signal.
set -eu

# Prometheus multi-process mode: the directory must exist and hold no stale files at start.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi

python manage.py migrate --noinput

exec gunicorn salesproject.wsgi:application \
    --config docker/gunicorn.conf.py \
    --bind "0.0.0.0:${PORT:-8000}" \
    --workers "${GUNICORN_WORKERS:-4}" \
    --timeout "${GUNICORN_TIMEOUT:-60}" \
    --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}" \
    --access-logfile -
