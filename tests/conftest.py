import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.authentication import cached_users_clear
from tests.factories import make_user

ROLES = ("analyst", "sales", "manager")


def pytest_configure(config):
    """The test run creates, migrates and drops databases, on two busy cores: a job, under
    DB_STATEMENT_TIMEOUT_JOBS_MS, not a web request's 5 s (core/ops/database.py; the
    statement timeout's own tests set theirs)."""
    from core.ops.database import JOBS, set_process_kind

    set_process_kind(JOBS)


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Every test starts with an empty cache (only this run's key prefix on Redis), and no user
    kept in the process by the JWT authentication."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    cached_users_clear()
    yield


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(db):
    """``client_for("manager")``: an API client logged in (JWT-free, forced auth) with a role;
    ``client_for(None)`` is anonymous, ``client_for("superuser")`` an admin."""

    def build(role):
        client = APIClient()
        if role is None:
            return client
        if role == "superuser":
            user = make_user(is_superuser=True, is_staff=True)
        elif role == "norole":
            user = make_user()
        else:
            user = make_user(role=role)
        client.force_authenticate(user)
        client.user = user
        return client

    return build


@pytest.fixture
def manager_client(client_for):
    return client_for("manager")


@pytest.fixture
def fast_password_hasher(settings):
    """A cheap password hash for tests that create many users (the default PBKDF2 costs about
    a third of a second per user). Request it before the fixtures that create users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def jobs_in_process(monkeypatch):
    """Celery tasks run in process (the test run has a shared broker configured, and the app
    reads its config once, so the ``settings`` fixture cannot switch it), and a batch job is
    enqueued at once: inside the test's wrapping transaction nothing ever commits, so the
    on-commit enqueue would never happen."""
    from core.jobs import services
    from salesproject.celery import app

    monkeypatch.setattr(services, "on_commit", lambda func, using=None, robust=False: func())
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
