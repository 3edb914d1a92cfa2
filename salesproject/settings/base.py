"""The project's base: where it lives, the ``.env`` file, and what every process loads
(debug, secret key, hosts, installed apps, middleware, URLs, templates)."""

from pathlib import Path

import environ

from salesproject.environment import config_error as _config_error
from salesproject.environment import env
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_list as _env_list

BASE_DIR = Path(__file__).resolve().parent.parent.parent

if (BASE_DIR / ".env").is_file() and env.bool("READ_DOT_ENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env")


DEBUG = _env_bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise _config_error("SECRET_KEY", "it must be set when DEBUG is off")
    SECRET_KEY = "insecure-embedded-default-key-for-local-development-only"

ALLOWED_HOSTS = _env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    raise _config_error("ALLOWED_HOSTS", "it must list the served host names when DEBUG is off")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt",
    "oauth2_provider",  # OAuth2 for API consumers at /o/ (accounts/oauth, docs/oauth.md)
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as our own static files (no CDN)
    "django_countries",
    "accounts",
    "customers",
    "products",
    "sales",
    "analytics",
    "core.dataio",
    "core.jobs",
    "demo",  # seed_demo: demo data (imports every domain app; nothing imports it)
    # After our apps: of two management commands with one name the earlier app's wins, so
    # core.dataio's ``import``/``export`` (which refuse and name import_data and
    # export_data) shadow django-import-export's generic ones, which write around the services.
    "import_export",
]

MIDDLEWARE = [
    # First: the request id is on every log line of the request; every answer is counted.
    "core.ops.request_id.RequestIdMiddleware",
    "core.ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from gunicorn (container), before anything else touches the request.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A session opened before its user's "log out everywhere" is logged out (accounts/middleware).
    "accounts.middleware.SessionGenerationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: the first to see a view's exception; a query stopped by statement_timeout is a 503.
    "core.api.exception_handler.QueryTimeoutMiddleware",
    # A view stopped by a locked SQLite database (embedded default) is a 503, not a 500.
    "core.api.exception_handler.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "salesproject.urls"
WSGI_APPLICATION = "salesproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",  # SITE_NAME and CURRENCY
            ],
        },
    },
]
