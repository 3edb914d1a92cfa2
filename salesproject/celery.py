"""The Celery application, configured from Django settings (``CELERY_*``).

In the embedded default (no broker configured) tasks run eagerly in process.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")

app = Celery("salesproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _jobs_statement_timeout(**kwargs):
    """A worker (and beat) runs jobs: its connections take DB_STATEMENT_TIMEOUT_JOBS_MS
    (core/ops/database.py); the pool's processes, forked after this, inherit it."""
    from core.ops.database import JOBS, set_process_kind

    set_process_kind(JOBS)
