"""OAuth2 end to end over HTTP: real tokens from /o/token/, a real authorization code with PKCE
through our login page and the consent page, refresh rotation, revocation taking effect at
once, and the grants we do not offer refused."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, RefreshToken

from tests.api import assert_error
from tests.factories import make_user
from tests.oauth.conftest import basic_auth, bearer, make_application

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

REDIRECT = "https://partner.example.com/callback"


def client_credentials(client, application, secret, scope="read"):
    return client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": scope},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )


@pytest.fixture
def machine():
    """A client-credentials application registered to a user of the sales role."""
    application, secret = make_application(user=make_user(role="sales"), name="Shop front")
    return application, secret


def test_client_credentials_token_acts_as_the_applications_user(client, machine):
    application, secret = machine
    response = client_credentials(client, application, secret, scope="read write")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert "refresh_token" not in body  # client credentials: ask again instead
    token = AccessToken.objects.get(application=application)
    assert token.user == application.user
    assert token.token == ""  # stored as its checksum only

    headers = bearer(body["access_token"])
    assert client.get("/api/customers/", **headers).status_code == 200
    created = client.post(
        "/api/customers/", {"name": "Via OAuth", "email": "oauth@example.com"}, **headers
    )
    assert created.status_code == 201, created.content


def test_the_role_bounds_the_application(client):
    """Every scope, but an analyst's role: writes are refused by the role (403
    permission_denied), after the scope check passed."""
    application, secret = make_application(user=make_user(role="analyst"))
    body = client_credentials(client, application, secret, scope="read write import").json()
    response = client.post(
        "/api/customers/", {"name": "X", "email": "x@example.com"}, **bearer(body["access_token"])
    )
    assert_error(response, 403, "permission_denied")


def test_a_missing_scope_is_named(client, machine):
    application, secret = machine
    body = client_credentials(client, application, secret, scope="read").json()
    response = client.post(
        "/api/customers/", {"name": "X", "email": "x@example.com"}, **bearer(body["access_token"])
    )
    error = assert_error(response, 403, "insufficient_scope")
    assert "'write'" in error["message"] and "POST /api/customers/" in error["message"]
    analytics_only = client_credentials(client, application, secret, scope="analytics").json()
    headers = bearer(analytics_only["access_token"])
    assert client.get("/api/analytics/summary/", **headers).status_code == 200
    assert_error(client.get("/api/customers/", **headers), 403, "insufficient_scope")


def test_no_scope_asked_gets_read_only(client, machine):
    application, secret = machine
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.json()["scope"] == "read"


def test_an_unknown_scope_is_refused(client, machine):
    application, secret = machine
    response = client_credentials(client, application, secret, scope="read admin")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_an_application_without_a_user_gets_no_client_credentials_token(client):
    application, secret = make_application(user=None)
    response = client_credentials(client, application, secret)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    "grant", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
)
def test_grants_we_do_not_offer_are_refused(client, grant):
    application, secret = make_application(user=make_user(role="manager"), grant="password")
    response = client.post(
        "/o/token/",
        {"grant_type": grant, "username": application.user.username, "password": "pw-Secret-123"},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"] in ("unsupported_grant_type", "unauthorized_client")
    assert not AccessToken.objects.exists()


def test_the_implicit_flow_is_refused_at_authorize(client):
    user = make_user(role="analyst")
    application, _ = make_application(
        user=user, grant="implicit", client_type="public", redirect_uris=REDIRECT
    )
    client.force_login(user)
    query = {"response_type": "token", "client_id": application.client_id, "redirect_uri": REDIRECT}
    response = client.get("/o/authorize/?" + urlencode(query))
    assert response.status_code == 302
    assert response.headers["Location"] == f"{REDIRECT}?error=unsupported_response_type"


def test_a_wrong_or_rotated_secret_is_refused(client, machine, admin_client):
    application, secret = machine
    assert client_credentials(client, application, secret + "x").status_code == 401
    page = admin_client.post(
        "/admin/oauth2_provider/application/",
        {"action": "rotate_secret", "_selected_action": [application.pk]},
    )
    assert page.status_code == 200
    assert "no-store" in page.headers.get("Cache-Control", "")
    ((shown_app, new_secret),) = page.context["secrets"]
    assert shown_app.pk == application.pk and new_secret.encode() in page.content
    assert not list(page.context["messages"])  # never in the message cookie

    refused = client_credentials(client, application, secret)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert client_credentials(client, application, new_secret).status_code == 200


# --- Authorization code with PKCE, through the login and consent pages -----------------------


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


@pytest.fixture
def person():
    return make_user(role="sales", username="alice")


@pytest.fixture
def partner_app():
    """An application acting for people: public client (no secret), PKCE."""
    owner = make_user(is_staff=True)
    application, _ = make_application(
        user=owner,
        grant="authorization-code",
        client_type="public",
        redirect_uris=REDIRECT,
        name="Partner integration",
    )
    return application


def authorize_url(application, challenge, scope="read write", state="s-1"):
    query = {
        "response_type": "code",
        "client_id": application.client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return "/o/authorize/?" + urlencode(query)


def consent(browser: Client, application, person, challenge) -> str:
    """Log in on our login page, allow on the consent page: the code the redirect carries."""
    url = authorize_url(application, challenge)
    page = browser.get(url)
    if page.status_code == 302:  # not logged in yet
        login_url = page.headers["Location"]
        assert login_url.startswith("/api-auth/login/")  # ours, not the admin's (staff only)
        next_url = parse_qs(urlsplit(login_url).query)["next"][0]
        assert browser.get(login_url).status_code == 200
        logged_in = browser.post(
            "/api-auth/login/",
            {"username": person.username, "password": "pw-Secret-123", "next": next_url},
        )
        assert logged_in.status_code == 302 and logged_in.headers["Location"] == next_url
        page = browser.get(next_url)
    assert page.status_code == 200
    assert b"Partner integration" in page.content
    form = page.context["form"]
    fields = {name: value for name, value in form.initial.items() if value is not None}
    allowed = browser.post(url, {**fields, "allow": "Authorize"})
    assert allowed.status_code == 302, allowed.content
    location = urlsplit(allowed.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


def test_authorization_code_with_pkce_end_to_end(person, partner_app):
    browser, api = Client(), Client()
    _verifier, challenge = pkce_pair()
    code = consent(browser, partner_app, person, challenge)

    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": partner_app.client_id,
    }
    wrong = api.post("/o/token/", {**exchange, "code_verifier": pkce_pair()[0]})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    verifier2, challenge2 = pkce_pair()
    code = consent(browser, partner_app, person, challenge2)  # a refused code is spent
    tokens = api.post("/o/token/", {**exchange, "code": code, "code_verifier": verifier2})
    assert tokens.status_code == 200, tokens.content
    body = tokens.json()
    assert AccessToken.objects.get(application=partner_app).user == person

    headers = bearer(body["access_token"])
    assert api.get("/api/sales/", **headers).status_code == 200
    created = api.post(
        "/api/customers/", {"name": "For Alice", "email": "alice-c@example.com"}, **headers
    )
    assert created.status_code == 201, created.content

    # Refresh with rotation: a new pair; the old refresh token is spent, and reusing it ends
    # the whole family (REFRESH_TOKEN_REUSE_PROTECTION).
    refresh = {"grant_type": "refresh_token", "client_id": partner_app.client_id}
    renewed = api.post("/o/token/", {**refresh, "refresh_token": body["refresh_token"]})
    assert renewed.status_code == 200, renewed.content
    new = renewed.json()
    assert new["refresh_token"] != body["refresh_token"]
    assert new["access_token"] != body["access_token"]
    assert api.get("/api/sales/", **bearer(new["access_token"])).status_code == 200
    assert_error(api.get("/api/sales/", **bearer(body["access_token"])), 401)
    reused = api.post("/o/token/", {**refresh, "refresh_token": body["refresh_token"]})
    assert reused.status_code == 400
    assert_error(api.get("/api/sales/", **bearer(new["access_token"])), 401)


def test_pkce_is_required(person, partner_app):
    browser = Client()
    browser.force_login(person)
    query = {
        "response_type": "code",
        "client_id": partner_app.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read",
    }
    response = browser.get("/o/authorize/?" + urlencode(query))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "error=invalid_request" in location and "Code+challenge+required" in location
    assert "code=" not in location


def test_a_denied_consent_gives_no_code(person, partner_app):
    browser = Client()
    browser.force_login(person)
    _verifier, challenge = pkce_pair()
    url = authorize_url(partner_app, challenge)
    form = browser.get(url).context["form"]
    fields = {name: value for name, value in form.initial.items() if value is not None}
    denied = browser.post(url, fields)  # "Cancel": no "allow"
    assert "error=access_denied" in denied.headers["Location"]
    assert "code=" not in denied.headers["Location"]


# --- Revocation ------------------------------------------------------------------------------


def test_revoking_a_token_takes_effect_at_once(client, machine):
    application, secret = machine
    token = client_credentials(client, application, secret).json()["access_token"]
    headers = bearer(token)
    assert client.get("/api/customers/", **headers).status_code == 200
    revoked = client.post(
        "/o/revoke_token/",
        {"token": token},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert revoked.status_code == 200
    error = assert_error(client.get("/api/customers/", **headers), 401, "token_not_valid")
    assert "revoked" in error["message"]


def test_the_admin_revokes_every_token_of_an_application(client, machine, admin_client):
    application, secret = machine
    tokens = [client_credentials(client, application, secret).json()["access_token"] for _ in "ab"]
    for token in tokens:
        assert client.get("/api/customers/", **bearer(token)).status_code == 200
    done = admin_client.post(
        "/admin/oauth2_provider/application/",
        {"action": "revoke_tokens", "_selected_action": [application.pk]},
        follow=True,
    )
    assert b"Revoked 2 access token(s)" in done.content
    for token in tokens:
        assert_error(client.get("/api/customers/", **bearer(token)), 401, "token_not_valid")


def test_a_deactivated_users_token_is_refused_at_once(client, machine):
    application, secret = machine
    token = client_credentials(client, application, secret).json()["access_token"]
    assert client.get("/api/customers/", **bearer(token)).status_code == 200
    application.user.is_active = False
    application.user.save()
    assert_error(client.get("/api/customers/", **bearer(token)), 401, "user_inactive")


def test_introspection_with_the_client_credentials(client, machine):
    application, secret = machine
    token = client_credentials(client, application, secret, scope="read write").json()
    answer = client.post(
        "/o/introspect/",
        {"token": token["access_token"]},
        HTTP_AUTHORIZATION=basic_auth(application.client_id, secret),
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["active"] is True and answer.json()["scope"] == "read write"


def test_refresh_tokens_are_revoked_with_the_application(person, partner_app):
    """A refresh token of a revoked application cannot mint a new access token."""
    from accounts.oauth.services import oauth_application_revoke_tokens

    browser, api = Client(), Client()
    verifier, challenge = pkce_pair()
    code = consent(browser, partner_app, person, challenge)
    body = api.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": partner_app.client_id,
            "code_verifier": verifier,
        },
    ).json()
    oauth_application_revoke_tokens(application=partner_app)
    assert RefreshToken.objects.filter(application=partner_app, revoked__isnull=True).count() == 0
    again = api.post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": partner_app.client_id,
        },
    )
    assert again.status_code == 400


def test_the_token_endpoints_need_no_csrf_token(machine):
    """Applications are not browsers: /o/token/, /o/revoke_token/ and /o/introspect/ take
    a POST without Django's CSRF cookie (the test client skips the check unless told)."""
    application, secret = machine
    client = Client(enforce_csrf_checks=True)
    auth = basic_auth(application.client_id, secret)
    response = client_credentials(client, application, secret)
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    introspected = client.post("/o/introspect/", {"token": token}, HTTP_AUTHORIZATION=auth)
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    revoked = client.post("/o/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=auth)
    assert revoked.status_code == 200
    assert_error(client.get("/api/customers/", **bearer(token)), 401, "token_not_valid")


def test_log_out_everywhere_ends_the_users_oauth2_tokens(client, machine):
    """Log out everywhere ends every token of the user: the OAuth2 ones too (those of the
    applications acting as the user or for them), at once."""
    from accounts.services import user_logout_everywhere

    application, secret = machine
    token = client_credentials(client, application, secret).json()["access_token"]
    assert client.get("/api/customers/", **bearer(token)).status_code == 200
    user_logout_everywhere(user_id=application.user.pk)
    assert_error(client.get("/api/customers/", **bearer(token)), 401, "token_not_valid")
    # The application itself stays: it gets a new token.
    assert client_credentials(client, application, secret).status_code == 200
