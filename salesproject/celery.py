"""The Celery application, configured from Django settings (``CELERY_*``).

In the embedded default (no broker configured) tasks run eagerly in process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesproject.settings")

app = Celery("salesproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
