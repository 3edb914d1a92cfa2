"""Template context of every page: the site's name and the currency (settings SITE_NAME and
CURRENCY), for the project's templates (admin branding, browsable API, dashboard)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    return {"SITE_NAME": settings.SITE_NAME, "CURRENCY": settings.CURRENCY}
