"""Swagger UI (`/api/docs/`) and ReDoc (`/api/redoc/`) come from our own static files
(drf-spectacular-sidecar), never from a CDN: they work offline and their version is pinned in
requirements.txt."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

# Embedded too: `make run` (SQLite, no network needed) serves the same pages.
pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

PAGES = ("/api/docs/", "/api/redoc/")


class References(HTMLParser):
    """Every URL a page makes the browser load: ``src`` and ``href`` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


def page(path: str) -> str:
    response = Client().get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


@pytest.mark.parametrize("path", PAGES)
def test_docs_page_references_no_external_host(path):
    html = page(path)
    urls = references(html)
    assert urls, f"{path} references no script or stylesheet"
    external = [url for url in urls if urlsplit(url).scheme or urlsplit(url).netloc]
    assert external == [], f"{path} loads from outside the app: {external}"
    # Nor in inline scripts (a fetch or import of a CDN URL).
    for host in ("cdn.jsdelivr.net", "unpkg.com", "fonts.googleapis.com", "fonts.gstatic.com"):
        assert host not in html, f"{path} mentions {host}"


@pytest.mark.parametrize("path", PAGES)
def test_docs_page_static_files_are_ours_and_served(path):
    """Each referenced static file is found by the staticfiles finders (what collectstatic
    copies for the image) and served by WhiteNoise (with its finders, as in development)."""
    static_urls = [url for url in references(page(path)) if url.startswith(settings.STATIC_URL)]
    assert len(static_urls) >= (3 if path == "/api/docs/" else 1), static_urls
    with override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True):
        client = Client()  # a new handler: WhiteNoise reads its settings when it is built
        for url in static_urls:
            name = url[len(settings.STATIC_URL) :]
            found = finders.find(name)
            assert found, f"{name} is not in any app's static files"
            response = client.get(url)
            assert response.status_code == 200, url
            assert b"".join(response.streaming_content) == Path(found).read_bytes(), url
            kind = response["Content-Type"]
            if url.endswith(".js"):
                assert "javascript" in kind, (url, kind)
            elif url.endswith(".css"):
                assert kind.startswith("text/css"), (url, kind)


def test_sidecar_version_is_pinned():
    pinned = [
        line.strip()
        for line in (settings.BASE_DIR / "requirements.txt").read_text().splitlines()
        if line.lower().startswith("drf-spectacular-sidecar")
    ]
    assert len(pinned) == 1 and "==" in pinned[0], pinned
