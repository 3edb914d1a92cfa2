from core.ops import database  # noqa: F401  (the statement timeout of every connection)
from salesproject.celery import app as celery_app

__all__ = ("celery_app",)
