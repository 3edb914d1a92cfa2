"""Authentication, permissions and the API: logins and lockout, page sizes and search bounds,
DRF, JWTs, OAuth2, the OpenAPI schema, CORS."""

from datetime import timedelta

from salesproject.environment import config_error as _config_error
from salesproject.environment import env
from salesproject.environment import env_bool as _env_bool
from salesproject.environment import env_int as _env_int
from salesproject.environment import env_origins as _env_origins
from salesproject.environment import env_rate as _env_rate
from salesproject.settings.base import DEBUG, SECRET_KEY

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
AUTHENTICATION_BACKENDS = ["accounts.backends.CachedPermissionsModelBackend"]
# Seconds a user's permission set is cached (a role change takes effect within it); 0 = off.
PERMISSION_CACHE_SECONDS = _env_int("PERMISSION_CACHE_SECONDS", 60, minimum=0)
# Seconds each process keeps the user behind a JWT, with their permissions, instead of loading
# them on every request (accounts/authentication.py); 0 = off.
JWT_USER_CACHE_SECONDS = _env_int("JWT_USER_CACHE_SECONDS", 30, minimum=0)
# Login lockout on every login form and the token endpoint, counted in the cache (Redis):
# failures per (username, client IP), per username from anywhere, and per client IP, within
# LOGIN_LOCKOUT_SECONDS; a lock lasts that long (accounts/lockout.py, docs/security.md). 0 = off.
LOGIN_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5, minimum=0)
LOGIN_USERNAME_FAILURE_LIMIT = _env_int("LOGIN_USERNAME_FAILURE_LIMIT", 20, minimum=0)
LOGIN_IP_FAILURE_LIMIT = _env_int("LOGIN_IP_FAILURE_LIMIT", 50, minimum=0)
LOGIN_LOCKOUT_SECONDS = _env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
if 0 < LOGIN_USERNAME_FAILURE_LIMIT <= LOGIN_FAILURE_LIMIT:
    raise _config_error(
        "LOGIN_USERNAME_FAILURE_LIMIT",
        "it must be more than LOGIN_FAILURE_LIMIT (or 0 for off), or one client could lock "
        "anyone's account out",
    )

API_PAGE_SIZE = _env_int("API_PAGE_SIZE", 50, minimum=1)
API_MAX_PAGE_SIZE = _env_int("API_MAX_PAGE_SIZE", 500, minimum=1)
if API_MAX_PAGE_SIZE < API_PAGE_SIZE:
    raise _config_error("API_MAX_PAGE_SIZE", "it must be at least API_PAGE_SIZE")
# Searches (the API's search=, the admin's search box; core/api/filtering.py): at most
# this many different words, each of at least 3 characters, in at most this many characters.
SEARCH_MAX_WORDS = _env_int("SEARCH_MAX_WORDS", 8, minimum=1)
SEARCH_MAX_LENGTH = _env_int("SEARCH_MAX_LENGTH", 200, minimum=3)
# The most nested arrays/objects a JSON request body may hold (core/api/parsers.py).
API_JSON_MAX_DEPTH = _env_int("API_JSON_MAX_DEPTH", 32, minimum=2)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # OAuth2 first: it takes only dotless bearer tokens (no query for a JWT), and checks
        # the scope the view needs (accounts/oauth/authentication.py).
        "accounts.oauth.authentication.OAuth2Authentication",
        "accounts.authentication.CachedUserJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RoleModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "core.api.filtering.StrictOrderingFilter",
    ],
    # DRF's parsers, the JSON one with the nesting bounded (API_JSON_MAX_DEPTH).
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": API_PAGE_SIZE,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ErrorAwareAutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.api.renderers.BrowsableAPIRenderer",  # raw-data forms with an example body
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "ORDERING_PARAM": "ordering",
    "SEARCH_PARAM": "search",
    # Throttling (counts in the default cache: Redis in real mode, shared by every process):
    # anonymous clients per IP, authenticated users per user; the token endpoint has its own
    # "login" scope per IP (salesproject/urls.py). Over the rate: 429 with Retry-After.
    # DRF's throttles, failing open when the cache is down (core/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _env_rate("THROTTLE_ANON_RATE", "300/minute"),
        "user": _env_rate("THROTTLE_USER_RATE", "3000/minute"),
        "login": _env_rate("THROTTLE_LOGIN_RATE", "10/minute"),
        # /o/token/, /o/revoke_token/, /o/introspect/ per client IP (each hashes a secret).
        "oauth_token": _env_rate("THROTTLE_OAUTH_TOKEN_RATE", "60/minute"),
    },
    # Client IP for the anonymous and login throttles: 0 = REMOTE_ADDR (a client cannot dodge
    # the limit with its own X-Forwarded-For); behind n proxies, the n-th address from the end.
    "NUM_PROXIES": _env_int("THROTTLE_NUM_PROXIES", 0, minimum=0),
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=_env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=_env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": _env_bool("JWT_ROTATE_REFRESH_TOKENS", default=False),
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    # Tokens carry a stamp of their user's password and token generation, checked on every
    # use: a password change or "log out everywhere" ends them (accounts/tokens.py).
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.StampedTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.StampedTokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "accounts.tokens.StampedTokenVerifySerializer",
}

