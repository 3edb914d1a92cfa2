"""The API's JSON parser: DRF's, with the nesting of a body bounded.

``json.loads`` recurses once per nested array or object: ``[[[[...]]]]`` 100,000 levels deep
(200 KB) raised RecursionError, a 500. No body of this API nests deeper than a few levels (a
sale, its lines, a line's fields), so a body nested deeper than ``API_JSON_MAX_DEPTH`` is a 400
naming the limit, whether the decoder gave up first or not. The body's size is bounded already
by ``DATA_UPLOAD_MAX_MEMORY_SIZE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError


def json_depth_exceeds(data: Any, max_depth: int) -> bool:
    """Whether ``data`` (parsed JSON) nests arrays/objects more than ``max_depth`` deep. Walks
    the containers only, without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def too_deep_message() -> str:
    return (
        f"JSON parse error - the body nests arrays/objects more than "
        f"{settings.API_JSON_MAX_DEPTH} levels deep."
    )


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep_message()) from None
        if json_depth_exceeds(data, settings.API_JSON_MAX_DEPTH):
            raise ParseError(too_deep_message())
        return data
