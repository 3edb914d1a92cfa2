"""Base viewset: thin doors onto services (writes) and selectors (reads)."""

from typing import TYPE_CHECKING, Any

from django.db.models import Model
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import WRITE_ACTIONS

if TYPE_CHECKING:
    _ModelViewSet = viewsets.ModelViewSet[Any]
else:
    _ModelViewSet = viewsets.ModelViewSet  # DRF's classes are not generic at run time


class ServiceModelViewSet(_ModelViewSet):
    """CRUD where writes go through services.

    Subclasses set ``input_serializer_class`` (validates request bodies),
    ``output_serializer_class`` (renders objects), and implement ``create_object``,
    ``update_object`` and ``delete_object`` by calling their app's services.
    """

    input_serializer_class: type[serializers.BaseSerializer[Any]] | None = None
    output_serializer_class: type[serializers.BaseSerializer[Any]] | None = None

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        if self.action in WRITE_ACTIONS or (
            self.action in {"list", "retrieve", None}
            and self.request is not None
            and self.request.method in ("POST", "PUT", "PATCH")
        ):  # the browsable API's forms ask during GET with a cloned POST/PUT request
            assert self.input_serializer_class is not None, "set input_serializer_class"
            return self.input_serializer_class
        assert self.output_serializer_class is not None, "set output_serializer_class"
        return self.output_serializer_class

    def render(self, instance: Model, status_code: int = status.HTTP_200_OK) -> Response:
        assert self.output_serializer_class is not None, "set output_serializer_class"
        output = self.output_serializer_class(instance, context=self.get_serializer_context())
        return Response(output.data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_object(serializer.validated_data)
        return self.render(self.refetch(instance), status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.update_object(instance, serializer.validated_data)
        return self.render(self.refetch(instance))

    def perform_destroy(self, instance: Any) -> None:
        self.delete_object(instance)

    def refetch(self, instance: Model) -> Model:
        """The object as the list and detail endpoints show it (joins included)."""
        fresh: Model = self.get_queryset().get(pk=instance.pk)
        return fresh

    def create_object(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def update_object(self, instance: Any, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def delete_object(self, instance: Any) -> None:
        raise NotImplementedError
