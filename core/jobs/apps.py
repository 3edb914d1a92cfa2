from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Batch jobs: long work (big imports, bulk operations) run by Celery and tracked here."""

    name = "core.jobs"
    label = "jobs"
    verbose_name = "Batch jobs"

    def ready(self) -> None:
        from core.jobs import deadletter  # noqa: F401  (connects the task_failure signal)
