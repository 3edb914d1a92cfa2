"""The dead-letter log: a failed task is logged (ERROR, with its arguments) and recorded as a
``FailedTask`` row, visible and re-sendable in the admin."""

from __future__ import annotations

import logging
import traceback as traceback_module
from typing import TYPE_CHECKING, Any

from celery import current_app
from celery.signals import task_failure
from django.db import DatabaseError, transaction
from django.utils import timezone

from core.ops import metrics  # noqa: F401  (connects the task outcome counters)

if TYPE_CHECKING:
    from billiard.einfo import ExceptionInfo

    from core.jobs.models import FailedTask

logger = logging.getLogger("salesproject.tasks.dead_letter")


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


@task_failure.connect
def record_failed_task(
    sender: object = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    einfo: ExceptionInfo | None = None,
    **extra: Any,
) -> None:
    from core.jobs.models import FailedTask

    name = getattr(sender, "name", str(sender))
    logger.error(
        "Task %s[%s] failed: %r (args=%r, kwargs=%r)",
        name,
        task_id,
        exception,
        args,
        kwargs,
        # The record's task_id comes from core.ops.request_id (set for the running task).
        extra={"task_name": name},
    )
    trace = str(einfo) if einfo else "".join(traceback_module.format_exception(exception))
    try:
        with transaction.atomic():
            FailedTask.objects.create(
                task_name=name,
                task_id=task_id or "",
                args=_jsonable(list(args or [])),
                kwargs=_jsonable(dict(kwargs or {})),
                exception=f"{type(exception).__name__}: {exception}"[:10_000],
                traceback=trace[:50_000],
                hostname=getattr(getattr(sender, "request", None), "hostname", "") or "",
            )
    except DatabaseError:  # the database may be what failed: the log line is the record then
        logger.exception("Could not record failed task %s[%s]", name, task_id)


def failed_task_resend(*, failed_task: FailedTask) -> str:
    """Send the task again with the same arguments; returns the new task id."""
    task = current_app.tasks[failed_task.task_name]
    result = task.apply_async(args=failed_task.args, kwargs=failed_task.kwargs)
    failed_task.resent_at = timezone.now()
    failed_task.save(update_fields=["resent_at"])
    return result.id
