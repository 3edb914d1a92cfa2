"""OAuth2 administration and operations: the admin (secret shown once, hashed), DOT's
createapplication, throttling per application, the application's name in the logs, the
token endpoint's rate, and the OpenAPI security scheme."""

from __future__ import annotations

import logging
import re
from io import StringIO

import pytest
from django.core.management import call_command
from oauth2_provider.models import Application
from rest_framework.throttling import SimpleRateThrottle

from tests.api import assert_error
from tests.factories import make_user
from tests.oauth.conftest import basic_auth, bearer, make_application, make_token

pytestmark = [pytest.mark.django_db]


def token_for(client, application, secret, scope="read"):
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def test_the_admin_creates_an_application_and_shows_its_secret_once(admin_client, client):
    owner = make_user(role="analyst", username="bi-robot")
    page = admin_client.post(
        "/admin/oauth2_provider/application/add/",
        {
            "name": "BI tool",
            "user": owner.pk,
            "client_type": "confidential",
            "authorization_grant_type": "client-credentials",
            "redirect_uris": "",
        },
    )
    assert page.status_code == 200, page.content
    assert "no-store" in page.headers["Cache-Control"]
    ((_application, secret),) = page.context["secrets"]
    assert secret.encode() in page.content
    stored = Application.objects.get(name="BI tool")
    assert stored.client_secret != secret and stored.client_secret.startswith(("pbkdf2", "md5"))
    token = token_for(client, stored, secret, scope="analytics")
    assert client.get("/api/analytics/summary/", **bearer(token)).status_code == 200
    # The change page never shows the secret, nor a field to type one.
    change = admin_client.get(f"/admin/oauth2_provider/application/{stored.pk}/change/")
    assert b"client_secret" not in change.content


@pytest.mark.parametrize("grant", ["password", "implicit", "openid-hybrid"])
def test_the_admin_offers_only_our_two_grants(admin_client, grant):
    page = admin_client.post(
        "/admin/oauth2_provider/application/add/",
        {
            "name": "Legacy",
            "user": make_user().pk,
            "client_type": "confidential",
            "authorization_grant_type": grant,
        },
    )
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["authorization_grant_type"]
    assert not Application.objects.exists()


def test_a_client_credentials_application_needs_a_user(admin_client):
    page = admin_client.post(
        "/admin/oauth2_provider/application/add/",
        {
            "name": "Nobody's",
            "client_type": "confidential",
            "authorization_grant_type": "client-credentials",
        },
    )
    assert page.context["adminform"].form.errors["user"]
    assert not Application.objects.exists()


def test_createapplication_works_as_documented(client):
    user = make_user(role="sales")
    out = StringIO()
    call_command(
        "createapplication",
        "confidential",
        "client-credentials",
        "--name",
        "Shop front",
        "--user",
        str(user.pk),
        stdout=out,
    )
    secret = re.search(r"client_secret: (\S+)", out.getvalue()).group(1)
    application = Application.objects.get(name="Shop front")
    assert application.client_secret != secret  # hashed
    token = token_for(client, application, secret, scope="read")
    assert client.get("/api/sales/", **bearer(token)).status_code == 200


