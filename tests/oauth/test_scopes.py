"""Every endpoint declares the OAuth2 scope it needs (``oauth_scopes`` next to its permission
classes): walked from the URL resolver, like the role matrix of tests/api/test_permissions.py.

For every route and method: a token without the scope gets 403 ``insufficient_scope`` naming
it, and a token with it (and only it) passes the scope check. Views closed to tokens are
listed below with the reason; a new view or action that says nothing fails here.
"""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.oauth.authentication import OAuth2Authentication
from accounts.oauth.scopes import required_scopes
from tests.api import assert_error
from tests.factories import make_user
from tests.oauth.conftest import bearer, make_application, make_token

pytestmark = [pytest.mark.django_db]

SCOPES = set(settings.OAUTH2_PROVIDER["SCOPES"])

# View classes that OAuth2 authentication runs on but that take no token, and why.
CLOSED_TO_TOKENS = {
    "LogoutEverywhereView": "a person's own act (ends their JWTs and sessions)",
    "SpectacularAPIView": "the public schema: fetched without a token",
    "SpectacularSwaggerView": "the public Swagger UI page",
    "SpectacularRedocView": "the public ReDoc page",
}


def _walk(patterns, prefix=""):
    for entry in patterns:
        regex = entry.pattern.regex.pattern.lstrip("^").rstrip("$").replace("\\Z", "")
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + regex)
        elif isinstance(entry, URLPattern):
            yield prefix + regex, entry.callback


def _url(regex: str) -> str:
    url = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", regex)
    url = re.sub(r"<(?:\w+:)?\w+>", "1", url)  # path() converters
    url = re.sub(r"\\(.)", r"\1", url)  # regex escapes (logout\-all)
    return "/" + url


def _endpoints():
    """(url, method, view class, action) for every method of every API route that OAuth2
    authentication runs on."""
    found = []
    for regex, callback in _walk(get_resolver().url_patterns):
        cls = getattr(callback, "cls", None)
        if cls is None or "format" in regex or not regex.startswith("api/"):
            continue
        if OAuth2Authentication not in [type(a) for a in cls().get_authenticators()] and not any(
            issubclass(a, OAuth2Authentication) for a in cls.authentication_classes
        ):
            continue
        actions = getattr(callback, "actions", None)
        if actions:
            for method, action in actions.items():
                found.append((_url(regex), method.upper(), cls, action))
        else:
            for method in ("get", "post", "put", "patch", "delete"):
                if hasattr(cls, method):
                    found.append((_url(regex), method.upper(), cls, None))
    return found


ENDPOINTS = _endpoints()


def _needed(cls, action, method):
    view = cls()
    view.action = action
    return required_scopes(view, method)


def test_the_walk_finds_the_api():
    urls = {url for url, *_ in ENDPOINTS}
    assert {"/api/customers/", "/api/sales/1/cancel/", "/api/analytics/summary/"} <= urls
    assert len(ENDPOINTS) > 40


@pytest.mark.parametrize(
    "url,method,cls,action", ENDPOINTS, ids=[f"{m} {u}" for u, m, _c, _a in ENDPOINTS]
)
def test_every_endpoint_declares_its_scope(url, method, cls, action):
    needed = _needed(cls, action, method)
    if needed is None:
        assert cls.__name__ in CLOSED_TO_TOKENS, (
            f"{method} {url} ({cls.__name__}.{action}) declares no OAuth2 scope: add it to the "
            "view's oauth_scopes (or list the view in CLOSED_TO_TOKENS with the reason)"
        )
    else:
        assert set(needed) <= SCOPES, needed


@pytest.fixture
def superuser_app():
    user = make_user(is_superuser=True, is_staff=True)
    application, _ = make_application(user=user)
    return application


@pytest.mark.parametrize(
    "url,method,cls,action", ENDPOINTS, ids=[f"{m} {u}" for u, m, _c, _a in ENDPOINTS]
)
def test_a_token_without_the_scope_is_refused_and_one_with_it_passes(
    client, superuser_app, url, method, cls, action
):
    needed = _needed(cls, action, method)
    others = " ".join(sorted(SCOPES - set(needed or ())))
    refused = client.generic(
        method,
        url,
        "{}",
        content_type="application/json",
        **bearer(make_token(superuser_app, scope=others)),
    )
    if needed is None:  # the schema and docs pages answer in their own format
        assert refused.status_code == 403, refused.content
        if refused["Content-Type"].startswith("application/json"):
            assert (
                "not open to OAuth2" in assert_error(refused, 403, "insufficient_scope")["message"]
            )
        return
    error = assert_error(refused, 403, "insufficient_scope")
    for scope in needed:
        assert repr(scope) in error["message"], error["message"]
        answer = client.generic(
            method,
            url,
            "{}",
            content_type="application/json",
            **bearer(make_token(superuser_app, scope=scope)),
        )
        assert answer.status_code not in (401,), answer.content
        if answer.status_code == 403:
            assert answer.json()["error"]["code"] != "insufficient_scope", answer.content


def test_jwt_and_session_requests_ignore_scopes(client_for):
    """The scope check is for OAuth2 tokens only: the role matrix is unchanged for others."""
    client = client_for("manager")
    assert client.post("/api/auth/logout-all/").status_code == 204
