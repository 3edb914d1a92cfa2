"""Base viewset: thin doors onto services (writes) and selectors (reads)."""

from rest_framework import status, viewsets
from rest_framework.response import Response

from core.api.schema import WRITE_ACTIONS


class ServiceModelViewSet(viewsets.ModelViewSet):
    """CRUD where writes go through services.

    Subclasses set ``input_serializer_class`` (validates request bodies),
    ``output_serializer_class`` (renders objects), and implement ``create_object``,
    ``update_object`` and ``delete_object`` by calling their app's services.
    """

    input_serializer_class = None
    output_serializer_class = None

    def get_serializer_class(self):
        if self.action in WRITE_ACTIONS or (
            self.action in {"list", "retrieve", None}
            and self.request is not None
            and self.request.method in ("POST", "PUT", "PATCH")
        ):  # the browsable API's forms ask during GET with a cloned POST/PUT request
            return self.input_serializer_class
        return self.output_serializer_class

    def render(self, instance, status_code=status.HTTP_200_OK):
        output = self.output_serializer_class(instance, context=self.get_serializer_context())
        return Response(output.data, status=status_code)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.create_object(serializer.validated_data)
        return self.render(self.refetch(instance), status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        instance = self.update_object(instance, serializer.validated_data)
        return self.render(self.refetch(instance))

    def perform_destroy(self, instance):
        self.delete_object(instance)

    def refetch(self, instance):
        """The object as the list and detail endpoints show it (joins included)."""
        return self.get_queryset().get(pk=instance.pk)

    def create_object(self, data):
        raise NotImplementedError

    def update_object(self, instance, data):
        raise NotImplementedError

    def delete_object(self, instance):
        raise NotImplementedError
