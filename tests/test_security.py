"""Security: deploy checks, throttling (429 + Retry-After), login throttling, nothing secret or
internal in any response, and admin actions behind model permissions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey
from customers.views import CustomerViewSet
from products.models import Product
from sales.models import Sale, SaleStatus
from tests.factories import (
    make_api_key,
    make_customer,
    make_product,
    make_sale,
    make_user,
)
from tests.probes import python_output

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pw-Secret-123"  # tests.factories.make_user


# --- manage.py check --deploy -------------------------------------------------------------------


def production_env(**overrides: str) -> dict[str, str]:
    """The production values of .env.example (its active lines), with a real-looking secret key
    and host; the test run's database and Redis URLs are kept (check does not connect)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match and match.group(1) not in ("DATABASE_URL", "REDIS_URL", "CACHE_KEY_PREFIX"):
            env[match.group(1)] = match.group(2)
    env.update(
        SECRET_KEY="kQ7#v2Lp9@xR4!mZ8^wT1&bN6*cY3(hJ5)gF0-dS_aE+uI=oP{lK}rV|qW;eX",
        ALLOWED_HOSTS="sales.example.com",
        READ_DOT_ENV="false",
    )
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_with_the_production_env():
    env = production_env()
    assert env["DEBUG"] == "false"
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_https_settings():
    """The check has teeth: turning the HTTPS settings off is reported."""
    result = check_deploy(
        production_env(
            SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="0", SESSION_COOKIE_SECURE="false"
        )
    )
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012"):
        assert warning in result.stderr


def test_production_security_settings_from_env():
    code = (
        "from django.conf import settings as s; import json; print(json.dumps(["
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT,"
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        "getattr(s, 'SECURE_PROXY_SSL_HEADER', None),"
        "s.USE_X_FORWARDED_HOST, s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'],"
        "s.REST_FRAMEWORK['NUM_PROXIES'], s.DATA_UPLOAD_MAX_MEMORY_SIZE]))"
    )
    env = production_env(
        TRUST_X_FORWARDED_PROTO="true",
        USE_X_FORWARDED_HOST="true",
        THROTTLE_ANON_RATE="20/minute",
        THROTTLE_USER_RATE="off",
        THROTTLE_LOGIN_RATE="5/hour",
        THROTTLE_OAUTH_TOKEN_RATE="30/hour",
        THROTTLE_NUM_PROXIES="1",
        DATA_UPLOAD_MAX_MEMORY_SIZE="1048576",
        DJANGO_SETTINGS_MODULE="salesproject.settings",
    )
    output = python_output(f"import django; django.setup(); {code}", env)
    import json

    assert json.loads(output) == [
        31536000,
        True,
        True,
        True,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
        True,
        {"anon": "20/minute", "user": None, "login": "5/hour", "oauth_token": "30/hour"},
        1,
        1048576,
    ]


# --- Throttling ---------------------------------------------------------------------------------


