"""Conditional GET (RFC 9110) for the read actions of a DRF viewset.

``list`` and ``retrieve`` answer with ``ETag`` and ``Last-Modified`` computed from a cheap
validator query (the viewset's ``get_data_state()``, a selector), never from rendering the body,
and with ``304 Not Modified`` (empty body, nothing of the action run: no filter, page or
serializer) when the client's copy is current. Django's own ``get_conditional_response`` decides
(``If-Match``/``If-Unmodified-Since`` → 412, then ``If-None-Match`` with weak comparison and
``*``, and ``If-Modified-Since`` only when there is no ``If-None-Match``).

Why not ``django.views.decorators.http.condition``: its ``etag_func`` sees only the request,
while the ETag depends on the view (action, negotiated renderer, who sees what), and the headers
are set on the 200 and the 304 alike here, with ``Cache-Control``/``Vary``.

The ETag is strong: it hashes the data state, the representation's variant (e.g. whether the
user sees ``cost``), the representation version, the absolute URL (query string, host and
scheme: the pagination links are absolute), the renderer and accepted media type (``indent``)
and the time zone; DRF's JSON for the same inputs is the same bytes. Only JSON gets validators:
the browsable API's HTML carries a CSRF token and the user's name, so it is never 304'd.

The validator is read before the body: a write in between gives a newer body under the older
ETag, which only costs the client one more 200 later, never a stale 304.
"""

from __future__ import annotations

import hashlib
from calendar import timegm
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.http import HttpResponseBase
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date, quote_etag
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

if TYPE_CHECKING:
    from rest_framework import mixins, viewsets

    # In ModelViewSet's order (retrieve, then list), so that both can be bases of a viewset.
    class _ReadViewSet(
        mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet[Any]
    ):
        pass
else:
    _ReadViewSet = object


class DataState(Protocol):
    """What ``get_data_state()`` returns (e.g. products.selectors.DataState)."""

    @property
    def fingerprint(self) -> Hashable: ...

    @property
    def last_modified(self) -> datetime | None: ...


class ConditionalGetMixin(_ReadViewSet):
    """Subclasses set ``representation_version`` and implement ``get_data_state()`` (a selector's
    ``DataState`` with ``fingerprint`` and ``last_modified``, or None: no validators, the action
    answers as usual, e.g. 404); ``get_representation_variant()`` adds what the body depends on
    besides the data (e.g. the user's permissions)."""

    representation_version = "1"
    # Cost visibility depends on the user (JWT or session), the format on Accept.
    conditional_vary = ("Accept", "Authorization", "Cookie")

    def get_data_state(self) -> DataState | None:
        raise NotImplementedError

    def get_representation_variant(self) -> Hashable:
        return None

    # A 304 is Django's HttpResponseNotModified, not a DRF Response: the overrides say so.
    def list(  # type: ignore[override]
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        return self.conditional_get(super().list, request, *args, **kwargs)

    def retrieve(  # type: ignore[override]
        self, request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        return self.conditional_get(super().retrieve, request, *args, **kwargs)

    def conditional_get(
        self, action: Callable[..., HttpResponseBase], request: Request, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response: HttpResponseBase | None
        state = None
        if request.method in ("GET", "HEAD") and isinstance(
            request.accepted_renderer, JSONRenderer
        ):
            state = self.get_data_state()
        if state is None:
            response = action(request, *args, **kwargs)
            if response.status_code == 200:
                self._patch_caching(response)
            return response
        etag = self.etag(request, state)
        last_modified = timegm(state.last_modified.utctimetuple()) if state.last_modified else None
        response = get_conditional_response(request, etag=etag, last_modified=last_modified)
        if response is None:
            response = action(request, *args, **kwargs)
        if response.status_code in (200, 304):
            response.headers["ETag"] = etag
            if last_modified is not None:
                response.headers["Last-Modified"] = http_date(last_modified)
            self._patch_caching(response)
        return response

    def etag(self, request: Request, state: DataState) -> str:
        material = (
            self.representation_version,
            state.fingerprint,
            self.get_representation_variant(),
            request.build_absolute_uri(),
            request.accepted_renderer.format,
            request.accepted_media_type,
            timezone.get_current_timezone_name(),
            getattr(self.paginator, "page_size", None),
        )
        digest = hashlib.blake2b(repr(material).encode(), digest_size=16).hexdigest()
        return quote_etag(digest)

    def _patch_caching(self, response: HttpResponseBase) -> None:
        # Stored by the client only (costs are per user), revalidated on every use.
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, self.conditional_vary)
