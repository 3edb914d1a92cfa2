"""gunicorn settings of the web container (the command line in docker/web-entrypoint.sh sets
bind, workers, timeout). With PROMETHEUS_MULTIPROC_DIR set, a dead worker's live gauges are
dropped from /metrics (prometheus_client multi-process mode)."""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