# OAuth2 (django-oauth-toolkit; accounts/oauth, docs/oauth.md): authorization code with PKCE,
# client credentials, rotated refresh tokens; tokens stored as hashes only.
OAUTH2_ACCESS_TOKEN_SECONDS = _env_int("OAUTH2_ACCESS_TOKEN_SECONDS", 3600, minimum=60)
OAUTH2_REFRESH_TOKEN_DAYS = _env_int("OAUTH2_REFRESH_TOKEN_DAYS", 30, minimum=1)
OAUTH2_PROVIDER = {
    "SCOPES": {
        "read": "Read everything your role may read (every GET)",
        "write": "Record, edit and cancel sales; create and edit customers and products",
        "import": "Imports, bulk endpoints and price updates",
        "analytics": "The analytics endpoints only",
    },
    "DEFAULT_SCOPES": ["read"],  # a token request naming no scope
    "OAUTH2_SERVER_CLASS": "accounts.oauth.server.OAuth2Server",
    "OAUTH2_VALIDATOR_CLASS": "accounts.oauth.server.OAuth2Validator",
    "APPLICATION_ADMIN_CLASS": "accounts.oauth.admin.ApplicationAdmin",
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH2_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH2_REFRESH_TOKEN_DAYS * 86_400,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    # RFC 9700 (OAuth 2.0 security best current practice), enforced.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Redirect URIs over https only; plain http (a local development client) with DEBUG only.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"] if DEBUG else ["https"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Sales analytics API",
    "DESCRIPTION": (
        "Customers, products, sales and analytics. Authenticate with a JWT from "
        "`POST /api/auth/token/` (header `Authorization: Bearer <access>`), a session, or (for "
        "applications) an OAuth2 access token from `/o/token/` with the scopes each operation "
        "lists (client credentials or authorization code with PKCE). "
        'Every error answers `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    "ENUM_NAME_OVERRIDES": {
        # analytics rfm/customers' `segment` (RFM segments) vs the customers' segment choices
        "RfmSegmentEnum": "analytics.selectors.RFM_SEGMENT_KEYS",
        "SegmentEnum": "customers.models.CustomerSegment",
    },
    # /api/docs/ and /api/redoc/ load their scripts from our static files (the pinned
    # drf-spectacular-sidecar), never from a CDN: they work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The oauth2 security scheme (accounts/oauth/schema.py): Swagger UI's Authorize button.
    "OAUTH2_FLOWS": ["clientCredentials", "authorizationCode"],
    "OAUTH2_AUTHORIZATION_URL": "/o/authorize/",
    "OAUTH2_TOKEN_URL": "/o/token/",
    "OAUTH2_REFRESH_URL": "/o/token/",
    "OAUTH2_SCOPES": OAUTH2_PROVIDER["SCOPES"],
    "SWAGGER_UI_OAUTH2_CONFIG": {"usePkceWithAuthorizationCodeGrant": True},
}

CORS_ALLOWED_ORIGINS = _env_origins("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
