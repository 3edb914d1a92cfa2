"""OpenAPI generation (drf-spectacular): input and output serializers, and the error shape on
every operation."""

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction, OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):  # type: ignore[type-arg]  # not generic at runtime
    code = serializers.CharField(
        help_text="Machine-readable, e.g. `invalid`, `insufficient_stock`."
    )
    message = serializers.CharField(help_text="Human-readable summary.")
    fields = serializers.DictField(  # type: ignore[assignment]  # the error shape's "fields" key
        help_text="Per-field messages for validation errors (nested like the request body).",
    )


class ErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]  # not generic at runtime
    error = ErrorDetailSerializer()


_ERROR_DESCRIPTIONS = {
    "400": "Invalid body or query parameters; `fields` names each problem.",
    "401": "Not authenticated (send `Authorization: Bearer <access token>`).",
    "403": "Authenticated, but your role does not allow this.",
    "404": "No such object (or, for a list, no such page).",
    "409": "Conflict with the current state (e.g. insufficient stock, protected object).",
    "429": "Too many requests (throttled); retry after the `Retry-After` header's seconds.",
}
WRITE_ACTIONS = {"create", "update", "partial_update"}


class ErrorAwareAutoSchema(AutoSchema):
    def _view_action(self) -> str | None:
        return getattr(self.view, "action", None)

    def get_response_serializers(self) -> Any:  # a serializer (class), or a dict of them
        output_class = getattr(self.view, "output_serializer_class", None)
        if output_class is not None and self._view_action() in WRITE_ACTIONS:
            return output_class
        return super().get_response_serializers()

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        codes = ["400", "401", "403"]
        if "{" in self.path or (self.method == "GET" and self._is_list_view()):
            codes.append("404")  # a list answers 404 for a page past the end ("Invalid page.")
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            codes.append("409")
        codes.append("429")  # throttling applies to every operation
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code]),
                    code,
                    direction=direction,
                )
        return responses
