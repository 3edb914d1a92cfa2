"""The catalog: where stock lives (``products/catalog.py``, docs/catalog.md)."""

from urllib.parse import urlsplit

from salesproject.environment import config_error as _config_error
from salesproject.environment import env
from salesproject.environment import env_choice as _env_choice
from salesproject.environment import env_float as _env_float

CATALOG_BACKEND = _env_choice("CATALOG_BACKEND", "local", ("local", "http"))
CATALOG_API_URL = env.str("CATALOG_API_URL", default="").strip().rstrip("/")
CATALOG_API_KEY = env.str("CATALOG_API_KEY", default="")
CATALOG_TIMEOUT = _env_float("CATALOG_TIMEOUT", 5.0)  # read timeout, seconds
CATALOG_CONNECT_TIMEOUT = _env_float("CATALOG_CONNECT_TIMEOUT", 2.0)
# One sale's total budget for all its catalog calls (reads, their retries, purchases), seconds:
# past it the sale answers 503 and what it took is given back (docs/catalog.md).
CATALOG_SALE_DEADLINE = _env_float("CATALOG_SALE_DEADLINE", 10.0)
if CATALOG_SALE_DEADLINE > 60:
    raise _config_error(
        "CATALOG_SALE_DEADLINE",
        f"{CATALOG_SALE_DEADLINE:g} is over 60 seconds "
        "(a request waiting that long holds a worker)",
    )
if CATALOG_BACKEND == "http":
    _catalog_url = urlsplit(CATALOG_API_URL)
    if _catalog_url.scheme not in ("http", "https") or not _catalog_url.netloc:
        raise _config_error(
            "CATALOG_API_URL",
            f"{CATALOG_API_URL or '(empty)'!r} is not an http(s) URL; with CATALOG_BACKEND=http it "
            "must be the catalog's base, e.g. https://catalog.example.com/api",
        )
    if not CATALOG_API_KEY:
        raise _config_error("CATALOG_API_KEY", "it must be set when CATALOG_BACKEND=http")
