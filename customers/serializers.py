from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from customers.models import Customer


class CustomerOutputSerializer(serializers.ModelSerializer):
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
        validators = []  # uniqueness is checked by the service, with a field message