@pytest.fixture
def low_rates(monkeypatch):
    """Low throttle rates. DRF reads the rates once, into the ``THROTTLE_RATES`` class attribute
    of SimpleRateThrottle, when rest_framework.throttling is imported; so neither the
    ``settings`` fixture nor ``api_settings.reload()`` would change them: patch the attribute."""
    rates = {"anon": "3/minute", "user": "5/minute", "login": "3/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    return rates


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert "throttled" in error["message"].lower()


@pytest.mark.django_db
def test_the_suite_runs_with_the_production_throttles_in_place():
    from django.conf import settings

    rest = settings.REST_FRAMEWORK
    assert rest["DEFAULT_THROTTLE_CLASSES"] == [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ]
    assert set(rest["DEFAULT_THROTTLE_RATES"]) == {"anon", "user", "login", "oauth_token"}


@pytest.mark.django_db
def test_anonymous_clients_get_429_with_retry_after(low_rates):
    client = APIClient()
    for _ in range(3):
        assert client.get("/api/products/").status_code == 200
    assert_throttled(client.get("/api/products/"))
    # Another address has its own count.
    assert client.get("/api/products/", REMOTE_ADDR="10.0.0.9").status_code == 200
    # X-Forwarded-For from the client does not reset the count (NUM_PROXIES = 0).
    assert_throttled(client.get("/api/products/", HTTP_X_FORWARDED_FOR="203.0.113.7"))


@pytest.mark.django_db
def test_a_user_over_the_limit_gets_429_others_do_not(low_rates, client_for):
    busy, other = client_for("manager"), client_for("manager")
    for _ in range(5):
        assert busy.get("/api/customers/").status_code == 200
    assert_throttled(busy.get("/api/customers/"))
    assert_throttled(busy.post("/api/customers/", {"name": "X"}, format="json"))
    assert other.get("/api/customers/").status_code == 200


@pytest.mark.django_db
def test_throttle_counts_live_in_the_django_cache(low_rates, client_for):
    client_for("manager").get("/api/customers/")
    if hasattr(cache, "keys"):  # django-redis: Redis, shared by every process
        assert cache.keys("throttle_user_*")
    else:
        pytest.skip("local-memory cache (embedded default)")


@pytest.mark.django_db
@pytest.mark.parametrize("ignore_exceptions", [True, False])
def test_throttling_fails_open_when_redis_is_down(low_rates, client_for, ignore_exceptions):
    """Redis unreachable (a closed port): requests are served, unthrottled, whether django-redis
    swallows the error (IGNORE_EXCEPTIONS, the settings' default) or raises it."""
    down = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": ignore_exceptions,
            },
        }
    }
    client = client_for("manager")
    with override_settings(CACHES=down, PERMISSION_CACHE_SECONDS=0):
        for _ in range(7):  # over the user rate of 5/minute
            assert client.get("/api/customers/").status_code == 200
        token = APIClient().post(
            reverse("token_obtain_pair"), {"username": client.user.username, "password": "x"}
        )
        assert token.status_code == 401


