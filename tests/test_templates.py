"""Project-level templates (issue 16): the admin and the browsable API carry the site's name
(SITE_NAME) instead of Django's, and the browsable API links to the docs and the dashboard."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_the_admin_is_branded_with_the_site_name(client):
    html = client.get("/admin/login/").content.decode()
    assert settings.SITE_NAME in html
    assert "Django administration" not in html
    assert "Django site admin" not in html


def test_the_browsable_api_is_branded_and_links_to_docs_and_dashboard(client):
    html = client.get("/api/", HTTP_ACCEPT="text/html").content.decode()
    assert settings.SITE_NAME in html
    assert "Django REST framework</a>" not in html
    assert 'href="/api/docs/"' in html
    assert 'href="/dashboard/"' in html
