from typing import Any

from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from customers.models import Customer


class CustomerOutputSerializer(serializers.ModelSerializer):
    # The model field's ChoiceField would hand back the Country object itself for a blank
    # country (Country("") == ""), which JSON cannot encode; this renders the code or "".
    country = CountryField(
        read_only=True, allow_blank=True, help_text="ISO 3166-1 alpha-2 code, e.g. FR."
    )

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "city",
            "country",
            "segment",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CustomerInputSerializer(serializers.ModelSerializer):
    country = CountryField(required=False, allow_blank=True)

    class Meta:
        model = Customer
        fields = ["name", "email", "phone", "city", "country", "segment"]
        validators: list[Any] = []  # uniqueness is checked by the service, with a field message