@pytest.mark.django_db
def test_login_is_throttled_after_bad_attempts(low_rates):
    make_user(username="victim")
    client = APIClient()
    url = reverse("token_obtain_pair")
    for _ in range(3):
        response = client.post(url, {"username": "victim", "password": "guess"}, format="json")
        assert response.status_code == 401
    # Even the right password is refused now: the client waits Retry-After seconds.
    response = client.post(url, {"username": "victim", "password": PASSWORD}, format="json")
    assert_throttled(response)
    # Other addresses can still log in.
    response = client.post(
        url, {"username": "victim", "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.2"
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_jwt_lifetimes_and_rotation_come_from_settings(settings):
    from rest_framework_simplejwt.settings import api_settings as jwt_settings

    assert settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] == jwt_settings.ACCESS_TOKEN_LIFETIME
    assert settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"] == jwt_settings.REFRESH_TOKEN_LIFETIME
    assert settings.SIMPLE_JWT["ROTATE_REFRESH_TOKENS"] == jwt_settings.ROTATE_REFRESH_TOKENS


# --- Nothing secret or internal in a response ----------------------------------------------------


def assert_no_secrets(body: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in body
    for marker in ("pbkdf2_sha256$", "argon2$", "md5$", "Traceback", "hashed_secret"):
        assert marker not in body


@pytest.mark.django_db
def test_no_password_hash_or_api_key_secret_in_any_response():
    superuser = make_user(is_superuser=True, is_staff=True)
    user = make_user(role="manager")
    api_key, full_key = make_api_key(name="Partner")
    secret = full_key.split(".", 1)[1]
    product = make_product(stock=10)
    make_sale(items=[(product, 1)], customer=make_customer())
    secrets = [user.password, superuser.password, secret, full_key, api_key.hashed_secret]

    api = APIClient()
    token = api.post(
        reverse("token_obtain_pair"), {"username": user.username, "password": PASSWORD}
    )
    assert token.status_code == 200
    assert set(token.json()) == {"access", "refresh"}
    assert_no_secrets(token.content.decode(), secrets)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    paths = ["/api/customers/", "/api/products/", "/api/sales/", "/api/jobs/"]
    paths += ["/api/stock-movements/", f"/api/products/{product.pk}/", "/api/schema/"]
    for path in paths:
        response = api.get(path)
        assert response.status_code == 200, path
        assert_no_secrets(response.content.decode(), secrets)
    # The catalog-compatible endpoint authenticated by the key does not echo it.
    response = APIClient().get(
        f"/api/products/{product.pk}/", HTTP_AUTHORIZATION=f"Api-Key {full_key}"
    )
    assert_no_secrets(response.content.decode(), secrets)  # fmt: skip

    admin = Client()
    admin.force_login(superuser)
    for name, args in (
        ("auth_user_changelist", ()),
        ("auth_user_change", (user.pk,)),
        ("accounts_apikey_changelist", ()),
        ("accounts_apikey_change", (api_key.pk,)),
    ):
        response = admin.get(reverse(f"admin:{name}", args=args))
        assert response.status_code == 200, name
        assert_no_secrets(response.content.decode(), secrets)
    assert ApiKey.objects.get(pk=api_key.pk).hashed_secret == api_key.hashed_secret


@pytest.mark.django_db
def test_an_internal_error_answers_500_without_internals(monkeypatch, client_for, settings):
    settings.DEBUG = False

    def explode(self, request, *args, **kwargs):
        raise RuntimeError("internal detail: password=hunter2 at /srv/secret.py")

    monkeypatch.setattr(CustomerViewSet, "list", explode)
    client = client_for("manager")
    client.raise_request_exception = False
    response = client.get("/api/customers/")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "server_error",
            "message": "An unexpected error occurred; it has been logged.",
            "fields": {},
        }
    }
    body = response.content.decode()
    for leak in ("hunter2", "RuntimeError", "Traceback", "secret.py"):
        assert leak not in body


# --- Admin actions respect model permissions ----------------------------------------------------


def staff_with(*codenames: str):
    user = make_user(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def action_names(response) -> list[str]:
    form = response.context["action_form"]
    return [] if form is None else [value for value, _ in form.fields["action"].choices]


def assert_action_refused(response):
    """Django's admin leaves an action the user may not run out of the form's choices (with no
    action left, out of the changelist's POST handling): a forged POST of it just shows the
    changelist again (or 403); the callers check nothing changed."""
    assert response.status_code in (200, 302, 403)


@pytest.mark.django_db
def test_price_change_action_needs_change_permission():
    product = make_product(price="10.00")
    client = staff_with("view_product")
    url = reverse("admin:products_product_changelist")
    response = client.get(url)
    assert response.status_code == 200
    assert "change_prices" not in action_names(response)
    response = client.post(
        url,
        {"action": "change_prices", "_selected_action": [product.pk], "apply": "1",
         "mode": "percent", "value": "50"},
    )  # fmt: skip
    assert_action_refused(response)
    assert Product.objects.get(pk=product.pk).price == Decimal("10.00")


@pytest.mark.django_db
def test_cancel_action_needs_cancel_permission_even_with_change():
    product = make_product(stock=10)
    sale = make_sale(items=[(product, 4)])
    client = staff_with("view_sale", "change_sale")
    url = reverse("admin:sales_sale_changelist")
    response = client.get(url)
    assert response.status_code == 200
    assert "cancel_sales" not in action_names(response)
    response = client.post(url, {"action": "cancel_sales", "_selected_action": [sale.pk]})
    assert_action_refused(response)
    assert Sale.objects.get(pk=sale.pk).status == SaleStatus.COMPLETED
    assert Product.objects.get(pk=product.pk).stock_quantity == 6
