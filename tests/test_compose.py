"""docker-compose.yml and the Dockerfile, checked without a Docker engine (none on this machine).

What is checked: the compose file parses and has the five services with health checks, volumes
and ``.env``; every command a service runs exists here (the entrypoint script, gunicorn and its
WSGI module, ``celery -A salesproject worker|beat`` with their options, the ``manage.py``
commands); the variables the compose file and .env.example set are ones the settings (or our
container scripts) read; the Dockerfile is slim, non-root, collects static files and has a health
check; and the web entrypoint itself runs here (migrate, then gunicorn with the production
settings) and passes its own container health check. Not checked: building the image, the
postgres:16 / redis:7 images, the network between containers, named volumes, ports.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.probes import python_output

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat")
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SCRIPTS = (ROOT / "docker" / "web-entrypoint.sh", ROOT / "docker" / "healthcheck.py")
GUNICORN_CONF = ROOT / "docker" / "gunicorn.conf.py"
VENV_BIN = Path(sys.executable).parent


def settings_variables() -> set[str]:
    """Every environment variable the settings (salesproject/settings/) read
    (env.str/_env_bool/...)."""
    source = "\n".join(
        path.read_text() for path in sorted((ROOT / "salesproject" / "settings").glob("*.py"))
    )
    return set(
        re.findall(r"\b(?:env\.\w+|_env_\w+|_redis_db_number)\(\s*\"([A-Z][A-Z0-9_]+)\"", source)
    )


def script_variables() -> set[str]:
    """Variables the container scripts read (${NAME:-...} in shell, os.environ in Python)."""
    names: set[str] = set()
    for script in SCRIPTS:
        text = script.read_text()
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", text))
        names |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]+)\"", text))
    return names


def env_example_keys() -> set[str]:
    """Keys of .env.example, commented-out examples (``# NAME=value``) included."""
    keys = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=", line)
        if match:
            keys.add(match.group(1))
    return keys


def command_of(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


# --- The compose file -------------------------------------------------------------------------


def test_compose_has_exactly_the_five_services():
    default = {name for name, service in SERVICES.items() if not service.get("profiles")}
    assert default == {"web", "worker", "beat", "db", "redis"}
    assert set(SERVICES) - default == {"replica"}
    assert SERVICES["db"]["image"] == "postgres:16"
    assert SERVICES["redis"]["image"] == "redis:7"
    for name in APP_SERVICES:
        assert SERVICES[name]["build"] == "."


@pytest.mark.parametrize("name", ["web", "worker", "beat", "db", "redis", "replica"])
def test_every_service_has_a_health_check(name):
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert check.get("interval") and check.get("timeout") and check.get("retries")


def test_web_health_check_is_health_live():
    assert SERVICES["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "docker/healthcheck.py",
        "web",
    ]
    assert "/health/live" in SCRIPTS[1].read_text()
    from django.urls import resolve

    resolve("/health/live")
    resolve("/health/ready")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_db_and_redis_and_read_dot_env(name):
    service = SERVICES[name]
    for dependency in ("db", "redis"):
        assert service["depends_on"][dependency] == {"condition": "service_healthy"}
    assert [entry["path"] for entry in service["env_file"]] == [".env"]
    environment = service["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert "@db:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert environment["CELERY_BROKER_URL"] != environment["REDIS_URL"]


def test_every_depends_on_waits_for_health():
    for service in SERVICES.values():
        for dependency in service.get("depends_on", {}).values():
            assert dependency == {"condition": "service_healthy"}


def test_named_volumes_for_database_and_shared_media():
    assert {"pgdata", "media"} <= set(COMPOSE["volumes"])
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]
    media_root = SERVICES["web"]["environment"]["MEDIA_ROOT"]
    for name in ("web", "worker"):
        assert f"media:{media_root}" in SERVICES[name]["volumes"]
        assert SERVICES[name]["environment"]["MEDIA_ROOT"] == media_root
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./docker/"):  # a script of ours, mounted read-only
                assert volume.endswith(":ro") and (ROOT / source).is_file(), volume
                continue
            assert source in COMPOSE["volumes"], f"{volume} is not a named volume"


def test_replica_service_streams_from_db_with_a_base_backup():
    """The optional replica (profile "replica"): postgres:16 like db, its entrypoint takes a
    base backup of db with the standby configuration (-R) then runs PostgreSQL as a hot
    standby; db lets it stream (a replication line in pg_hba.conf at its first start); the app
    reads it through DATABASE_REPLICA_URL, which the settings read."""
    replica, db = SERVICES["replica"], SERVICES["db"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == db["image"]
    assert replica["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "replicadata:/var/lib/postgresql/data" in replica["volumes"]
    script_mount = next(v for v in replica["volumes"] if v.startswith("./docker/"))
    source, target, _ = script_mount.split(":")
    assert replica["entrypoint"] == [target]
    script = (ROOT / source).read_text()
    assert os.access(ROOT / source, os.X_OK)
    subprocess.run(["sh", "-n", str(ROOT / source)], check=True)
    assert re.search(r"pg_basebackup .*-R", script.replace("\\\n", " "))
    assert "hot_standby=on" in script
    environment = replica["environment"]
    assert environment["PRIMARY_HOST"] == "db"
    assert environment["PRIMARY_USER"] == db["environment"]["POSTGRES_USER"]
    assert environment["PGPASSWORD"] == db["environment"]["POSTGRES_PASSWORD"]
    init = next(v for v in db["volumes"] if "/docker-entrypoint-initdb.d/" in v)
    hba = (ROOT / init.split(":")[0]).read_text()
    assert "host replication" in hba and "pg_hba.conf" in hba
    assert "DATABASE_REPLICA_URL" in settings_variables()
    assert "DATABASE_REPLICA_URL" in env_example_keys()


def test_compose_variables_are_read_by_the_settings():
    read = settings_variables() | script_variables()
    for name in APP_SERVICES:
        unknown = set(SERVICES[name]["environment"]) - read
        assert not unknown, f"{name} sets variables nothing reads: {unknown}"


def test_env_example_keys_are_read_by_the_settings():
    unknown = env_example_keys() - settings_variables() - script_variables()
    assert not unknown, f".env.example lists variables nothing reads: {sorted(unknown)}"


def test_required_variables_are_in_env_example():
    # Required with DEBUG off (the settings raise without them); the rest have defaults.
    for name in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"):
        assert name in env_example_keys()
        assert name in settings_variables()


def test_settings_variable_scan_finds_known_ones():
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "THROTTLE_LOGIN_RATE"} <= (
        settings_variables()
    )


# --- Every command the services run exists ----------------------------------------------------


def test_scripts_exist_and_are_executable():
    for script in SCRIPTS:
        assert script.is_file()
        assert os.access(script, os.X_OK), f"{script} is not executable"
    subprocess.run(["sh", "-n", str(SCRIPTS[0])], check=True)


def test_web_command_is_the_entrypoint_that_migrates_then_runs_gunicorn():
    assert command_of("web") == ["docker/web-entrypoint.sh"]
    assert '"docker/web-entrypoint.sh"' in DOCKERFILE.splitlines()[-1]
    text = SCRIPTS[0].read_text()
    assert text.index("manage.py migrate") < text.index("exec gunicorn")
    assert "salesproject.wsgi:application" in text
    assert '"${GUNICORN_WORKERS:-' in text


def test_manage_py_commands_used_exist():
    from django.core.management import get_commands

    used = set(re.findall(r"manage\.py (\w+)", SCRIPTS[0].read_text() + DOCKERFILE))
    assert used == {"migrate", "collectstatic"}
    assert used <= set(get_commands())


def test_wsgi_module_imports():
    from salesproject.wsgi import application

    assert callable(application)


def test_gunicorn_accepts_the_entrypoint_configuration():
    result = subprocess.run(
        [str(VENV_BIN / "gunicorn"), "salesproject.wsgi:application", "--check-config",
         "--config", str(GUNICORN_CONF),
         "--workers", "2", "--timeout", "60", "--bind", "0.0.0.0:8000",
         "--forwarded-allow-ips", "127.0.0.1", "--access-logfile", "-"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["worker", "beat"])
def test_celery_commands_exist_with_their_options(name):
    command = command_of(name)
    assert command[:4] == ["celery", "-A", "salesproject", name]
    result = subprocess.run(
        [str(VENV_BIN / "celery"), "-A", "salesproject", name, "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for option in (part for part in command[4:] if part.startswith("--")):
        assert option in result.stdout, f"celery {name} has no option {option}"


def test_beat_health_check_reads_the_schedule_file(tmp_path):
    schedule = tmp_path / "celerybeat-schedule"
    assert "/tmp/celerybeat-schedule" in command_of("beat")
    env = {**os.environ, "BEAT_SCHEDULE_FILE": str(schedule)}
    run = [sys.executable, str(SCRIPTS[1]), "beat"]
    assert subprocess.run(run, env=env, capture_output=True, timeout=30).returncode == 1
    schedule.write_text("")
    assert subprocess.run(run, env=env, capture_output=True, timeout=30).returncode == 0
    old = time.time() - 3600
    os.utime(schedule, (old, old))
    assert subprocess.run(run, env=env, capture_output=True, timeout=30).returncode == 1


# --- The Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_is_slim_non_root_and_collects_static_files():
    assert re.search(r"^FROM python:3\.11-slim$", DOCKERFILE, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert "pip install -r requirements.txt" in DOCKERFILE
    assert "manage.py collectstatic --noinput" in DOCKERFILE
    assert "STATIC_FILES_MANIFEST=true" in DOCKERFILE
    assert re.search(r"^HEALTHCHECK .*docker/healthcheck\.py", DOCKERFILE, re.MULTILINE | re.S)


def test_whitenoise_serves_static_files():
    from django.conf import settings

    middleware = settings.MIDDLEWARE
    assert middleware[middleware.index("django.middleware.security.SecurityMiddleware") + 1] == (
        "whitenoise.middleware.WhiteNoiseMiddleware"
    )


def test_collectstatic_with_the_image_settings(tmp_path):
    """What the Dockerfile's build step runs, into a temporary STATIC_ROOT: the manifest storage
    works (every reference in the admin's CSS resolves)."""
    code = (
        "import django, sys; from django.conf import settings;"
        f"settings.STATIC_ROOT = {str(tmp_path)!r}; django.setup();"
        "from django.core.management import call_command;"
        "call_command('collectstatic', '--noinput', verbosity=0);"
        "print(settings.STORAGES['staticfiles']['BACKEND'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "salesproject.settings",
        "DEBUG": "false",
        "SECRET_KEY": "collectstatic-only-build-time-key-not-used-at-runtime-0123456789",
        "ALLOWED_HOSTS": "localhost",
        "STATIC_FILES_MANIFEST": "true",
        "READ_DOT_ENV": "false",
    }
    output = python_output(code, env, timeout=300)
    assert output.strip() == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert (tmp_path / "staticfiles.json").is_file()
    assert list((tmp_path / "admin" / "css").glob("base.*.css.gz"))


# --- The web entrypoint, run for real ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.postgres
def test_web_entrypoint_migrates_serves_and_is_healthy(db, tmp_path):
    """docker/web-entrypoint.sh on this machine, against the test database (already migrated:
    migrate is a no-op) with the production settings: gunicorn starts, and the container's
    health check (Host from ALLOWED_HOSTS, plain HTTP despite SECURE_SSL_REDIRECT) passes."""
    from django.db import connection

    database = connection.settings_dict  # the test database (created by the db fixture)
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL")
    url = (
        f"postgres://{database['USER']}:{database.get('PASSWORD') or ''}@"
        f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    )
    port = _free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / "counter_12345.db").write_text("stale")
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": "a-production-like-secret-key-for-the-entrypoint-test-0123456789",
        "ALLOWED_HOSTS": ".sales.example.com,localhost",
        "PORT": str(port),
        "GUNICORN_WORKERS": "1",
        "READ_DOT_ENV": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    process = subprocess.Popen(
        [str(SCRIPTS[0])], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        healthy = None
        while time.monotonic() < deadline and process.poll() is None:
            healthy = subprocess.run(
                [sys.executable, str(SCRIPTS[1]), "web"], env=env, capture_output=True,
                text=True, timeout=30,
            )  # fmt: skip
            if healthy.returncode == 0:
                break
            time.sleep(0.5)
        assert process.poll() is None, process.communicate(timeout=30)[0]
        assert healthy is not None and healthy.returncode == 0, healthy and healthy.stderr
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "No migrations to apply" in output
    assert "Booting worker" in output
    # The stale multi-process metrics file of a previous run was wiped before gunicorn started.
    assert not (metrics_dir / "counter_12345.db").exists()
