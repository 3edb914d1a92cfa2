"""HTTPS, cookies, proxies and request body sizes; ``manage.py check --deploy`` is clean with
the production values of ``.env.example``."""

from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_int as _env_int
from salesproject.settings.base import DEBUG

SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = _env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = _env_bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health checks and metrics scrapes come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics/?$"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if _env_bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = _env_bool("USE_X_FORWARDED_HOST", default=False)
# Request bodies: at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes of non-file form data (Django's
# limit; JSON API bodies are parsed by DRF from the stream); uploaded files bigger than
# FILE_UPLOAD_MAX_MEMORY_SIZE are spooled to a temporary file instead of memory. The size of an
# import file itself is capped by IMPORT_MAX_BYTES / IMPORT_ADMIN_MAX_BYTES (below).
DATA_UPLOAD_MAX_MEMORY_SIZE = _env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = _env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=0)
