"""Swagger UI's Authorize button with OAuth2 client credentials, in a real browser (Debian's
Chromium, Playwright) against a live server: the client id and secret of an application, the
analytics scope, then "Try it out" on the analytics summary answers 200 with the token."""

from __future__ import annotations

import pytest

from tests.browser.test_admin_browser import ARTIFACTS, browser  # noqa: F401  (the fixture)
from tests.factories import make_user
from tests.oauth.conftest import make_application

# serialized_rollback: an earlier transactional test flushed the role groups the migrations made.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_swagger_ui_authorizes_with_client_credentials(browser, live_server, fast_password_hasher):  # noqa: F811
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    application, secret = make_application(user=make_user(role="analyst"), name="Swagger BI")
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/api/docs/")
        page.click("button.btn.authorize")
        page.fill("#client_id_clientCredentials", application.client_id)
        page.fill("#client_secret_clientCredentials", secret)
        page.locator("label[for='analytics-clientCredentials-checkbox-oauth2']").click()
        flow = page.locator(".auth-container", has=page.locator("#client_id_clientCredentials"))
        flow.locator("button.authorize").click()
        page.locator(".modal-ux button:has-text('Logout')").first.wait_for()  # authorized
        page.screenshot(path=str(ARTIFACTS / "swagger-oauth-authorized.png"))
        page.locator(".modal-ux .close-modal").click()

        operation = page.locator("#operations-analytics-analytics_summary_retrieve")
        operation.locator(".opblock-summary").click()
        operation.locator("button.try-out__btn").click()
        with page.expect_response("**/api/analytics/summary/**") as answer:
            operation.locator("button.execute").click()
        response = answer.value
        assert response.status == 200, response.text()
        assert response.request.headers["authorization"].startswith("Bearer ")
        assert "." not in response.request.headers["authorization"]  # OAuth2, not a JWT
        assert "current" in response.json()
        page.screenshot(path=str(ARTIFACTS / "swagger-oauth-call.png"))
    finally:
        context.close()