@pytest.fixture
def low_user_rate(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "user": "3/minute", "oauth_token": "4/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_throttling_counts_per_application(client, low_user_rate):
    """Two users behind one application share its count; another application, and the user
    itself with another credential, have their own."""
    shared, _ = make_application(user=make_user(role="manager"), name="Shared")
    other, _ = make_application(user=shared.user, name="Other")
    first = make_token(shared, scope="read")
    second = make_token(shared, scope="read", user=make_user(role="analyst"))
    for token in (first, second, first):
        assert client.get("/api/customers/", **bearer(token)).status_code == 200
    throttled = client.get("/api/customers/", **bearer(second))
    assert_error(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0
    assert (
        client.get("/api/customers/", **bearer(make_token(other, scope="read"))).status_code == 200
    )


def test_the_token_endpoint_is_rate_limited_per_address(client, low_user_rate):
    application, secret = make_application(user=make_user(role="analyst"))
    wrong = basic_auth(application.client_id, "not-the-secret")
    for _ in range(4):
        response = client.post(
            "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=wrong
        )
        assert response.status_code == 401
    limited = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert int(limited["Retry-After"]) > 0


def test_token_use_is_logged_with_the_applications_name(client, caplog):
    application, _ = make_application(user=make_user(role="analyst"), name="Nightly BI")
    token = make_token(application, scope="read")
    with caplog.at_level(logging.INFO):
        assert client.get("/api/customers/?ordering=bogus", **bearer(token)).status_code == 400
    used = [r for r in caplog.records if r.name == "accounts.oauth"]
    assert used and "'Nightly BI'" in used[0].getMessage()
    assert "GET /api/customers/" in used[0].getMessage()
    # Every later line of the request names the application too (the 400's warning).
    later = [r for r in caplog.records if r.name == "django.request"]
    assert later and all(r.client == "Nightly BI" for r in later)


def test_the_text_log_line_names_the_application():
    from core.ops.request_id import TextFormatter

    record = logging.makeLogRecord(
        {"msg": "hello", "levelname": "INFO", "name": "x", "request_id": "r-1", "client": "BI"}
    )
    line = TextFormatter("%(levelname)s [%(ids)s] %(message)s").format(record)
    assert line == "INFO [r-1 app=BI] hello"


def test_the_schema_declares_the_oauth2_flows_and_each_operations_scopes(client):
    schema = client.get("/api/schema/?format=json").json()
    scheme = schema["components"]["securitySchemes"]["oauth2"]
    assert scheme["type"] == "oauth2"
    flows = scheme["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "/o/token/"
    assert flows["authorizationCode"]["authorizationUrl"] == "/o/authorize/"
    assert flows["authorizationCode"]["tokenUrl"] == "/o/token/"
    assert set(flows["clientCredentials"]["scopes"]) == {"read", "write", "import", "analytics"}
    paths = schema["paths"]

    def oauth(path, method):
        return [r["oauth2"] for r in paths[path][method]["security"] if "oauth2" in r]

    assert oauth("/api/customers/", "get") == [["read"]]
    assert oauth("/api/customers/", "post") == [["write"]]
    assert oauth("/api/sales/bulk/", "post") == [["import"]]
    assert oauth("/api/products/price-update/", "post") == [["import"]]
    assert oauth("/api/analytics/summary/", "get") == [["analytics"], ["read"]]
    assert oauth("/api/auth/logout-all/", "post") == []  # closed to applications
    # The other schemes stay.
    assert {"jwtAuth": []} in paths["/api/customers/"]["get"]["security"]


def test_swagger_ui_uses_pkce_for_the_authorization_code_flow(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert b"usePkceWithAuthorizationCodeGrant" in page.content


def test_expired_tokens_are_cleared_by_the_beat_task():
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    from accounts.tasks import clear_expired_oauth_tokens_task

    entry = settings.CELERY_BEAT_SCHEDULE["clear-expired-oauth-tokens"]
    assert entry["task"] == clear_expired_oauth_tokens_task.name
    application, _ = make_application(user=make_user(role="analyst"))
    make_token(application, scope="read")
    make_token(application, scope="read")
    live, stale = AccessToken.objects.order_by("pk")
    AccessToken.objects.filter(pk=stale.pk).update(expires=timezone.now() - timedelta(seconds=1))
    clear_expired_oauth_tokens_task()
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [live.pk]


@pytest.mark.parametrize(
    "variable,value",
    [
        ("OAUTH2_ACCESS_TOKEN_SECONDS", "10"),
        ("OAUTH2_ACCESS_TOKEN_SECONDS", "an hour"),
        ("OAUTH2_REFRESH_TOKEN_DAYS", "0"),
        ("THROTTLE_OAUTH_TOKEN_RATE", "60/fortnight"),
    ],
)
def test_bad_oauth2_settings_fail_at_start_naming_the_variable(variable, value):
    from tests.test_settings import load_settings

    result = load_settings(**{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr


def test_oauth2_settings_from_the_environment():
    import os

    from tests.probes import run_python

    env = {
        **os.environ,
        "READ_DOT_ENV": "false",
        "OAUTH2_ACCESS_TOKEN_SECONDS": "600",
        "OAUTH2_REFRESH_TOKEN_DAYS": "2",
        "DJANGO_SETTINGS_MODULE": "salesproject.settings",
    }
    code = (
        "import django; django.setup(); from oauth2_provider.settings import oauth2_settings as o;"
        "print(o.ACCESS_TOKEN_EXPIRE_SECONDS, o.REFRESH_TOKEN_EXPIRE_SECONDS)"
    )
    result = run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["600", str(2 * 86_400)]
