"""Time zone and languages, static and media files, logging."""

from pathlib import Path

from salesproject.environment import config_error as _config_error
from salesproject.environment import env
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_choice as _env_choice
from salesproject.environment import logging_config as _logging_config
from salesproject.settings.base import BASE_DIR, DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
# The currency of every amount (an ISO 4217 code): shown next to money in the admin, the
# dashboard and the analytics answers; the amounts themselves stay plain decimals.
CURRENCY = env.str("CURRENCY", default="USD").strip().upper()
if not (len(CURRENCY) == 3 and CURRENCY.isascii() and CURRENCY.isalpha()):
    raise _config_error("CURRENCY", f"{CURRENCY!r} is not a three-letter ISO 4217 code")
# The site's name in the admin, the browsable API and the dashboard.
SITE_NAME = env.str("SITE_NAME", default="Sales analytics").strip()
if not SITE_NAME or len(SITE_NAME) > 60:
    raise _config_error("SITE_NAME", "it must be 1 to 60 characters")
CELERY_TIMEZONE = TIME_ZONE  # crontab schedules of the beat are in local time
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Served by WhiteNoise (compressed). The hashed-name manifest storage needs collectstatic to have
# run (the image does it at build), so it is used only with DEBUG off and
# STATIC_FILES_MANIFEST=true (set in the Dockerfile); tests and `make run` keep the plain one.
STATIC_FILES_MANIFEST = _env_bool("STATIC_FILES_MANIFEST", default=False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_FILES_MANIFEST and not DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# Frozen from the environment's DEBUG (the test runner forces settings.DEBUG off later).
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded import files waiting for a worker, and jobs' error reports. With separate web and
# worker machines (docker compose), this is a volume both mount.
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

LOG_LEVEL = _env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
# json: one JSON object per line (python-json-logger), for log collectors; text: readable lines.
# Both carry the request id (X-Request-ID) and, in a Celery task, the task id.
LOG_FORMAT = _env_choice("LOG_FORMAT", "text" if DEBUG else "json", ("json", "text"))
LOGGING = _logging_config(LOG_LEVEL, LOG_FORMAT)
