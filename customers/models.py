from django.db import models
from django.db.models.functions import Lower, Upper
from django_countries.fields import CountryField


class CustomerSegment(models.TextChoices):
    CONSUMER = "consumer", "Consumer"
    CORPORATE = "corporate", "Corporate"
    SMALL_BUSINESS = "small_business", "Small business"
    PUBLIC_SECTOR = "public_sector", "Public sector"


class Customer(models.Model):
    Segment = CustomerSegment

    name = models.CharField(max_length=200)
    email = models.EmailField(max_length=254, help_text="Unique, whatever the letter case.")
    phone = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=100, blank=True)
    country = CountryField(blank=True, help_text="ISO 3166-1 alpha-2 code, e.g. FR.")
    segment = models.CharField(
        max_length=20, choices=CustomerSegment.choices, default=CustomerSegment.CONSUMER
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="customer_email_ci_unique",
                violation_error_message="A customer with this email already exists.",
            ),
            models.CheckConstraint(
                condition=models.Q(segment__in=CustomerSegment.values),
                name="customer_segment_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["country"], name="customer_country_idx"),
            models.Index(fields=["segment"], name="customer_segment_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
            # ?city= (iexact: UPPER(city) = UPPER('x')): a btree, which the planner prefers to
            # a Seq Scan for a city of a few thousand customers (a trigram GIN it did not).
            models.Index(Upper("city"), name="customer_city_upper_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
