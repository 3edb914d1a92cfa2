"""DRF throttles that fail open: the counts live in the default cache (Redis), and when it cannot
be reached (django-redis raising, with IGNORE_EXCEPTIONS off) a request is served unthrottled
and a warning logged, rather than answered 500. With IGNORE_EXCEPTIONS on (the settings'
default) django-redis already answers "no history", which has the same effect."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rest_framework import throttling

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

    _Throttle = throttling.SimpleRateThrottle
else:
    _Throttle = object

logger = logging.getLogger(__name__)


class FailOpenMixin(_Throttle):
    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache is down: serve rather than refuse
            logger.warning(
                "throttle %s not applied, the cache is unavailable: %s",
                type(self).__name__,
                exc,
            )
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    """Anonymous calls, per client IP (scope ``anon``)."""


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    """Authenticated calls, per user (scope ``user``); a call with an OAuth2 token counts for
    its application (every user it acts for together), not for the user."""

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        application_id = getattr(request.auth, "application_id", None)  # an OAuth2 token
        if application_id is not None:
            return self.cache_format % {"scope": self.scope, "ident": f"app-{application_id}"}
        return super().get_cache_key(request, view)


class ScopedRateThrottle(FailOpenMixin, throttling.ScopedRateThrottle):
    """Per view ``throttle_scope`` (``login`` on the token endpoint), per user or client IP."""
